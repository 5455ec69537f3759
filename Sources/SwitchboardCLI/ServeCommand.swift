import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import SwitchboardAMQP
import SwitchboardAPI
import SwitchboardBroker
import SwitchboardCore
import SwitchboardRegistry
import SwitchboardStore

/// `switchboard serve <service>…`: runs services in this process until SIGTERM or
/// SIGINT, then shuts them down gracefully (requests in flight finish).
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run services: api, or all (more follow as they are built).")

    /// The services this binary can run; `all` is every one of them.
    enum Service: String, ExpressibleByArgument, CaseIterable {
        case api
        case all
    }

    @OptionGroup var amqp: AMQPOptions
    @OptionGroup var topology: TopologyOptions
    @OptionGroup var store: StoreOptions
    @OptionGroup var logging: LoggingOptions
    @Argument(help: "Services to run: \(Service.allCases.map(\.rawValue).joined(separator: ", ")).")
    var services: [Service] = [.api]
    @Option(help: "Where the api listens, host:port (else SWITCHBOARD_API_LISTEN, else \(Settings.Default.apiListen)).")
    var listen: String?
    @Flag(help: "Do not apply the topology at start (it is idempotent, so the default applies it).")
    var skipTopology = false
    @Option(help: "Seconds to keep trying to reach the broker at start.") var connectTimeout = 60

    /// The services to run, `all` expanded.
    var selected: Set<Service> { services.contains(.all) ? [.api] : Set(services) }

    func run() async throws {
        guard selected.contains(.api) else { throw ValidationError("nothing to run") }
        let settings = Settings()
        let logger = logging.makeLogger(label: "switchboard.serve")
        let (host, port) = try Self.parseListen(settings.value(listen, .apiListen, default: Settings.Default.apiListen))
        let store = try self.store.open(logger: logging.makeLogger(label: "switchboard.store"))
        let connection = try await AMQPConnection.connect(
            try amqp.configuration(connectionName: "switchboard-api"), retryingFor: .seconds(connectTimeout),
            logger: logging.makeLogger(label: "switchboard.amqp"))
        let applier = TopologyApplier(topology: try topology.load(), connection: connection,
                                      management: try topology.management(), logger: logger)
        if !skipTopology {
            try await applier.apply()
            logger.info("topology applied")
        }
        let registry = TenantRegistry(store: store, broker: applier, logger: logging.makeLogger(label: "switchboard.registry"))
        let api = APIServer.application(
            APIServer.Configuration(host: host, port: port),
            APIServer.Dependencies(store: store, registry: registry, publisher: connection),
            logger: logging.makeLogger(label: "switchboard.api")) { port in
                logger.info("api listening", metadata: ["port": "\(port)"])
            }
        // The connection is listed first so it shuts down last, after the server drained.
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: [.init(service: connection), .init(service: api)],
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
