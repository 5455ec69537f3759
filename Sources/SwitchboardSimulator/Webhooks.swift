import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import ServiceLifecycle
import SwitchboardCore
import Synchronization

/// What one webhook reports.
enum WebhookEvent: Sendable {
    /// A status of a message the session sent; `recipient` as the caller gave it.
    case status(messageID: String, recipient: String, recipientDigits: String, status: DeliveryStatus)
    /// A message a contact sent to the session.
    case inbound(messageID: String, fromDigits: String, text: String, name: String?)
    /// The session's own status changed (WasenderAPI's `session.status`).
    case sessionStatus(String)
}

struct WebhookStep: Sendable {
    /// Not before this instant.
    let at: ContinuousClock.Instant
    let event: WebhookEvent
}

/// The webhooks of one message, delivered one after the other so that its statuses
/// arrive in order (sent, delivered, read) even when their delays are equal.
struct WebhookJob: Sendable {
    /// The session as it was when the job was made (its URL, secret and flavor).
    let session: SimulatedSession
    let steps: [WebhookStep]
}

/// One webhook request as it goes on the wire: the exact body bytes and the headers
/// that sign them.
struct WebhookRequest: Sendable {
    let body: Data
    let headers: [(String, String)]
}

// MARK: Shapes and signatures

enum WebhookPayload {
    /// The body of `event` in `session`'s flavor and its signature headers. `webhookID`
    /// stays the same across retries (Standard Webhooks receivers deduplicate on it);
    /// the timestamp is the attempt's own, so a retry is not rejected as stale.
    static func request(for event: WebhookEvent, session: SimulatedSession, webhookID: String, now: Date = Date())
        -> WebhookRequest
    {
        let timestamp = Int(now.timeIntervalSince1970)
        let body: Data
        switch session.flavor {
        case .wasender, .simulator: body = wasenderBody(event, session: session, timestamp: timestamp)
        case .meta: body = metaBody(event, session: session, timestamp: timestamp)
        }
        var headers = [("Content-Type", "application/json")]
        if let secret = session.webhookSecret {
            switch session.flavor {
            case .wasender:
                headers.append(("X-Webhook-Signature", secret))
            case .meta:
                headers.append(("X-Hub-Signature-256", metaSignature(body: body, appSecret: secret)))
            case .simulator:
                headers.append(("webhook-id", webhookID))
                headers.append(("webhook-timestamp", String(timestamp)))
                headers.append(("webhook-signature", WebhookSignature.standardSignature(
                    id: webhookID, timestamp: timestamp, body: body, secret: secret)))
            }
        }
        return WebhookRequest(body: body, headers: headers)
    }

    /// `sha256=` and the lowercase hex HMAC-SHA256 of the raw body with the app secret.
    static func metaSignature(body: Data, appSecret: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data(appSecret.utf8)))
        return "sha256=" + mac.map { byte in
            let hex = String(byte, radix: 16)
            return hex.count == 1 ? "0" + hex : hex
        }.joined()
    }

    private static func encode(_ value: some Encodable) -> Data {
        // Only the simulator's own plain structs are encoded here: this cannot fail.
        (try? WireJSON.sharedEncoder.encode(value)) ?? Data("{}".utf8)
    }

    // MARK: WasenderAPI

    private struct WasenderEnvelope<Payload: Encodable>: Encodable {
        let event: String
        let timestamp: Int
        let sessionId: String
        let data: Payload
    }

    private struct WasenderKey: Encodable {
        let id: String
        let remoteJid: String
        let fromMe: Bool
        var senderPn: String?
        var cleanedSenderPn: String?
    }

    private struct WasenderUpdate: Encodable {
        struct Update: Encodable { let status: Int }
        let key: WasenderKey
        let update: Update
    }

    private struct WasenderReceived: Encodable {
        struct Messages: Encodable {
            struct Message: Encodable { let conversation: String }
            let key: WasenderKey
            let messageTimestamp: Int
            let pushName: String?
            let messageBody: String
            let message: Message
        }
        /// A single object in `messages.received` (an array only in `messages.upsert`).
        let messages: Messages
    }

    private static func wasenderBody(_ event: WebhookEvent, session: SimulatedSession, timestamp: Int) -> Data {
        switch event {
        case .status(let messageID, let recipient, _, let status):
            return encode(WasenderEnvelope(
                event: "messages.update", timestamp: timestamp, sessionId: session.id,
                data: WasenderUpdate(key: WasenderKey(id: messageID, remoteJid: recipient, fromMe: true),
                                     update: .init(status: status.wasenderCode))))
        case .inbound(let messageID, let digits, let text, let name):
            let jid = "\(digits)@s.whatsapp.net"
            return encode(WasenderEnvelope(
                event: "messages.received", timestamp: timestamp, sessionId: session.id,
                data: WasenderReceived(messages: .init(
                    key: WasenderKey(id: messageID, remoteJid: jid, fromMe: false, senderPn: jid,
                                     cleanedSenderPn: digits),
                    messageTimestamp: timestamp, pushName: name, messageBody: text,
                    message: .init(conversation: text)))))
        case .sessionStatus(let status):
            return encode(WasenderEnvelope(event: "session.status", timestamp: timestamp, sessionId: session.id,
                                           data: ["status": status]))
        }
    }

    // MARK: Meta Cloud API

    private struct MetaNotification: Encodable {
        struct Entry: Encodable {
            let id: String
            let changes: [Change]
        }
        struct Change: Encodable {
            let field: String
            let value: Value
        }
        struct Value: Encodable {
            struct Metadata: Encodable {
                let display_phone_number: String
                let phone_number_id: String
            }
            struct Contact: Encodable {
                struct Profile: Encodable { let name: String }
                let profile: Profile
                let wa_id: String
            }
            struct Message: Encodable {
                struct Text: Encodable { let body: String }
                let from: String
                let id: String
                let timestamp: String
                let type: String
                let text: Text
            }
            struct Status: Encodable {
                let id: String
                let status: String
                let timestamp: String
                let recipient_id: String
            }
            let messaging_product = "whatsapp"
            let metadata: Metadata
            var contacts: [Contact]?
            var messages: [Message]?
            var statuses: [Status]?
        }
        let object = "whatsapp_business_account"
        let entry: [Entry]
    }

    private static func metaBody(_ event: WebhookEvent, session: SimulatedSession, timestamp: Int) -> Data {
        let phoneNumberID = session.phoneNumberID ?? session.id
        let metadata = MetaNotification.Value.Metadata(
            display_phone_number: (session.phoneNumber ?? "").replacingOccurrences(of: "+", with: ""),
            phone_number_id: phoneNumberID)
        var value = MetaNotification.Value(metadata: metadata)
        switch event {
        case .status(let messageID, _, let digits, let status):
            value.statuses = [.init(id: messageID, status: status.rawValue, timestamp: String(timestamp),
                                    recipient_id: digits)]
        case .inbound(let messageID, let digits, let text, let name):
            value.contacts = [.init(profile: .init(name: name ?? digits), wa_id: digits)]
            value.messages = [.init(from: digits, id: messageID, timestamp: String(timestamp), type: "text",
                                    text: .init(body: text))]
        case .sessionStatus:
            break  // never sent for Meta sessions (`setStatus`)
        }
        return encode(MetaNotification(entry: [.init(
            id: session.businessAccountID ?? "WABA-\(phoneNumberID)",
            changes: [.init(field: "messages", value: value)])]))
    }
}

// MARK: The sender

/// Sends the webhooks the state hands over, each job after its delays, as a service of
/// the simulator's application. It owns the one HTTP client used for them; on graceful
/// shutdown (after the HTTP server has stopped) pending jobs are cancelled, then the
/// client is shut down, so nothing outlives `stop()`.
///
/// At most `concurrency` webhooks are on the wire at once (the client keeps as many
/// connections); the others wait their turn before their timeout starts, as a real
/// provider's sender queues, instead of timing out in the connection pool when a burst
/// of sends makes thousands due at once.
struct WebhookSender: Service {
    let state: SimulatorState
    let attempts: Int
    let backoff: Duration
    let timeout: Duration
    let logger: Logger
    var concurrency = 32

    func run() async throws {
        let client = HTTPClient(
            eventLoopGroup: HTTPClient.defaultEventLoopGroup,
            configuration: HTTPClient.Configuration(
                timeout: .init(connect: .seconds(2), read: .milliseconds(Int64(timeout.seconds * 1000))),
                connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: concurrency),
                decompression: .disabled))
        let turns = Turns(concurrency)
        let (jobs, continuation) = AsyncStream.makeStream(of: WebhookJob.self)
        let sinkID = state.attach(continuation)
        // Cancellation (graceful shutdown) ends the loop and every job in the group:
        // their sleeps and requests throw, and the group returns.
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                for await job in jobs {
                    group.addTask { await self.deliver(job, client: client, turns: turns) }
                }
            }
        }
        state.detach(sinkID)
        continuation.finish()
        try await client.shutdown()
    }

    private func deliver(_ job: WebhookJob, client: HTTPClient, turns: Turns) async {
        guard let url = job.session.webhookURL else { return }
        for step in job.steps {
            do {
                try await Task.sleep(until: step.at, clock: .continuous)
            } catch {
                return
            }
            guard await turns.take() else { return }
            let delivered = await send(step.event, session: job.session, url: url, client: client)
            turns.give()
            if Task.isCancelled { return }
            state.recordWebhook(session: job.session.id, delivered: delivered)
        }
    }

    /// One webhook with its retries; true once the receiver answered 2xx.
    private func send(_ event: WebhookEvent, session: SimulatedSession, url: String, client: HTTPClient) async
        -> Bool
    {
        let webhookID = "msg_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        var delay = backoff
        for attempt in 1...max(1, attempts) {
            let payload = WebhookPayload.request(for: event, session: session, webhookID: webhookID)
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            for (name, value) in payload.headers { request.headers.add(name: name, value: value) }
            request.body = .bytes(ByteBuffer(data: payload.body))
            var failure: String
            do {
                let response = try await client.execute(
                    request, timeout: .milliseconds(Int64(timeout.seconds * 1000)), logger: logger)
                // Read the answer through so the connection can be reused.
                for try await _ in response.body {}
                if (200..<300).contains(response.status.code) { return true }
                failure = "HTTP \(response.status.code)"
            } catch {
                failure = "\(error)"
            }
            if Task.isCancelled { return false }
            logger.debug("webhook attempt failed", metadata: [
                LogKey.session: "\(session.id)", LogKey.url: "\(url)", LogKey.attempt: "\(attempt)", LogKey.error: "\(failure)",
            ])
            guard attempt < attempts else { break }
            do { try await Task.sleep(for: delay) } catch { return false }
            delay *= 2
        }
        logger.warning("webhook given up", metadata: [LogKey.session: "\(session.id)", LogKey.url: "\(url)"])
        return false
    }
}
