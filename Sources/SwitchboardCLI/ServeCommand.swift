import ArgumentParser
import Foundation
import Logging
import SwitchboardApp
import SwitchboardCore
import SwitchboardDeadLetters
import SwitchboardTelemetry

/// `switchboard serve <service>…`: runs services in this process until SIGTERM or
/// SIGINT, then shuts them down gracefully within a bound (work not started goes back to
/// its queue, work in flight settles, broker connections close last). The process is
/// assembled by `Gateway.build`, the same composition root the tests and benchmarks use.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run services: \(GatewayService.allCases.map(\.rawValue).joined(separator: ", ")), or all.")

    /// A service on the command line: one of the gateway's, or `all` of them.
    enum Selection: String, ExpressibleByArgument, CaseIterable {
        case api, dispatcher, webhooks, normalizer, logger, inbox, bot, simulator
        case deadLetters = "dead-letters"
        case monitor
        /// Every gateway service; the simulator is not one (it stands in for providers).
        case all
    }

    @OptionGroup var amqp: AMQPOptions
    @OptionGroup var topology: TopologyOptions
    @OptionGroup var store: StoreOptions
    @OptionGroup var logging: LoggingOptions
    @Argument(help: "Services to run: \(Selection.allCases.map(\.rawValue).joined(separator: ", ")).")
    var services: [Selection] = [.api]
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
    @Option(help: "Where a process without the api or webhooks serves /metrics, host:port (else SWITCHBOARD_METRICS_LISTEN, else none).")
    var metricsListen: String?
    @Option(help: "Deliveries a tenant may have in flight in the dispatcher (its prefetch).")
    var inFlightPerTenant: UInt16 = 8
    @Option(help: "Tenant consumers one dispatcher connection (lane) carries at most; also kept below the broker's channel_max.")
    var channelsPerLane = 1000
    @Flag(help: "Do not apply the topology at start (it is idempotent, so the default applies it).")
    var skipTopology = false
    @Option(help: "Seconds to keep trying to reach the broker at start.") var connectTimeout = 60
    @Option(help: "Seconds a graceful shutdown may take before what still runs is cancelled (unacknowledged work returns to its queue).")
    var shutdownTimeout = 10

    /// The services to run, `all` expanded.
    var selected: Set<GatewayService> {
        var selected = Set(services.filter { $0 != .all }.compactMap { GatewayService(rawValue: $0.rawValue) })
        if services.contains(.all) { selected.formUnion(GatewayService.gateway) }
        return selected
    }

    func run() async throws {
        let settings = Settings()
        let logger = logging.makeLogger(label: "switchboard")
        let configuration = try configuration(settings: settings)
        // The process's one registry is swift-metrics' global backend too, for libraries
        // that record there.
        if configuration.telemetry.isEnabled { configuration.telemetry.bootstrapProcess() }
        let gateway = try await Gateway.build(configuration, logger: logger,
                                              gracefulShutdownSignals: [.sigterm, .sigint])
        try await gateway.run()
    }

    /// The command line and the environment, resolved into the gateway's configuration.
    func configuration(settings: Settings) throws -> GatewayConfiguration {
        let pauseText = settings.value(nil, .inboxPause, default: "86400")
        guard let pause = Double(pauseText), pause >= 0 else {
            throw ValidationError("SWITCHBOARD_INBOX_PAUSE_SECONDS must be a number of seconds, not '\(pauseText)'")
        }
        let verifyToken = settings.value(nil, .metaVerifyToken, default: "")
        let deadLetters = try Self.deadLetterConfiguration(settings)
        let pollText = settings.value(nil, .sessionPollInterval, default: "60")
        guard let poll = Double(pollText), poll >= 0 else {
            throw ValidationError("SWITCHBOARD_SESSION_POLL_SECONDS must be a number of seconds, not '\(pollText)'")
        }
        let alertAfterText = settings.value(nil, .sessionAlertAfter, default: "300")
        guard let alertAfter = Double(alertAfterText), alertAfter >= 0 else {
            throw ValidationError("SWITCHBOARD_SESSION_ALERT_AFTER_SECONDS must be a number of seconds, not '\(alertAfterText)'")
        }
        let (apiHost, apiPort) = try Self.parseListen(settings.value(listen, .apiListen, default: Settings.Default.apiListen))
        let (webhooksHost, webhooksPort) = try Self.parseListen(
            settings.value(webhooksListen, .webhooksListen, default: Settings.Default.webhooksListen))
        let (simulatorHost, simulatorPort) = try Self.parseListen(
            settings.value(simulatorListen, .simulatorListen, default: Settings.Default.simulatorListen))
        guard shutdownTimeout > 0 else { throw ValidationError("--shutdown-timeout must be at least 1 second") }
        let metricsSwitch = settings.value(nil, .metrics, default: "on")
        guard ["on", "off"].contains(metricsSwitch) else {
            throw ValidationError("SWITCHBOARD_METRICS must be on or off, not '\(metricsSwitch)'")
        }
        let brokerMetricsText = settings.value(nil, .brokerMetricsInterval, default: "15")
        guard let brokerMetrics = Double(brokerMetricsText), brokerMetrics >= 0 else {
            throw ValidationError("SWITCHBOARD_BROKER_METRICS_SECONDS must be a number of seconds, not '\(brokerMetricsText)'")
        }
        let metricsListener = try settings.value(metricsListen, .metricsListen, default: "").nonEmpty
            .map { try Self.parseListen($0) }
        var configuration = GatewayConfiguration(
            services: selected,
            amqp: try amqp.configuration(connectionName: "switchboard", settings: settings),
            topology: try topology.load(), management: try topology.management(settings: settings),
            database: try store.location(settings: settings),
            applyTopology: !skipTopology, connectTimeout: .seconds(connectTimeout),
            api: .init(host: apiHost, port: apiPort),
            webhooks: .init(host: webhooksHost, port: webhooksPort, metaVerifyToken: verifyToken.isEmpty ? nil : verifyToken),
            simulator: .init(host: simulatorHost, port: simulatorPort),
            simulatorBaseURL: settings.value(simulatorURL, .simulatorURL, default: Settings.Default.simulatorURL),
            webhooksURL: settings.value(webhooksURL, .webhooksURL, default: Settings.Default.webhooksURL),
            dispatcher: .init(inFlightPerTenant: inFlightPerTenant, channelsPerLane: channelsPerLane),
            inbox: .init(pauseFor: .milliseconds(Int64(pause * 1000))), deadLetters: deadLetters,
            monitor: .init(alertAfter: .milliseconds(Int64(alertAfter * 1000)), pollInterval: .milliseconds(Int64(poll * 1000))),
            maximumGracefulShutdownDuration: .seconds(shutdownTimeout))
        let traces = try settings.value(nil, .otlpEndpoint, default: "").nonEmpty.map { endpoint in
            do {
                return try TraceExport.otlp(endpoint: endpoint, serviceName: "switchboard")
            } catch {
                throw ValidationError("SWITCHBOARD_OTLP_ENDPOINT '\(endpoint)': \(error)")
            }
        }
        configuration.telemetry = metricsSwitch == "on" ? .prometheus(traces: traces) : .off(traces: traces)
        configuration.metricsListener = metricsListener.map { (host: $0.0, port: $0.1) }
        configuration.brokerMetricsInterval = .milliseconds(Int64(brokerMetrics * 1000))
        return configuration
    }

    /// Retention and alerting of the dead-letters service, from the environment.
    static func deadLetterConfiguration(_ settings: Settings) throws -> DeadLetterArchivist.Configuration {
        func number(_ key: Settings.Key, _ fallback: String) throws -> Double {
            let text = settings.value(nil, key, default: fallback)
            guard let value = Double(text), value >= 0 else {
                throw ValidationError("\(key.rawValue) must be a number, at least 0, not '\(text)'")
            }
            return value
        }
        return DeadLetterArchivist.Configuration(
            retention: .seconds(try number(.deadLetterRetention, "14") * 86_400),
            alertThreshold: Int(try number(.deadLetterAlertThreshold, "100")),
            alertWindow: .seconds(max(1, try number(.deadLetterAlertWindow, "300"))))
    }

    static func parseListen(_ text: String) throws -> (String, Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (0...65535).contains(port)
        else { throw ValidationError("--listen must be host:port, e.g. 127.0.0.1:8080") }
        return (String(text[..<colon]), port)
    }
}

extension String {
    /// Nil when empty: an unset setting.
    fileprivate var nonEmpty: String? { isEmpty ? nil : self }
}
