import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOFoundationCompat
import SwitchboardAMQP
import SwitchboardCore
import SwitchboardHTTP
import SwitchboardStore

/// One route per provider scheme: find the session, check the signature against its
/// secret, publish the raw body with confirm, answer.
struct WebhookRoutes: Sendable {
    let configuration: WebhooksServer.Configuration
    let directory: SessionDirectory
    let publisher: AMQPConnection
    /// Where raw webhooks go: the topology's `inbound` exchange and its queue's key.
    let exchange: String
    let routingKey: String
    let logger: Logger

    func addRoutes(to router: Router<BasicRequestContext>) {
        router.post("webhooks/wasender/:session") { request, context in
            try await receiveSessionWebhook(request, context: context, provider: .wasender)
        }
        router.post("webhooks/simulator/:session") { request, context in
            try await receiveSessionWebhook(request, context: context, provider: .simulator)
        }
        router.get("webhooks/meta", use: verifyMetaSubscription)
        router.post("webhooks/meta", use: receiveMetaWebhook)
    }

    // MARK: WasenderAPI and the simulator: the session is in the URL

    private func receiveSessionWebhook(_ request: Request, context: BasicRequestContext, provider: ProviderKind)
        async throws(Problem) -> Response
    {
        let name = context.parameters.get("session") ?? ""
        guard let id = try? SessionID(name), let entry = await directory.entry(for: id),
              entry.session.provider == provider
        else { throw .notFound("session '\(name)'") }
        let body = try await collect(request.body)
        let headers = request.headers
        switch provider {
        case .wasender:
            guard WebhookSignature.wasender(header: headers[.webhookSignature], secret: entry.webhookSecret) else {
                throw .badSignature("X-Webhook-Signature does not match the session's webhook secret")
            }
        case .simulator:
            do {
                try WebhookSignature.standard(
                    id: headers[.webhookID], timestamp: headers[.webhookTimestamp],
                    signatures: headers[.standardWebhookSignature], body: body.readableBytesView,
                    secret: entry.webhookSecret, tolerance: configuration.signatureTolerance)
            } catch {
                throw .badSignature(error.description)
            }
        case .meta:
            throw .notFound("session '\(name)'")
        }
        return try await publish(body, provider: provider, route: entry.route, messageID: headers[.webhookID])
    }

    // MARK: Meta: one URL for the app, sessions found by phone_number_id

    @Sendable func verifyMetaSubscription(_ request: Request, context: BasicRequestContext) async throws(Problem)
        -> Response
    {
        let query = request.uri.queryParameters
        guard query.get("hub.mode") == "subscribe", let token = query.get("hub.verify_token"),
              let challenge = query.get("hub.challenge")
        else {
            throw Problem(.badRequest, kind: "bad-verification", title: "Not a subscription check",
                          detail: "hub.mode=subscribe, hub.verify_token and hub.challenge are required")
        }
        var accepted = configuration.metaVerifyToken.map { Self.equal($0, token) } ?? false
        if !accepted {
            await directory.reloadIfDue()
            accepted = directory.entries(of: .meta).contains { $0.verifyToken.map { Self.equal($0, token) } ?? false }
        }
        guard accepted else {
            throw Problem(.forbidden, kind: "bad-verify-token", title: "The verify token does not match",
                          detail: "hub.verify_token is not this gateway's")
        }
        return Response(status: .ok, headers: [.contentType: "text/plain"],
                        body: ResponseBody(byteBuffer: ByteBuffer(string: challenge)))
    }

    @Sendable func receiveMetaWebhook(_ request: Request, context: BasicRequestContext) async throws(Problem)
        -> Response
    {
        let body = try await collect(request.body)
        let signature = request.headers[.hubSignature256]
        guard signature != nil else { throw .badSignature("X-Hub-Signature-256 is missing") }
        let phoneNumberIDs = MetaRouting.phoneNumberIDs(in: body.readableBytesView)
        guard let first = phoneNumberIDs.first else {
            // Nothing routable: answer as Meta expects once the signature checks out with
            // some app secret (sorted, so the same body always finds the same session).
            let signer = directory.entries(of: .meta).sorted { $0.session.id.rawValue < $1.session.id.rawValue }
                .first { WebhookSignature.meta(header: signature, body: body.readableBytesView, appSecret: $0.webhookSecret) }
            guard let signer else { throw .badSignature("X-Hub-Signature-256 matches no Meta app secret") }
            // A notification without a messages change (an account or template update)
            // has nothing for the gateway. A body the parser refuses is no notification
            // at all: it is stored under the signing session like any other, so the
            // normalizer dead-letters it with its bytes instead of it vanishing here.
            let raw = RawWebhook(provider: .meta, session: signer.session.id, tenant: signer.session.tenant,
                                 receivedAt: Date(), body: Data(buffer: body))
            guard (try? WebhookParser.parse(raw, sessionNumber: nil, route: { _ in nil })) == nil else {
                logger.debug("meta webhook without a phone_number_id ignored")
                return Response(status: .ok)
            }
            return try await publish(body, provider: .meta, route: signer.route, messageID: nil)
        }
        guard let entry = await directory.entry(forPhoneNumberID: first) else {
            throw .notFound("a session with phone_number_id '\(first)'")
        }
        guard WebhookSignature.meta(header: signature, body: body.readableBytesView, appSecret: entry.webhookSecret)
        else { throw .badSignature("X-Hub-Signature-256 does not match the app secret") }
        return try await publish(body, provider: .meta, route: entry.route, messageID: nil)
    }

    // MARK: Shared steps

    private func collect(_ body: RequestBody) async throws(Problem) -> ByteBuffer {
        do {
            return try await body.collect(upTo: configuration.maximumBodySize)
        } catch is NIOTooManyBytesError {
            throw .bodyTooLarge(limit: configuration.maximumBodySize)
        } catch {
            throw .malformedBody("the body could not be read: \(error)")
        }
    }

    /// Publishes the raw body with its facts as headers and answers 200 once the broker
    /// confirmed it; 503 (the provider retries) when it cannot.
    private func publish(_ body: ByteBuffer, provider: ProviderKind, route: SessionRoute, messageID: String?)
        async throws(Problem) -> Response
    {
        var properties = AMQPMessageProperties.persistent(contentType: "application/json")
        properties.messageID = messageID
        let receivedAt = Date()
        properties.timestamp = receivedAt
        properties.headers = [
            InboundHeader.provider: .string(provider.rawValue),
            InboundHeader.tenant: .string(route.tenant.rawValue),
            InboundHeader.session: .string(route.session.rawValue),
            InboundHeader.receivedAt: .int64(Int64((receivedAt.timeIntervalSince1970 * 1000).rounded())),
        ]
        do {
            try await publisher.publish(Data(buffer: body, byteTransferStrategy: .noCopy),
                                        exchange: exchange, routingKey: routingKey,
                                        properties: properties)
        } catch {
            logger.warning("webhook not published", metadata: [
                LogKey.tenant: "\(route.tenant)", LogKey.session: "\(route.session)", LogKey.provider: "\(provider)",
                LogKey.error: "\(error)",
            ])
            throw .brokerUnavailable("the webhook was not stored: \(error.message); retry")
        }
        return Response(status: .ok)
    }

    private static func equal(_ a: String, _ b: String) -> Bool {
        WebhookSignature.wasender(header: a, secret: b)
    }
}

extension Problem {
    static func badSignature(_ detail: String) -> Problem {
        Problem(.unauthorized, kind: "bad-signature", title: "The webhook's signature does not check out",
                detail: detail)
    }
}

extension HTTPField.Name {
    static let webhookSignature = Self("X-Webhook-Signature")!
    static let hubSignature256 = Self("X-Hub-Signature-256")!
    static let webhookID = Self("webhook-id")!
    static let webhookTimestamp = Self("webhook-timestamp")!
    static let standardWebhookSignature = Self("webhook-signature")!
}

/// Finds the `metadata.phone_number_id`s of a Meta notification without decoding the
/// rest: the receiver needs the first to pick the app secret.
enum MetaRouting {
    private struct Notification: Decodable {
        struct Entry: Decodable { let changes: [Change]? }
        struct Change: Decodable { let value: Value? }
        struct Value: Decodable { let metadata: Metadata? }
        struct Metadata: Decodable { let phone_number_id: String? }
        let entry: [Entry]?
    }

    static func phoneNumberIDs(in body: some DataProtocol) -> [String] {
        guard let notification = try? JSONDecoder().decode(Notification.self, from: Data(body)) else { return [] }
        return (notification.entry ?? []).flatMap { $0.changes ?? [] }.compactMap { $0.value?.metadata?.phone_number_id }
    }
}
