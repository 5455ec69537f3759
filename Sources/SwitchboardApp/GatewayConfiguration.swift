public import SwitchboardAMQP
public import SwitchboardAPI
public import SwitchboardBot
public import SwitchboardBroker
public import SwitchboardCore
public import SwitchboardDeadLetters
public import SwitchboardDispatcher
public import SwitchboardMessageLog
public import SwitchboardMonitor
public import SwitchboardNormalizer
public import SwitchboardInbox
public import SwitchboardSimulator
public import SwitchboardStore
public import SwitchboardTelemetry
public import SwitchboardWebhooks

/// The services one `switchboard` process can run.
public enum GatewayService: String, Sendable, Hashable, CaseIterable, Comparable {
    case api, dispatcher, webhooks, normalizer, logger, inbox, bot
    case deadLetters = "dead-letters"
    case monitor
    /// The provider stand-in: not a gateway service, but `serve all simulator` runs it
    /// beside the gateway for development.
    case simulator

    /// Every gateway service (what `serve all` runs); the simulator is not one.
    public static let gateway: Set<GatewayService> = [.api, .dispatcher, .webhooks, .normalizer, .logger, .inbox, .bot,
                                                      .deadLetters, .monitor]

    /// Services that consume from the broker or publish to it.
    var needsBroker: Bool { self != .simulator }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Everything `Gateway.build` needs, resolved: no environment is read past this point,
/// so the CLI, the tests and the benchmarks assemble the same process from their own
/// settings.
public struct GatewayConfiguration: Sendable {
    /// Where the store lives (a SQLite file, or a PostgreSQL server) and what seals its secrets.
    public struct Database: Sendable {
        public var location: StoreLocation
        public var secretBox: SecretBox

        public init(location: StoreLocation, secretBox: SecretBox) {
            self.location = location
            self.secretBox = secretBox
        }

        /// A SQLite file.
        public init(path: String, secretBox: SecretBox) {
            self.init(location: .sqlite(path: path), secretBox: secretBox)
        }
    }

    public var services: Set<GatewayService>
    /// The broker; each service gets a connection of its own, named after it.
    public var amqp: AMQPConfiguration
    public var topology: Topology
    public var management: RabbitMQManagement
    /// Apply the topology before the services start (it is idempotent).
    public var applyTopology: Bool
    /// How long to keep trying to reach the broker at start.
    public var connectTimeout: Duration
    public var database: Database
    public var api: APIServer.Configuration
    public var webhooks: WebhooksServer.Configuration
    public var simulator: SimulatorServer.Configuration
    /// The base URL sessions of provider `simulator` send to.
    public var simulatorBaseURL: String
    /// The webhooks service's base URL, where the in-process simulator's sessions send.
    public var webhooksURL: String
    public var dispatcher: Dispatcher.Configuration
    public var normalizer: Normalizer.Configuration
    public var messageLog: MessageLogWriter.Configuration
    public var inbox: Inbox.Configuration
    public var bot: Bot.Configuration
    public var deadLetters: DeadLetterArchivist.Configuration
    public var monitor: SessionMonitor.Configuration
    /// How often the shared session directory is read again in full.
    public var sessionRefreshInterval: Duration
    /// How soon a Meta `phone_number_id` lookup that missed may read every session again
    /// (zero: every miss does; a session id that misses is read alone, always).
    public var sessionMissReloadInterval: Duration
    /// The bound on a graceful shutdown: past it the services still running are
    /// cancelled (deliveries not acknowledged return to their queues).
    public var maximumGracefulShutdownDuration: Duration
    /// Connections the api provisions new tenants over besides its control connection, so
    /// concurrent creations do not wait for each other's declarations.
    public var provisioningConnections: Int
    /// How often the process says on `sb.control` that it is alive (the health view).
    public var heartbeatInterval: Duration = .seconds(15)
    /// Where the process's metrics go (`/metrics` on the api and webhooks listeners and
    /// on `metricsListener`); `.off()` keeps none.
    public var telemetry: Telemetry = .prometheus()
    /// A listener serving only `/metrics`, for a process with no api or webhooks
    /// listener (`SWITCHBOARD_METRICS_LISTEN`); nil for none.
    public var metricsListener: (host: String, port: Int)?
    /// How often the monitor's process reads every queue's depth for the broker-view
    /// gauges; zero for never.
    public var brokerMetricsInterval: Duration = .seconds(15)

    public init(services: Set<GatewayService>, amqp: AMQPConfiguration, topology: Topology,
                management: RabbitMQManagement, database: Database, applyTopology: Bool = true,
                connectTimeout: Duration = .seconds(60),
                api: APIServer.Configuration = .init(), webhooks: WebhooksServer.Configuration = .init(),
                simulator: SimulatorServer.Configuration = .init(),
                simulatorBaseURL: String = Settings.Default.simulatorURL,
                webhooksURL: String = Settings.Default.webhooksURL,
                dispatcher: Dispatcher.Configuration = .init(), normalizer: Normalizer.Configuration = .init(),
                messageLog: MessageLogWriter.Configuration = .init(), inbox: Inbox.Configuration = .init(),
                bot: Bot.Configuration = .init(), deadLetters: DeadLetterArchivist.Configuration = .init(),
                monitor: SessionMonitor.Configuration = .init(),
                sessionRefreshInterval: Duration = .seconds(30),
                sessionMissReloadInterval: Duration = .seconds(1),
                maximumGracefulShutdownDuration: Duration = .seconds(10), provisioningConnections: Int = 3) {
        self.services = services
        self.amqp = amqp
        self.topology = topology
        self.management = management
        self.database = database
        self.applyTopology = applyTopology
        self.connectTimeout = connectTimeout
        self.api = api
        self.webhooks = webhooks
        self.simulator = simulator
        self.simulatorBaseURL = simulatorBaseURL
        self.webhooksURL = webhooksURL
        self.dispatcher = dispatcher
        self.normalizer = normalizer
        self.messageLog = messageLog
        self.inbox = inbox
        self.bot = bot
        self.deadLetters = deadLetters
        self.monitor = monitor
        self.sessionRefreshInterval = sessionRefreshInterval
        self.sessionMissReloadInterval = sessionMissReloadInterval
        self.maximumGracefulShutdownDuration = maximumGracefulShutdownDuration
        self.provisioningConnections = provisioningConnections
    }
}
