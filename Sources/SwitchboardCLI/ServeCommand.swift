import ArgumentParser
import AsyncHTTPClient
import Foundation
import Logging
import ServiceLifecycle
import SwitchboardAMQP
import SwitchboardAPI
import SwitchboardBot
import SwitchboardBroker
import SwitchboardCore
import SwitchboardDispatcher
import SwitchboardInbound
import SwitchboardInbox
import SwitchboardProviders
import SwitchboardRegistry
import SwitchboardSimulator
import SwitchboardStore
import SwitchboardWebhooks

/// `switchboard serve <service>…`: runs services in this process until SIGTERM or
/// SIGINT, then shuts them down gracefully (requests and deliveries in flight finish,
/// broker connections close last).
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run services: api, dispatcher, webhooks, normalizer, logger, inbox, bot, simulator, or all.")

    /// The services this binary can run; `all` is every one of them.
    enum Service: String, ExpressibleByArgument, CaseIterable {
        case api, dispatcher, webhooks, normalizer, logger, inbox, bot, simulator
        /// Every gateway service; the simulator is not one (it stands in for providers).
        case all

        static let gateway: Set<Service> = [.api, .dispatcher, .webhooks, .normalizer, .logger, .inbox, .bot]
    }

    @OptionGroup var amqp: AMQPOptions
    @OptionGroup var topology: TopologyOptions
    @OptionGroup var store: StoreOptions
    @OptionGroup var logging: LoggingOptions
    @Argument(help: "Services to run: \(Service.allCases.map(\.rawValue).joined(separator: ", ")).")
    var services: [Service] = [.api]
    @Option(help: "Where the api listens, host:port (else SWITCHBOARD_API_LISTEN, else \(Settings.Default.apiListen)).")
    var listen: String?
    @Option(help: "Base URL for sessions of provider 'simulator' (else SWITCHBOARD_SIMULATOR_URL, else \(Settings.Default.simulatorURL)).")
    var simulatorURL: String?
    @Option(help: "Where the simulator listens, host:port (else SWITCHBOARD_SIMULATOR_LISTEN, else \(Settings.Default.simulatorListen)).")
    var simulatorListen: String?
    @Option(help: "Where the webhooks service listens, host:port (else SWITCHBOARD_WEBHOOKS_LISTEN, else \(Settings.Default.webhooksListen)).")
    var webhooksListen: String?
    @Option(help: "The webhooks service's base URL the simulator's sessions send to (else SWITCHBOARD_WEBHOOKS_URL, else \(Settings.Default.webhooksURL)).")
    var webhooksURL: String?
    @Option(help: "Deliveries a tenant may have in flight in the dispatcher (its prefetch).")
    var inFlightPerTenant: UInt16 = 8
    @Flag(help: "Do not apply the topology at start (it is idempotent, so the default applies it).")
    var skipTopology = false
    @Option(help: "Seconds to keep trying to reach the broker at start.") var connectTimeout = 60

    /// The services to run, `all` expanded.
    var selected: Set<Service> {
        services.contains(.all) ? Set(services).subtracting([.all]).union(Service.gateway) : Set(services)
    }

    func run() async throws {
        let settings = Settings()
        let logger = logging.makeLogger(label: "switchboard.serve")
        if selected == [.simulator] {
            // The simulator alone needs neither the broker nor the store.
            return try await runSimulatorOnly(settings: settings, logger: logger)
        }
        let store = try self.store.open(logger: logging.makeLogger(label: "switchboard.store"))
        let definition = try topology.load()
        var group: [ServiceGroupConfiguration.ServiceConfiguration] = []
        var running: [ServiceGroupConfiguration.ServiceConfiguration] = []
        var httpClient: HTTPClient?

        func connect(_ name: String) async throws -> AMQPConnection {
            let connection = try await AMQPConnection.connect(
                try amqp.configuration(connectionName: name), retryingFor: .seconds(connectTimeout),
                logger: logging.makeLogger(label: "switchboard.amqp"))
            // Connections are listed first so they shut down last, after what uses them.
            group.append(.init(service: connection))
            return connection
        }

        let control = try await connect("switchboard-\(selected.map(\.rawValue).sorted().joined(separator: "-"))")
        let applier = TopologyApplier(topology: definition, connection: control, management: try topology.management(),
                                      logger: logger)
        if !skipTopology {
            try await applier.apply()
            logger.info("topology applied")
        }
        func sharedHTTPClient() -> HTTPClient {
            if let httpClient { return httpClient }
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            httpClient = http
            return http
        }
        if selected.contains(.dispatcher) {
            let http = sharedHTTPClient()
            let providers = ProviderDirectory(
                http: http, simulatorBaseURL: settings.value(simulatorURL, .simulatorURL, default: Settings.Default.simulatorURL))
            let dispatcher = Dispatcher(
                configuration: Dispatcher.Configuration(inFlightPerTenant: inFlightPerTenant),
                connection: try await connect("switchboard-dispatcher"), store: store, providers: providers,
                topology: definition, logger: logging.makeLogger(label: "switchboard.dispatcher"))
            running.append(.init(service: dispatcher))
        }
        if selected.contains(.api) {
            let (host, port) = try Self.parseListen(settings.value(listen, .apiListen, default: Settings.Default.apiListen))
            let registry = TenantRegistry(store: store, broker: applier,
                                          logger: logging.makeLogger(label: "switchboard.registry"))
            let api = APIServer.application(
                APIServer.Configuration(host: host, port: port),
                APIServer.Dependencies(store: store, registry: registry, publisher: control),
                logger: logging.makeLogger(label: "switchboard.api")) { port in
                    logger.info("api listening", metadata: ["port": "\(port)"])
                }
            running.append(.init(service: api))
        }
        if selected.contains(.webhooks) {
            let (host, port) = try Self.parseListen(settings.value(webhooksListen, .webhooksListen,
                                                                   default: Settings.Default.webhooksListen))
            let directory = SessionDirectory(store: store, logger: logging.makeLogger(label: "switchboard.webhooks"))
            let verifyToken = settings.value(nil, .metaVerifyToken, default: "")
            let webhooks = WebhooksServer.application(
                WebhooksServer.Configuration(host: host, port: port,
                                             metaVerifyToken: verifyToken.isEmpty ? nil : verifyToken),
                directory: directory, publisher: try await connect("switchboard-webhooks"),
                logger: logging.makeLogger(label: "switchboard.webhooks")) { port in
                    logger.info("webhooks listening", metadata: ["port": "\(port)"])
                }
            running.append(.init(service: DirectoryRefresher(directory: directory)))
            running.append(.init(service: webhooks))
        }
        if selected.contains(.normalizer) {
            let normalizer = Normalizer(
                connection: try await connect("switchboard-normalizer"),
                directory: SessionDirectory(store: store, logger: logging.makeLogger(label: "switchboard.normalizer")),
                dedupe: store, messageLog: store, logger: logging.makeLogger(label: "switchboard.normalizer"))
            running.append(.init(service: normalizer))
        }
        if selected.contains(.logger) {
            running.append(.init(service: MessageLogger(connection: try await connect("switchboard-logger"), log: store,
                                                        logger: logging.makeLogger(label: "switchboard.logger"))))
        }
        if selected.contains(.inbox) {
            let pause = settings.value(nil, .inboxPause, default: "86400")
            guard let seconds = Double(pause), seconds >= 0 else {
                throw ValidationError("SWITCHBOARD_INBOX_PAUSE_SECONDS must be a number of seconds, not '\(pause)'")
            }
            running.append(.init(service: Inbox(
                configuration: Inbox.Configuration(pauseFor: .milliseconds(Int64(seconds * 1000))),
                connection: try await connect("switchboard-inbox"), store: store,
                logger: logging.makeLogger(label: "switchboard.inbox"))))
        }
        if selected.contains(.bot) {
            running.append(.init(service: Bot(connection: try await connect("switchboard-bot"), store: store,
                                              httpClient: sharedHTTPClient(),
                                              logger: logging.makeLogger(label: "switchboard.bot"))))
        }
        if selected.contains(.simulator) {
            // Beside the gateway, the simulator knows the store's `simulator` sessions from
            // the start, so a development setup sends end to end without registering them.
            let state = SimulatorState()
            let webhooksBase = settings.value(webhooksURL, .webhooksURL, default: Settings.Default.webhooksURL)
            for tenant in try await store.tenants() {
                for session in try await store.sessions(of: tenant.id) where session.provider == .simulator {
                    let secrets = try await store.secrets(of: session.id)
                    try state.register(SimulatedSession(
                        id: session.id.rawValue, flavor: .simulator,
                        apiKey: secrets.credentials["api_key"] ?? session.id.rawValue,
                        webhookURL: "\(webhooksBase)/webhooks/simulator/\(session.id)",
                        webhookSecret: secrets.webhookSecret, phoneNumber: session.phoneNumber.e164))
                }
            }
            running.insert(.init(service: try simulator(settings: settings, state: state, logger: logger)), at: 0)
        }
        let serviceGroup = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: group + running, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await serviceGroup.run()
        } catch {
            try? await httpClient?.shutdown()
            throw error
        }
        try await httpClient?.shutdown()
    }

    private func simulator(settings: Settings, state: SimulatorState = SimulatorState(), logger: Logger) throws
        -> some ServiceLifecycle.Service
    {
        let (host, port) = try Self.parseListen(settings.value(simulatorListen, .simulatorListen,
                                                               default: Settings.Default.simulatorListen))
        return SimulatorServer.application(
            SimulatorServer.Configuration(host: host, port: port), state: state,
            logger: logging.makeLogger(label: "switchboard.simulator")) { port in
                logger.info("simulator listening", metadata: ["port": "\(port)"])
            }
    }

    private func runSimulatorOnly(settings: Settings, logger: Logger) async throws {
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: [.init(service: try simulator(settings: settings, logger: logger))],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    static func parseListen(_ text: String) throws -> (String, Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (0...65535).contains(port)
        else { throw ValidationError("--listen must be host:port, e.g. 127.0.0.1:8080") }
        return (String(text[..<colon]), port)
    }
}

/// Keeps the webhook receiver's session directory fresh while the service runs.
struct DirectoryRefresher: ServiceLifecycle.Service {
    let directory: SessionDirectory

    func run() async throws {
        await cancelWhenGracefulShutdown { await directory.refresh(every: .seconds(30)) }
    }
}
