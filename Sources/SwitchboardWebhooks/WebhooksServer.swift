public import Hummingbird
public import Logging
import NIOCore
public import SwitchboardAMQP
public import SwitchboardCore
import SwitchboardHTTP
public import SwitchboardStore
public import SwitchboardTelemetry

/// The `webhooks` service: receives providers' webhooks, checks each provider's
/// signature, and publishes the exact raw body to `sb.inbound` with confirm before it
/// answers 200, so an answered webhook is never lost and an unanswered one is retried
/// by its provider.
public enum WebhooksServer {
    /// Where the service listens and what it accepts.
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        /// Larger bodies are refused with 413 (1 MiB).
        public var maximumBodySize: Int
        /// The `hub.verify_token` Meta's subscription check must present (a session's
        /// `verify_token` credential is accepted too); nil accepts only those.
        public var metaVerifyToken: String?
        /// How far a Standard Webhooks `webhook-timestamp` may be from now.
        public var signatureTolerance: Duration

        public init(host: String = "127.0.0.1", port: Int = 8070, maximumBodySize: Int = 1 << 20, metaVerifyToken: String? = nil,
                    signatureTolerance: Duration = .seconds(300)) {
            self.host = host
            self.port = port
            self.maximumBodySize = maximumBodySize
            self.metaVerifyToken = metaVerifyToken
            self.signatureTolerance = signatureTolerance
        }
    }

    /// The routes: the three providers' webhooks, health and readiness.
    public static func router(_ configuration: Configuration, directory: SessionDirectory, publisher: AMQPConnection,
                              topology: Topology, telemetry: Telemetry, logger: Logger) -> Router<BasicRequestContext>
    {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: RequestMetricsMiddleware(service: "webhooks", metrics: telemetry.metrics))
        router.add(middleware: ProblemMiddleware())
        router.add(middleware: LogRequestsMiddleware(.debug))
        WebhookRoutes(configuration: configuration, directory: directory, publisher: publisher, providers: .standard,
                      exchange: topology.roles.inbound, routingKey: topology.inboundRoutingKey,
                      metrics: telemetry.metrics, tracer: telemetry.tracer, logger: logger)
            .addRoutes(to: router)
        MetricsRoute(telemetry: telemetry).addRoutes(to: router)
        router.get("healthz") { _, _ in JSONResponse(value: ["status": "ok"]) }
        router.get("readyz") { _, _ throws(Problem) in
            guard case .connected = publisher.status else {
                throw Problem(.serviceUnavailable, kind: "not-ready", title: "Not ready",
                              detail: "the broker connection is not up", headers: [.retryAfter: "2"])
            }
            return JSONResponse(value: ["status": "ready"])
        }
        return router
    }

    /// The service, ready to run in a `ServiceGroup`; run `directory.refresh(every:)`
    /// beside it. `onServerRunning` receives the bound port (useful with port 0).
    public static func application(
        _ configuration: Configuration, directory: SessionDirectory, publisher: AMQPConnection, topology: Topology,
        telemetry: Telemetry = .off(), logger: Logger, onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: router(configuration, directory: directory, publisher: publisher, topology: topology,
                           telemetry: telemetry, logger: logger),
            configuration: ApplicationConfiguration(
                address: .hostname(configuration.host, port: configuration.port), serverName: "switchboard-webhooks"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
            logger: logger)
    }
}
