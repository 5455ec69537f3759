public import AsyncHTTPClient
public import Hummingbird
public import Logging
import NIOCore
public import SwitchboardAMQP
import SwitchboardBroker
import SwitchboardCore
import SwitchboardDeadLetters
import SwitchboardHTTP
public import SwitchboardProviders
public import SwitchboardRegistry
public import SwitchboardStore
public import SwitchboardTelemetry

/// The `api` service: the REST API for publishers and admins (tenants, sessions, keys,
/// sending and message status), as a Hummingbird application on the shared stores and
/// one publishing AMQP connection.
public enum APIServer {
    /// The largest body of any route but the batch: 1 MiB.
    public static let maximumBodySize = 1 << 20
    /// The largest batch body: 8 MiB (1,000 messages of up to 4,096 characters fit).
    public static let maximumBatchBodySize = 8 << 20
    public static let maximumBatchSize = 1000
    /// Items of one batch published at the same time.
    static let batchConcurrency = 64

    /// Where the service listens and how it publishes.
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        /// How long a claim may stay `accepting` before a retry of the same request may
        /// take it over (longer than any publish takes).
        public var staleClaimAfter: Duration
        /// How long an authenticated key and a tenant's sessions are remembered. Changes
        /// made through this instance apply at once; through another, after this long.
        /// Zero turns the caches off.
        public var cacheTimeToLive: Duration

        public init(host: String = "127.0.0.1", port: Int = 8080,
                    staleClaimAfter: Duration = .seconds(60), cacheTimeToLive: Duration = .seconds(2)) {
            self.host = host
            self.port = port
            self.staleClaimAfter = staleClaimAfter
            self.cacheTimeToLive = cacheTimeToLive
        }
    }

    /// What the routes work on: the store (behind its protocols), the registry (store and
    /// broker in step) and the publishing connection.
    public struct Dependencies: Sendable {
        public var tenants: TenantRegistry
        public var sessions: any SessionStore
        public var keys: any APIKeyStore
        public var messages: any MessageStore
        public var messageLog: any MessageLogStore
        public var inbox: any InboxStore
        public var contacts: any ContactStore
        public var bot: any BotStore
        public var deadLetters: any DeadLetterStore
        public var health: any ServiceInstanceStore
        /// The providers' session calls (QR code, connect, disconnect).
        public var providers: ProviderDirectory
        public var store: any GatewayStore
        public var publisher: AMQPConnection
        /// Where the api's metrics go, and what `/metrics` shows.
        public var telemetry: Telemetry

        /// `providers` defaults to the adapters on AsyncHTTPClient's shared client.
        public init(store: any GatewayStore, registry: TenantRegistry, publisher: AMQPConnection,
                    providers: ProviderDirectory = ProviderDirectory(http: .shared), telemetry: Telemetry = .off()) {
            self.telemetry = telemetry
            self.tenants = registry
            self.sessions = store
            self.keys = store
            self.messages = store
            self.messageLog = store
            self.inbox = store
            self.contacts = store
            self.bot = store
            self.deadLetters = store
            self.health = store
            self.providers = providers
            self.store = store
            self.publisher = publisher
        }
    }

    /// Every route of the API, with problem details for every error and key
    /// authentication on `/v1`.
    public static func router(_ configuration: Configuration, _ dependencies: Dependencies, logger: Logger)
        -> Router<APIRequestContext>
    {
        let router = Router(context: APIRequestContext.self)
        router.add(middleware: RequestMetricsMiddleware(service: "api", metrics: dependencies.telemetry.metrics))
        router.add(middleware: ProblemMiddleware())
        router.add(middleware: LogRequestsMiddleware(.debug))
        HealthRoutes(publisher: dependencies.publisher, store: dependencies.store).addRoutes(to: router)
        MetricsRoute(telemetry: dependencies.telemetry).addRoutes(to: router)
        OpenAPIDocument.bundled.addRoutes(to: router)

        let caches = APICaches(timeToLive: configuration.cacheTimeToLive)
        let roles = dependencies.tenants.broker.topology.roles
        let control = ControlAnnouncer(publisher: dependencies.publisher, exchange: roles.control, logger: logger)
        let v1 = router.group("v1").add(middleware: APIKeyAuthenticator(keys: dependencies.keys, cache: caches.keys))
        TenantRoutes(registry: dependencies.tenants, caches: caches, control: control).addRoutes(to: v1)
        SessionRoutes(tenants: dependencies.tenants.store, sessions: dependencies.sessions, caches: caches,
                      control: control).addRoutes(to: v1)
        APIKeyRoutes(tenants: dependencies.tenants.store, keys: dependencies.keys, caches: caches).addRoutes(to: v1)
        let intake = MessageIntake(
            sessions: dependencies.sessions, messages: dependencies.messages, publisher: dependencies.publisher,
            exchange: roles.outbound, staleClaimAfter: configuration.staleClaimAfter,
            caches: caches, metrics: dependencies.telemetry.metrics, tracer: dependencies.telemetry.tracer,
            logger: logger)
        MessageRoutes(intake: intake).addRoutes(to: v1)
        ContactRoutes(log: dependencies.messageLog, contacts: dependencies.contacts, control: control).addRoutes(to: v1)
        ConversationRoutes(inbox: dependencies.inbox, contacts: dependencies.contacts, log: dependencies.messageLog,
                           intake: intake, control: control).addRoutes(to: v1)
        BotRoutes(bot: dependencies.bot).addRoutes(to: v1)
        GatewayHealthRoutes(store: dependencies.health).addRoutes(to: v1)
        SessionConnectionRoutes(sessions: dependencies.sessions, providers: dependencies.providers).addRoutes(to: v1)
        DeadLetterRoutes(store: dependencies.deadLetters, sessions: dependencies.sessions,
                         replayer: DeadLetterReplayer(publisher: dependencies.publisher, roles: roles)).addRoutes(to: v1)
        return router
    }

    /// The service, ready to run in a `ServiceGroup` (or with `runService()`).
    /// `onServerRunning` receives the bound port (useful with port 0).
    public static func application(
        _ configuration: Configuration, _ dependencies: Dependencies, logger: Logger,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: router(configuration, dependencies, logger: logger),
            configuration: ApplicationConfiguration(
                address: .hostname(configuration.host, port: configuration.port), serverName: "switchboard-api"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
            logger: logger)
    }
}
