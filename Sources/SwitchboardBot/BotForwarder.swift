import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import SwitchboardCore
import SwitchboardConsumers
import SwitchboardStore
import Synchronization

/// POSTs contacts' messages to their tenants' bot URLs from the store's forward queue:
/// signed the Standard Webhooks way (`webhook-id` is the event id, so the tenant can
/// drop repeats), bounded by the tenant's timeout, a few at a time per tenant, retried
/// with growing waits, given up after the last. A `reply` (or `text`) in a 2xx JSON
/// answer is sent to the contact, within the contact's reply limit.
struct BotForwarder: Sendable {
    let configuration: Bot.Configuration
    let store: any BotStore & EventReceiptStore & SessionStore
    let outbox: Outbox
    let httpClient: HTTPClient
    let logger: Logger

    /// The largest answer read from a tenant's bot.
    static let maximumAnswerSize = 64 * 1024

    /// What a tenant's bot may answer.
    struct Answer: Decodable {
        var reply: String?
        var text: String?
    }

    enum ForwardError: Error, CustomStringConvertible {
        case status(UInt)
        case noURL
        case unreadable(String)

        var description: String {
            switch self {
            case .status(let code): "the bot answered HTTP \(code)"
            case .noURL: "the tenant has no bot URL any more"
            case .unreadable(let why): "the bot's answer is not usable: \(why)"
            }
        }
    }

    func run() async {
        let inFlight = InFlightForwards()
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                let busy = inFlight.counts
                let free = configuration.forwardConcurrency - busy.values.reduce(0, +)
                var claimed: [BotForward] = []
                if free > 0 {
                    do {
                        claimed = try await store.claimForwards(
                            at: Date(), limit: free, lease: .seconds(60), skipping: busy,
                            perTenant: configuration.forwardsPerTenant)
                    } catch {
                        logger.error("cannot read the forward queue", metadata: [LogKey.error: "\(error)"])
                    }
                }
                for job in claimed {
                    inFlight.add(job.tenant, 1)
                    group.addTask {
                        await self.forward(job)
                        inFlight.add(job.tenant, -1)
                    }
                }
                if claimed.isEmpty {
                    guard (try? await Task.sleep(for: configuration.forwardPollInterval)) != nil else { break }
                }
            }
        }
    }

    private func forward(_ job: BotForward) async {
        var metadata: Logger.Metadata = [LogKey.tenant: "\(job.tenant)", LogKey.eventID: "\(job.eventID)",
                                         LogKey.attempt: "\(job.attempts)"]
        do {
            let settings = try await store.botSettings(of: job.tenant)
            guard let url = settings.forwardURL else { throw ForwardError.noURL }
            let event = try WireJSON.sharedDecoder.decode(NormalizedEvent.self, from: job.payload)
            let started = ContinuousClock.now
            let answer = try await post(job.payload, id: job.eventID, to: url, secret: settings.forwardSecret,
                                        timeout: settings.forwardTimeoutSeconds)
            metadata[LogKey.elapsedMilliseconds] = "\((ContinuousClock.now - started).seconds * 1000)"
            if let text = answer.reply ?? answer.text, !text.isEmpty,
               let contact = event.message?.from.flatMap({ try? PhoneNumber($0) }) {
                if try await store.admitForwardReply(tenant: job.tenant, contact: contact, limit: settings.replyLimit,
                                                     window: Double(settings.replyWindowSeconds), at: Date()) {
                    let envelope = Bot.replyEnvelope(String(text.prefix(4096)), reason: "forward", to: contact,
                                                     event: event)
                    try await outbox.publish([try .outbound(envelope)], replay: job.attempts > 1)
                    metadata[LogKey.reply] = "sent"
                } else {
                    metadata[LogKey.reply] = "limited"
                }
            }
            try await store.finishForward(tenant: job.tenant, eventID: job.eventID)
            logger.info("forwarded to the tenant's bot", metadata: metadata)
        } catch {
            metadata[LogKey.error] = "\(error)"
            let delays = configuration.forwardRetryDelays
            if case ForwardError.noURL = error {} else if job.attempts <= delays.count {
                let wait = delays[job.attempts - 1]
                try? await store.postponeForward(tenant: job.tenant, eventID: job.eventID,
                                                 until: Date().addingTimeInterval(wait.seconds))
                logger.warning("forward failed; retrying", metadata: metadata.merging([LogKey.retryInSeconds: "\(wait.seconds)"]) { $1 })
                return
            }
            try? await store.finishForward(tenant: job.tenant, eventID: job.eventID)
            logger.error("forward given up", metadata: metadata)
        }
    }

    private func post(_ body: Data, id: String, to url: String, secret: String?, timeout: Double) async throws -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "switchboard-bot")
        let timestamp = Int(Date().timeIntervalSince1970)
        request.headers.add(name: "webhook-id", value: id)
        request.headers.add(name: "webhook-timestamp", value: String(timestamp))
        if let secret {
            request.headers.add(name: "webhook-signature", value: WebhookSignature.standardSignature(
                id: id, timestamp: timestamp, body: body, secret: secret))
        }
        request.body = .bytes(ByteBuffer(data: body))
        let response = try await httpClient.execute(request, timeout: .milliseconds(Int64(timeout * 1000)))
        let answer = try await response.body.collect(upTo: Self.maximumAnswerSize)
        guard (200..<300).contains(response.status.code) else { throw ForwardError.status(response.status.code) }
        guard answer.readableBytes > 0 else { return Answer() }
        do { return try JSONDecoder().decode(Answer.self, from: answer) } catch {
            // A 2xx without a JSON body is fine: the bot took it and has nothing to say.
            if response.headers.first(name: "Content-Type")?.contains("json") == true {
                throw ForwardError.unreadable("\(error)")
            }
            return Answer()
        }
    }
}

/// Forwards in flight per tenant, for the per-tenant cap.
private final class InFlightForwards: Sendable {
    private let state = Mutex<[TenantID: Int]>([:])

    var counts: [TenantID: Int] { state.withLock { $0 } }

    func add(_ tenant: TenantID, _ delta: Int) {
        state.withLock { counts in
            let value = counts[tenant, default: 0] + delta
            counts[tenant] = value > 0 ? value : nil
        }
    }
}
