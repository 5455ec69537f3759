import AsyncHTTPClient
public import Logging
public import ServiceLifecycle
import SwitchboardAMQP
import SwitchboardAPI
import SwitchboardBot
import SwitchboardBroker
import SwitchboardCore
import SwitchboardDeadLetters
import SwitchboardDispatcher
import SwitchboardMessageLog
import SwitchboardMonitor
import SwitchboardNormalizer
import SwitchboardInbox
import SwitchboardProviders
import SwitchboardRegistry
public import SwitchboardSimulator
public import SwitchboardStore
import SwitchboardWebhooks
public import UnixSignals
import SwitchboardHTTP
public import SwitchboardTelemetry

/// The composition root: one Switchboard process, assembled from a configuration into
/// one `ServiceGroup`. The CLI (`switchboard serve`), the integration tests and the
/// benchmarks all build their processes here, so what is tested is what ships.
///
/// The group's order is its shutdown order reversed: broker connections and the HTTP
/// client first (they stop last), then the shared session directory, then the services.
/// On SIGTERM every service stops taking work at once, work in flight settles, and the
/// connections close; `maximumGracefulShutdownDuration` bounds the whole of it.
public final class Gateway: Sendable {
    /// The listeners a process may have, to ask for the port one bound.
    public enum Listener: Sendable, Hashable {
        case api, webhooks, simulator
        /// The metrics-only listener (`GatewayConfiguration.metricsListener`).
        case metrics
    }

    /// The services this process runs.
    public let services: Set<GatewayService>
    public let serviceGroup: ServiceGroup
    /// The store every service of the process shares.
    public let store: any GatewayStore
    /// The in-process simulator's sessions and record, when it is one of the services.
    public let simulator: SimulatorState?
    /// The process's metrics (what its `/metrics` shows).
    public let telemetry: Telemetry
    private let hasMetricsListener: Bool
    private let listeners: ListeningPorts
    private let dispatcher: Dispatcher?

    fileprivate init(services: Set<GatewayService>, serviceGroup: ServiceGroup, store: any GatewayStore,
                     simulator: SimulatorState?, telemetry: Telemetry, hasMetricsListener: Bool,
                     listeners: ListeningPorts, dispatcher: Dispatcher?) {
        self.services = services
        self.telemetry = telemetry
        self.hasMetricsListener = hasMetricsListener
        self.serviceGroup = serviceGroup
        self.store = store
        self.simulator = simulator
        self.listeners = listeners
        self.dispatcher = dispatcher
    }

    /// The dispatcher's tenant consumers on each of its lane connections (empty without a
    /// dispatcher): what a benchmark or an operator reads to see how consumers spread.
    public var dispatcherLaneLoad: [Int] { dispatcher?.laneLoad ?? [] }

    /// Runs every service until a graceful shutdown (a signal in `gracefulShutdownSignals`
    /// of `build`, or `triggerGracefulShutdown()`) has ended them all.
    public func run() async throws {
        defer { listeners.closeAll() }
        do {
            try await serviceGroup.run()
        } catch {
            await store.close()
            throw error
        }
        await store.close()
    }

    public func triggerGracefulShutdown() async {
        await serviceGroup.triggerGracefulShutdown()
    }

    /// The port `listener` bound (useful with port 0), once it listens; throws when the
    /// process ended first or does not run that listener.
    public func port(of listener: Listener) async throws(GatewayError) -> Int {
        let service: GatewayService? = switch listener {
        case .api: .api
        case .webhooks: .webhooks
        case .simulator: .simulator
        case .metrics: nil
        }
        if let service, !services.contains(service) {
            throw GatewayError(description: "this process does not run the \(service.rawValue) listener")
        }
        if service == nil, !hasMetricsListener {
            throw GatewayError(description: "this process has no metrics listener")
        }
        return try await listeners.port(of: listener)
    }

    /// Builds the process: opens the store, connects to the broker (one connection per
    /// service, each retried for `connectTimeout`), applies the topology unless told not
    /// to, and assembles the selected services. Nothing runs until `run()`.
    public static func build(_ configuration: GatewayConfiguration, logger: Logger,
                             gracefulShutdownSignals: [UnixSignal] = []) async throws -> Gateway {
        var assembly = Assembly(configuration: configuration, logger: logger)
        do {
            return try await assembly.build(gracefulShutdownSignals: gracefulShutdownSignals)
        } catch {
            await assembly.closeConnections()
            throw error
        }
    }
}

/// Why a gateway could not answer.
public struct GatewayError: Error, CustomStringConvertible {
    public let description: String
}

/// The state of one `Gateway.build`: what has been opened so far, so a failure part-way
/// closes it again.
private struct Assembly {
    let configuration: GatewayConfiguration
    let logger: Logger
    private(set) var connections: [AMQPConnection] = []
    private var infrastructure: [ServiceGroupConfiguration.ServiceConfiguration] = []
    private var running: [ServiceGroupConfiguration.ServiceConfiguration] = []
    private var httpClient: HTTPClient?
    private var sessionDirectory: SessionDirectory?
    private(set) var dispatcher: Dispatcher?
    private let listeners = ListeningPorts()

    init(configuration: GatewayConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    private var metrics: GatewayMetrics { configuration.telemetry.metrics }

    private func logger(_ service: String) -> Logger {
        var logger = logger
        logger[metadataKey: LogKey.service] = "\(service)"
        return logger
    }

    mutating func build(gracefulShutdownSignals: [UnixSignal]) async throws -> Gateway {
        let selected = configuration.services
        let store = try await configuration.database.location.open(
            secretBox: configuration.database.secretBox, metrics: metrics, logger: logger("store"))
        var simulatorState: SimulatorState?
        if selected.contains(where: \.needsBroker) {
            try await assembleGateway(store: store)
        }
        if selected.contains(.simulator) {
            let state = try await simulator(registeringSimulatorSessionsOf: selected == [.simulator] ? nil : store)
            simulatorState = state
        }
        if let (host, port) = configuration.metricsListener {
            let listeners = listeners
            let connections = connections
            running.insert(.init(service: MetricsServer.application(
                host: host, port: port, telemetry: configuration.telemetry, logger: logger("metrics"),
                notReady: {
                    if let down = connections.first(where: { if case .connected = $0.status { false } else { true } }) {
                        return "the broker connection \(down.configuration.connectionName) is not up"
                    }
                    return await store.isReachable() ? nil : "the store does not answer"
                }) { [logger] port in
                    logger.info("metrics listening", metadata: [LogKey.port: "\(port)"])
                    listeners.bound(.metrics, port: port)
                }), at: 0)
        }
        if let export = configuration.telemetry.traces?.service {
            // First in the group: it stops after every service, flushing their last spans.
            infrastructure.insert(.init(service: export), at: 0)
        }
        var groupConfiguration = ServiceGroupConfiguration(
            services: infrastructure + running, gracefulShutdownSignals: gracefulShutdownSignals, logger: logger)
        groupConfiguration.maximumGracefulShutdownDuration = configuration.maximumGracefulShutdownDuration
        // Past the graceful bound the rest is cancelled; cancelled work is unacknowledged,
        // so the broker redelivers it. Cancellation itself is bounded too.
        groupConfiguration.maximumCancellationDuration = Duration.seconds(5)
        return Gateway(services: selected, serviceGroup: ServiceGroup(configuration: groupConfiguration),
                       store: store, simulator: simulatorState, telemetry: configuration.telemetry,
                       hasMetricsListener: configuration.metricsListener != nil, listeners: listeners,
                       dispatcher: dispatcher)
    }

    /// A connection named `<name>-<service>` for the broker's view; `metricsName` (else
    /// `service`) is its `connection` label in the metrics.
    private mutating func connect(_ service: String, metricsName: String? = nil) async throws -> AMQPConnection {
        var amqp = configuration.amqp
        amqp.connectionName = "\(configuration.amqp.connectionName)-\(service)"
        let connection = try await AMQPConnection.connect(amqp, retryingFor: configuration.connectTimeout,
                                                          logger: logger("amqp"))
        connections.append(connection)
        infrastructure.append(.init(service: connection))
        let sampler = AMQPConnectionMetrics(name: metricsName ?? service, connection: connection, metrics: metrics)
        configuration.telemetry.addSampler { sampler.sample() }
        return connection
    }

    func closeConnections() async {
        for connection in connections { await connection.close() }
        try? await httpClient?.shutdown()
    }

    /// The HTTP client the process's outgoing calls share (providers, bot forwards).
    private mutating func sharedHTTPClient() -> HTTPClient {
        if let httpClient { return httpClient }
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        httpClient = client
        infrastructure.append(.init(service: HTTPClientService(client: client)))
        return client
    }

    /// The one session directory the process's services share, kept fresh by one refresher.
    private mutating func sharedSessionDirectory(store: any GatewayStore, control: AMQPConnection) -> SessionDirectory {
        if let sessionDirectory { return sessionDirectory }
        let directory = SessionDirectory(store: store, missReloadInterval: configuration.sessionMissReloadInterval,
                                         logger: logger("sessions"))
        sessionDirectory = directory
        infrastructure.append(.init(service: SessionDirectoryRefresher(
            directory: directory, interval: configuration.sessionRefreshInterval,
            control: ControlSubscription(connection: control, exchange: configuration.topology.roles.control,
                                         listener: "sessions", logger: logger("sessions")))))
        return directory
    }

    private mutating func assembleGateway(store: any GatewayStore) async throws {
        let selected = configuration.services
        let topology = configuration.topology
        let control = try await connect(selected.filter(\.needsBroker).map(\.rawValue).sorted().joined(separator: "-"),
                                        metricsName: "control")
        var provisioning: [AMQPConnection] = []
        if selected.contains(.api) {
            for number in 0..<max(0, configuration.provisioningConnections) {
                provisioning.append(try await connect("api-provision-\(number + 1)"))
            }
        }
        let applier = TopologyApplier(topology: topology, connection: control, management: configuration.management,
                                      provisioning: provisioning, logger: logger("topology"))
        infrastructure.append(.init(service: HeartbeatPublisher(
            publisher: control, exchange: topology.roles.control,
            services: selected.filter(\.needsBroker).map(\.rawValue), interval: configuration.heartbeatInterval,
            logger: logger("heartbeat"))))
        if configuration.applyTopology {
            try await applier.apply()
            logger.info("topology applied")
        }
        if selected.contains(.dispatcher) {
            let providers = ProviderDirectory(http: sharedHTTPClient(), simulatorBaseURL: configuration.simulatorBaseURL)
            // Tenant consumers run on lanes: connections the dispatcher opens on demand with
            // its own connection's settings (`-dispatcher-lane-N`) and closes when it stops.
            let dispatcher = Dispatcher(
                configuration: configuration.dispatcher, connection: try await connect("dispatcher"), store: store,
                providers: providers, topology: topology, metrics: metrics, tracer: configuration.telemetry.tracer,
                logger: logger("dispatcher"))
            self.dispatcher = dispatcher
            running.append(.init(service: dispatcher))
        }
        if selected.contains(.api) {
            let registry = TenantRegistry(store: store, broker: applier, logger: logger("registry"))
            let listeners = listeners
            running.append(.init(service: APIServer.application(
                configuration.api,
                APIServer.Dependencies(store: store, registry: registry, publisher: control,
                                       providers: ProviderDirectory(http: sharedHTTPClient(),
                                                                    simulatorBaseURL: configuration.simulatorBaseURL),
                                       telemetry: configuration.telemetry),
                logger: logger("api")) { [logger] port in
                    logger.info("api listening", metadata: [LogKey.port: "\(port)"])
                    listeners.bound(.api, port: port)
                }))
        }
        if selected.contains(.webhooks) {
            let listeners = listeners
            running.append(.init(service: WebhooksServer.application(
                configuration.webhooks, directory: sharedSessionDirectory(store: store, control: control),
                publisher: try await connect("webhooks"), topology: topology, telemetry: configuration.telemetry,
                logger: logger("webhooks")) { [logger] port in
                    logger.info("webhooks listening", metadata: [LogKey.port: "\(port)"])
                    listeners.bound(.webhooks, port: port)
                }))
        }
        if selected.contains(.normalizer) {
            running.append(.init(service: Normalizer(
                configuration: configuration.normalizer, connection: try await connect("normalizer"), topology: topology,
                directory: sharedSessionDirectory(store: store, control: control), dedupe: store, messageLog: store,
                metrics: metrics, tracer: configuration.telemetry.tracer, logger: logger("normalizer"))))
        }
        if selected.contains(.logger) {
            running.append(.init(service: MessageLogWriter(
                configuration: configuration.messageLog, connection: try await connect("logger"), topology: topology,
                log: store, metrics: metrics, tracer: configuration.telemetry.tracer,
                logger: logger("logger"))))
        }
        if selected.contains(.inbox) {
            running.append(.init(service: Inbox(
                configuration: configuration.inbox, connection: try await connect("inbox"), topology: topology,
                store: store, metrics: metrics, tracer: configuration.telemetry.tracer,
                logger: logger("inbox"))))
        }
        if selected.contains(.deadLetters) {
            running.append(.init(service: DeadLetterArchivist(
                configuration: configuration.deadLetters, connection: try await connect("dead-letters"),
                topology: topology, store: store, metrics: metrics, logger: logger("dead-letters"))))
        }
        if selected.contains(.monitor) {
            // Polls wait at most 5 s: a provider that does not answer leaves the state alone.
            let providers = ProviderDirectory(http: sharedHTTPClient(), simulatorBaseURL: configuration.simulatorBaseURL,
                                              timeout: .seconds(5))
            running.append(.init(service: SessionMonitor(
                configuration: configuration.monitor, connection: try await connect("monitor"), topology: topology,
                store: store, sessions: store, instances: store, providers: providers, metrics: metrics,
                logger: logger("monitor"))))
            if configuration.brokerMetricsInterval > .zero, configuration.telemetry.isEnabled {
                running.append(.init(service: BrokerQueueGauges(
                    management: configuration.management, virtualHost: control.configuration.virtualHost,
                    topology: topology, interval: configuration.brokerMetricsInterval, metrics: metrics,
                    logger: logger("broker-view"))))
            }
        }
        if selected.contains(.bot) {
            running.append(.init(service: Bot(
                configuration: configuration.bot, connection: try await connect("bot"), topology: topology,
                store: store,
                httpClient: sharedHTTPClient(), metrics: metrics, tracer: configuration.telemetry.tracer,
                logger: logger("bot"))))
        }
    }

    /// The simulator, first in the group so it stops after the gateway's services. Beside
    /// the gateway it knows the store's `simulator` sessions from the start, so a
    /// development setup sends end to end without registering them.
    private mutating func simulator(registeringSimulatorSessionsOf store: (any GatewayStore)?) async throws -> SimulatorState {
        let state = SimulatorState()
        if let store {
            for tenant in try await store.tenants() {
                for session in try await store.sessions(of: tenant.id) where session.provider == .simulator {
                    let secrets = try await store.secrets(of: session.id)
                    try state.register(SimulatedSession(
                        id: session.id.rawValue, flavor: .simulator,
                        apiKey: secrets.credentials["api_key"] ?? session.id.rawValue,
                        webhookURL: "\(configuration.webhooksURL)/webhooks/simulator/\(session.id)",
                        webhookSecret: secrets.webhookSecret, phoneNumber: session.phoneNumber.e164))
                }
            }
        }
        let listeners = listeners
        running.insert(.init(service: SimulatorServer.application(
            configuration.simulator, state: state, logger: logger("simulator")) { [logger] port in
                logger.info("simulator listening", metadata: [LogKey.port: "\(port)"])
                listeners.bound(.simulator, port: port)
            }), at: 0)
        return state
    }
}
