import Crypto
import Foundation
public import Logging
public import SwitchboardAMQP
public import SwitchboardBroker
public import SwitchboardCore
import SwitchboardSimulator
import SwitchboardStore

/// `switchboard bench monitor`: `serve monitor` as a process of its own polling N
/// simulator sessions at the default interval (60 s), for one whole interval: how the
/// polls spread (the busiest second against the expected share) and the monitor's CPU
/// as a share of one core.
public struct MonitorBenchmark: Sendable {
    public struct Options: Sendable {
        public var sessions = 1_000
        public var pollSeconds = 60
        public var executable: String
        public var topologyPath: String
        public var managementURL: String

        public init(executable: String, topologyPath: String, managementURL: String) {
            self.executable = executable
            self.topologyPath = topologyPath
            self.managementURL = managementURL
        }
    }

    public struct Report: BenchReport {
        public let scenario = "monitor"
        public let sessions: Int
        public let pollSeconds: Int
        public let polls: Int
        /// Sessions per second if spread evenly, and the busiest second seen.
        public let expectedPerSecond: Double
        public let busiestSecond: Int
        /// The monitor's CPU over the interval, in percent of one core.
        public let monitorCPUPercent: Double
        public let monitorRSSMegabytes: Double

        public var summary: [String] {
            [
                "monitor: \(sessions) sessions polled every \(pollSeconds) s by serve monitor (a process of its own)",
                String(format: "  %d polls in one interval; busiest second %d (expected %.1f)", polls, busiestSecond,
                       expectedPerSecond),
                String(format: "  monitor CPU %.2f %% of a core; RSS %.0f MB", monitorCPUPercent, monitorRSSMegabytes),
            ]
        }
    }

    public let configuration: AMQPConfiguration
    public let management: RabbitMQManagement
    public let topology: Topology
    public let options: Options
    public let logger: Logger

    public init(configuration: AMQPConfiguration, management: RabbitMQManagement, topology: Topology, options: Options,
                logger: Logger) {
        self.configuration = configuration
        self.management = management
        self.topology = topology
        self.options = options
        self.logger = logger
    }

    public func run() async throws -> Report {
        try await BenchScratch.withTopology(topology, base: configuration, management: management,
                                            connectionName: "bench-monitor", logger: logger) { scratch, _, _ in
            try await measure(scratch: scratch)
        }
    }

    private func measure(scratch: BenchScratch) async throws -> Report {
        var quiet = logger
        quiet.logLevel = .warning
        let simulator = try await EmbeddedSimulator.start(logger: quiet)
        let masterKey = SymmetricKey(size: .bits256)
        try FileManager.default.createDirectory(at: scratch.directory, withIntermediateDirectories: true)
        let database = scratch.directory.appendingPathComponent("monitor.sqlite").path
        let store = try SQLiteStore(path: database, secretBox: try SecretBox(masterKey: masterKey), logger: logger)
        let perTenant = 10
        for n in 0..<options.sessions {
            let tenant = try TenantID("mon\(n / perTenant)")
            if n % perTenant == 0 {
                try await store.createTenant(Tenant(id: tenant, name: "\(tenant)", limits: TenantLimits(sessionRate: 10)))
            }
            let id = "mon\(n)-main"
            try await store.addSession(
                Session(id: try SessionID(id), tenant: tenant, provider: .simulator,
                        phoneNumber: try PhoneNumber("+1415558\(String(format: "%04d", n % 10_000))"), status: .connected,
                        isPrimary: n % perTenant == 0),
                secrets: SessionSecrets(credentials: ["api_key": "key-\(id)"], webhookSecret: "secret-\(id)-0123456789"))
            try simulator.state.register(SimulatedSession(id: id, flavor: .simulator, apiKey: "key-\(id)"))
        }
        var environment = scratch.childEnvironment(database: database, masterKey: masterKey,
                                                   topologyPath: options.topologyPath,
                                                   managementURL: options.managementURL)
        environment["SWITCHBOARD_SESSION_POLL_SECONDS"] = "\(options.pollSeconds)"
        let monitor = try ChildProcess(
            [options.executable, "serve", "monitor", "--skip-topology", "--simulator-url", simulator.baseURL + "/api"],
            environment: environment,
            logPath: FileManager.default.temporaryDirectory.appendingPathComponent("\(scratch.virtualHost)-monitor.log").path)
        do {
            // Past start-up (the first reads), then one whole interval.
            try await Task.sleep(for: .seconds(3))
            guard monitor.isRunning else { throw BenchError.failed("serve monitor ended: \(monitor.tail)") }
            let startSecond = Int(Date().timeIntervalSince1970) + 1
            try await Task.sleep(for: .milliseconds(Int64((Double(startSecond) - Date().timeIntervalSince1970) * 1000)))
            let cpuBefore = monitor.cpuSeconds
            try await Task.sleep(for: .seconds(options.pollSeconds))
            let cpu = monitor.cpuSeconds - cpuBefore
            let rss = monitor.residentMegabytes
            await monitor.stop()
            let polls = simulator.state.statusPollsPerSecond()
            let window = (startSecond..<(startSecond + options.pollSeconds)).map { polls[$0] ?? 0 }
            try? await simulator.stop()
            return Report(sessions: options.sessions, pollSeconds: options.pollSeconds, polls: window.reduce(0, +),
                          expectedPerSecond: Double(options.sessions) / Double(options.pollSeconds),
                          busiestSecond: window.max() ?? 0,
                          monitorCPUPercent: cpu / Double(options.pollSeconds) * 100, monitorRSSMegabytes: rss)
        } catch {
            await monitor.stop()
            try? await simulator.stop()
            throw error
        }
    }
}
