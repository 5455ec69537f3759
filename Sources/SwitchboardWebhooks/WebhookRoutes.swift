import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOFoundationCompat
import SwitchboardAMQP
import SwitchboardBroker
import SwitchboardCore
import SwitchboardHTTP
import SwitchboardProviders
import SwitchboardStore
import SwitchboardTelemetry
import Tracing

/// One route per registered provider, shaped by its `WebhookRouting`: find the session,
/// check the signature against its secret (the provider's own check), publish the raw
/// body with confirm, answer.
struct WebhookRoutes: Sendable {
    let configuration: WebhooksServer.Configuration
    let directory: SessionDirectory
    let publisher: AMQPConnection
    let providers: ProviderRegistry
    /// Where raw webhooks go: the topology's `inbound` exchange and its queue's key.
    let exchange: String
    let routingKey: String
    let metrics: GatewayMetrics
    /// A webhook starts its own trace (providers send no context); it travels with the
    /// raw body to the normalizer. Nil when tracing is off.
    let tracer: (any Tracer)?
    let logger: Logger

    func addRoutes(to router: Router<BasicRequestContext>) {
        for provider in providers.providers {
            switch provider.webhookRouting {
            case .sessionInPath:
                router.post("webhooks/\(provider.kind.rawValue)/:session") { request, context in
                    try await counted(provider.kind) { () async throws(Problem) -> Response in
                        try await receiveSessionWebhook(request, context: context, provider: provider)
                    }
                }
            case .appWide(let routingKeys):
                router.get("webhooks/\(provider.kind.rawValue)") { request, context in
                    try await verifySubscription(request, provider: provider)
                }
                router.post("webhooks/\(provider.kind.rawValue)") { request, context in
                    try await counted(provider.kind) { () async throws(Problem) -> Response in
                        try await receiveAppWebhook(request, provider: provider, routingKeys: routingKeys)
                    }
                }
            }
        }
    }

    /// Receives a webhook in a span of its own (a new trace), counts it by provider and
    /// the status it was answered with, and times a 200 from receipt to answer (the
    /// broker's confirm included: what the provider waits for).
    private func counted(_ provider: ProviderKind, _ receive: () async throws(Problem) -> Response)
        async throws(Problem) -> Response
    {
        let received = ContinuousClock.now
        do {
            let response = try await Traces.span("receive webhook", tracer: tracer, context: .topLevel, kind: .server,
                                                 attributes: ["switchboard.provider": provider.rawValue], receive)
            metrics.webhooks(provider.rawValue, String(response.status.code)).increment()
            if response.status == .ok { metrics.webhookConfirm(provider.rawValue).recordSince(received) }
            return response
        } catch {
            metrics.webhooks(provider.rawValue, String(error.status.code)).increment()
            throw error
        }
    }

    // MARK: The session is in the URL (WasenderAPI, the simulator)

    private func receiveSessionWebhook(_ request: Request, context: BasicRequestContext, provider: any Provider)
        async throws(Problem) -> Response
    {
        let name = context.parameters.get("session") ?? ""
        guard let id = try? SessionID(name), let entry = await directory.entry(for: id),
              entry.session.provider == provider.kind
        else { throw .notFound("session '\(name)'") }
        let webhook = try await incoming(request)
        do {
            try provider.verifyWebhook(webhook, secret: entry.webhookSecret, tolerance: configuration.signatureTolerance)
        } catch {
            throw .badSignature("\(provider.kind)'s signature does not match the session's webhook secret: \(error)")
        }
        return try await publish(webhook.body, provider: provider.kind, route: entry.route,
                                 messageID: webhook.header("webhook-id"))
    }

    // MARK: One URL per app, sessions found by a key in the body (Meta's phone_number_id)

    /// The subscription check (`hub.mode=subscribe`, `hub.verify_token`, `hub.challenge`):
    /// the token is this gateway's, or a session's `verify_token` credential.
    private func verifySubscription(_ request: Request, provider: any Provider) async throws(Problem) -> Response {
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
            accepted = directory.entries(of: provider.kind).contains { $0.verifyToken.map { Self.equal($0, token) } ?? false }
        }
        guard accepted else {
            throw Problem(.forbidden, kind: "bad-verify-token", title: "The verify token does not match",
                          detail: "hub.verify_token is not this gateway's")
        }
        return Response(status: .ok, headers: [.contentType: "text/plain"],
                        body: ResponseBody(byteBuffer: ByteBuffer(string: challenge)))
    }

    private func receiveAppWebhook(_ request: Request, provider: any Provider,
                                   routingKeys: @Sendable (Data) -> [String]) async throws(Problem) -> Response {
        let webhook = try await incoming(request)
        func signed(by entry: SessionDirectory.Entry) -> Bool {
            (try? provider.verifyWebhook(webhook, secret: entry.webhookSecret,
                                         tolerance: configuration.signatureTolerance)) != nil
        }
        guard let first = routingKeys(webhook.body).first else {
            // Nothing routable: answer as the provider expects once the signature checks
            // out with some app secret (sorted, so the same body always finds the same session).
            let signer = directory.entries(of: provider.kind).sorted { $0.session.id.rawValue < $1.session.id.rawValue }
                .first(where: signed)
            guard let signer else { throw .badSignature("the signature matches no \(provider.kind) app secret") }
            // A notification without a messages change (an account or template update)
            // has nothing for the gateway. A body the parser refuses is no notification
            // at all: it is stored under the signing session like any other, so the
            // normalizer dead-letters it with its bytes instead of it vanishing here.
            let raw = RawWebhook(provider: provider.kind, session: signer.session.id, tenant: signer.session.tenant,
                                 receivedAt: Date(), body: webhook.body)
            guard (try? provider.parseWebhook(raw, sessionNumber: nil, route: { _ in nil })) == nil else {
                logger.debug("app webhook without a routing key ignored", metadata: [LogKey.provider: "\(provider.kind)"])
                return Response(status: .ok)
            }
            return try await publish(webhook.body, provider: provider.kind, route: signer.route, messageID: nil)
        }
        guard let entry = await directory.entry(forPhoneNumberID: first), entry.session.provider == provider.kind else {
            throw .notFound("a session with phone_number_id '\(first)'")
        }
        guard signed(by: entry) else { throw .badSignature("the signature does not match the app secret") }
        return try await publish(webhook.body, provider: provider.kind, route: entry.route, messageID: nil)
    }

    // MARK: Shared steps

    /// The request's body (up to the limit) and headers, as a provider checks them.
    private func incoming(_ request: Request) async throws(Problem) -> IncomingWebhook {
        let headers = request.headers
        let body = try await collect(request.body)
        return IncomingWebhook(body: Data(buffer: body, byteTransferStrategy: .noCopy)) { name in
            HTTPField.Name(name).flatMap { headers[$0] }
        }
    }

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
    private func publish(_ body: Data, provider: ProviderKind, route: SessionRoute, messageID: String?)
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
        properties.injectTraceContext(tracer)
        do {
            try await publisher.publish(body, exchange: exchange, routingKey: routingKey,
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
