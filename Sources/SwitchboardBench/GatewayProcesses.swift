import AsyncHTTPClient
import Foundation
import NIOCore
import Synchronization

/// The processes of one gateway deployment on this machine, each `switchboard serve …`
/// an OS process of its own, all sharing one broker (a URL or a cluster's comma-separated
/// URLs) and one database: several apis and dispatchers at once, as a multi-instance
/// deployment runs them, which a test or a benchmark can SIGKILL one by one.
///
/// The database is a setting passed as `SWITCHBOARD_DATABASE`, as the services read it:
/// a SQLite file shared by the processes today, a `postgres://` URL once that store exists.
public final class GatewayProcesses: Sendable {
    /// What every process is given.
    public struct Setup: Sendable {
        /// The `switchboard` executable.
        public var executable: String
        /// `SWITCHBOARD_AMQP_URL`: one URL, or every cluster node's, comma-separated.
        public var amqpURL: String
        /// `SWITCHBOARD_RABBITMQ_MANAGEMENT_URL` (comma-separated for a cluster).
        public var managementURL: String
        /// `SWITCHBOARD_DATABASE`: a SQLite path, or later a `postgres://` URL.
        public var database: String
        /// `SWITCHBOARD_MASTER_KEY`: base64 of 32 bytes, the same for every process.
        public var masterKey: String
        public var topologyPath: String
        /// The directory each process's output goes to, `<name>.log`.
        public var logDirectory: String
        /// `SWITCHBOARD_LOG_LEVEL` of the processes.
        public var logLevel = "warning"
        /// Anything else, added to (and overriding) this process's environment.
        public var environment: [String: String] = [:]

        public init(executable: String, amqpURL: String, managementURL: String, database: String, masterKey: String,
                    topologyPath: String, logDirectory: String) {
            self.executable = executable
            self.amqpURL = amqpURL
            self.managementURL = managementURL
            self.database = database
            self.masterKey = masterKey
            self.topologyPath = topologyPath
            self.logDirectory = logDirectory
        }
    }

    /// One running `serve` process.
    public struct Instance: Sendable {
        public let name: String
        public let services: [String]
        /// Where its api (or, for the simulator, its own listener) answers, if it has one.
        public let baseURL: String?
        /// Its `/metrics` (every process has one: the api's listener or `--metrics-listen`).
        public let metricsURL: String
        public let logPath: String
        public var pid: Int32 { process.pid }
        fileprivate let process: ChildProcess

        public var isRunning: Bool { process.isRunning }
        /// CPU seconds the process has used so far.
        public var cpuSeconds: Double { process.cpuSeconds }
        /// Its last lines of output.
        public var tail: String { process.tail }
    }

    public let setup: Setup
    private let instances = Mutex<[String: Instance]>([:])
    private let client = HTTPClient(eventLoopGroupProvider: .singleton)

    public init(setup: Setup) throws {
        self.setup = setup
        try FileManager.default.createDirectory(atPath: setup.logDirectory, withIntermediateDirectories: true)
    }

    private var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["SWITCHBOARD_AMQP_URL"] = setup.amqpURL
        environment["SWITCHBOARD_RABBITMQ_MANAGEMENT_URL"] = setup.managementURL
        environment["SWITCHBOARD_DATABASE"] = setup.database
        environment["SWITCHBOARD_MASTER_KEY"] = setup.masterKey
        environment["SWITCHBOARD_TOPOLOGY"] = setup.topologyPath
        environment["SWITCHBOARD_LOG_LEVEL"] = setup.logLevel
        environment.merge(setup.environment) { _, new in new }
        return environment
    }

    /// Starts `serve api` on a free port and waits until it answers `/healthz`.
    @discardableResult
    public func startAPI(_ name: String, arguments: [String] = []) async throws -> Instance {
        let port = try ChildProcess.freePort()
        let base = "http://127.0.0.1:\(port)"
        return try await start(name, services: ["api"], arguments: ["--listen", "127.0.0.1:\(port)"] + arguments,
                               baseURL: base, metricsURL: base + "/metrics", readiness: base + "/healthz")
    }

    /// Starts `serve dispatcher` sending to sessions of provider `simulator` at
    /// `simulatorURL` (`…/api`), and waits until its `/metrics` answers.
    @discardableResult
    public func startDispatcher(_ name: String, simulatorURL: String, arguments: [String] = []) async throws -> Instance {
        try await startServices(name, ["dispatcher"], arguments: ["--simulator-url", simulatorURL] + arguments)
    }

    /// Starts `serve simulator` on a free port, its sessions' webhooks going to `webhooksURL`.
    @discardableResult
    public func startSimulator(_ name: String, webhooksURL: String = "http://127.0.0.1:1") async throws -> Instance {
        let port = try ChildProcess.freePort()
        let base = "http://127.0.0.1:\(port)"
        return try await start(name, services: ["simulator"],
                               arguments: ["--simulator-listen", "127.0.0.1:\(port)", "--webhooks-url", webhooksURL],
                               baseURL: base, metricsURL: base + "/metrics", readiness: base + "/_sim/sessions")
    }

    /// Starts `serve <services…>` with a `/metrics` listener of its own, and waits for it.
    @discardableResult
    public func startServices(_ name: String, _ services: [String], arguments: [String] = []) async throws -> Instance {
        let port = try ChildProcess.freePort()
        let metrics = "http://127.0.0.1:\(port)/metrics"
        return try await start(name, services: services,
                               arguments: ["--metrics-listen", "127.0.0.1:\(port)"] + arguments,
                               baseURL: nil, metricsURL: metrics, readiness: metrics)
    }

    private func start(_ name: String, services: [String], arguments: [String], baseURL: String?, metricsURL: String,
                       readiness: String) async throws -> Instance {
        let logPath = URL(fileURLWithPath: setup.logDirectory).appendingPathComponent("\(name).log").path
        let process = try ChildProcess([setup.executable, "serve"] + services + ["--skip-topology"] + arguments,
                                       environment: environment, logPath: logPath)
        let instance = Instance(name: name, services: services, baseURL: baseURL, metricsURL: metricsURL,
                                logPath: logPath, process: process)
        instances.withLock { $0[name] = instance }
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            guard process.isRunning else { throw BenchError.setup("\(name) exited at start:\n\(process.tail)") }
            if let status = try? await client.benchCall(.GET, readiness, json: nil, bearer: nil).status, status == 200 {
                return instance
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw BenchError.timedOut("\(name) did not answer \(readiness):\n\(process.tail)")
    }

    public func instance(_ name: String) -> Instance? { instances.withLock { $0[name] } }
    public var all: [Instance] { instances.withLock { Array($0.values) }.sorted { $0.name < $1.name } }

    /// SIGKILLs a process, as a crash or an OOM kill would.
    public func crash(_ name: String) async {
        guard let instance = instances.withLock({ $0.removeValue(forKey: name) }) else { return }
        await instance.process.crash()
    }

    /// SIGTERM (a graceful shutdown), SIGKILL after `bound`.
    public func stop(_ name: String, within bound: Duration = .seconds(20)) async {
        guard let instance = instances.withLock({ $0.removeValue(forKey: name) }) else { return }
        await instance.process.stop(within: bound)
    }

    /// Stops every process and the HTTP client; call it whatever happened.
    public func stopAll() async {
        let everything = instances.withLock { instances in
            defer { instances.removeAll() }
            return Array(instances.values)
        }
        await withTaskGroup(of: Void.self) { group in
            for instance in everything { group.addTask { await instance.process.stop() } }
        }
        try? await client.shutdown()
    }
}
