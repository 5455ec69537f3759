import AsyncHTTPClient
import Crypto
import Foundation
public import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
public import SwitchboardAMQP
public import SwitchboardBroker
public import SwitchboardCore
import SwitchboardRegistry
import SwitchboardStore

/// `switchboard bench gateway`: the whole loop as a user runs it. `serve all` (api,
/// dispatcher, webhooks, normalizer, logger, inbox, bot) and `serve simulator` run as
/// processes of their own over a scratch vhost and store; N messages from several
/// tenants are posted through the api until every one is `read` (or `sent`, without
/// status webhooks) in the store and every queue is empty. CPU per message is read from
/// `/proc` for the gateway, the simulator (not ours: reported apart) and the broker.
public struct GatewayBenchmark: Sendable {
    public struct Options: Sendable {
        public var messages = 10_000
        public var tenants = 10
        public var concurrency = 32
        /// Messages sent first and not measured (connections, caches, the JIT of the broker).
        public var warmup = 500
        /// The simulator reports sent, delivered and read back through the webhooks.
        public var statusWebhooks = true
        /// The `switchboard` executable the processes run.
        public var executable: String
        /// Passed to the processes: the topology file and the management API.
        public var topologyPath: String
        public var managementURL: String
        /// RabbitMQ's Prometheus endpoint, for its global message counters.
        public var prometheusURL = "http://127.0.0.1:15692/metrics"

        public init(executable: String, topologyPath: String, managementURL: String) {
            self.executable = executable
            self.topologyPath = topologyPath
            self.managementURL = managementURL
        }
    }

    public struct Report: BenchReport {
        public let scenario = "gateway"
        public let messages: Int
        public let tenants: Int
        public let statusWebhooks: Bool
        public let seconds: Double
        public let messagesPerSecond: Double
        /// CPU µs per message.
        public let gatewayMicroseconds: Double
        public let simulatorMicroseconds: Double
        public let brokerMicroseconds: Double?
        /// Gateway + broker: what the targets count (the simulator stands in for providers).
        public let totalMicroseconds: Double
        /// The broker's work per message, from its global counters.
        public let brokerPerMessage: BrokerWork?
        /// Messages by state in the store at the end.
        public let states: [String: Int]

        public struct BrokerWork: Codable, Sendable {
            public let published: Double
            public let routed: Double
            public let delivered: Double
            public let acknowledged: Double
            public let confirmed: Double
        }

        public var summary: [String] {
            var lines = [
                "gateway: \(messages) messages from \(tenants) tenants through the api, serve all + serve simulator"
                    + (statusWebhooks ? ", status webhooks on (sent, delivered, read)" : ", no status webhooks"),
                String(format: "  %.0f messages/s (%.1f s until every message was %@ and every queue empty)",
                       messagesPerSecond, seconds, statusWebhooks ? "read" : "sent"),
                String(format: "  CPU per message: gateway %.0f µs + broker %@ = %.0f µs; simulator %.0f µs (not counted)",
                       gatewayMicroseconds, brokerMicroseconds.map { String(format: "%.0f µs", $0) } ?? "n/a",
                       totalMicroseconds, simulatorMicroseconds),
            ]
            if let work = brokerPerMessage {
                lines.append(String(format: "  broker per message: %.1f published, %.1f routed, %.1f delivered, %.1f acked, %.1f confirmed",
                                    work.published, work.routed, work.delivered, work.acknowledged, work.confirmed))
            }
            lines.append("  states: \(states.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))")
            return lines
        }
    }

    public let configuration: AMQPConfiguration
    public let management: RabbitMQManagement
    public let topology: Topology
    public let options: Options
    public let logger: Logger

    public init(configuration: AMQPConfiguration, management: RabbitMQManagement, topology: Topology,
                options: Options, logger: Logger) {
        self.configuration = configuration
        self.management = management
        self.topology = topology
        self.options = options
        self.logger = logger
    }

    public func run() async throws -> Report {
        try await BenchScratch.withTopology(topology, base: configuration, management: management,
                                            connectionName: "bench-gateway", logger: logger) { scratch, _, applier in
            try await measure(scratch: scratch, applier: applier)
        }
    }

    /// A tenant of the benchmark with what it takes to send and to be simulated.
    private struct BenchTenant {
        let id: TenantID
        let session: String
        let apiKey: String
        let webhookSecret: String
        let token: String
    }

    private func measure(scratch: BenchScratch, applier: TopologyApplier) async throws -> Report {
        // The registry, written before the processes start (they read it at start).
        let masterKey = SymmetricKey(size: .bits256)
        try FileManager.default.createDirectory(at: scratch.directory, withIntermediateDirectories: true)
        let database = scratch.directory.appendingPathComponent("gateway.sqlite").path
        let store = try SQLiteStore(path: database, secretBox: try SecretBox(masterKey: masterKey), logger: logger)
        let registry = TenantRegistry(store: store, broker: applier, logger: logger)
        var tenants: [BenchTenant] = []
        for n in 0..<options.tenants {
            let id = try TenantID("gw\(n)")
            _ = try await registry.create(Tenant(
                id: id, name: "Gateway bench \(n)", limits: TenantLimits(sessionRate: 1000, bulkShare: 1)))
            let secret = "gw\(n)-" + UUID().uuidString
            try await store.addSession(
                Session(id: try SessionID("gw\(n)-main"), tenant: id, provider: .simulator,
                        phoneNumber: try PhoneNumber("+1415555\(String(format: "%04d", n))"), status: .connected,
                        isPrimary: true),
                secrets: SessionSecrets(credentials: ["api_key": "key-gw\(n)"], webhookSecret: secret))
            let token = try await store.createKey(scope: .tenant(id), label: "bench").token
            tenants.append(BenchTenant(id: id, session: "gw\(n)-main", apiKey: "key-gw\(n)", webhookSecret: secret,
                                  token: token))
        }

        let (apiPort, webhooksPort, simulatorPort) = (try ChildProcess.freePort(), try ChildProcess.freePort(),
                                                       try ChildProcess.freePort())
        let environment = scratch.childEnvironment(database: database, masterKey: masterKey,
                                                   topologyPath: options.topologyPath,
                                                   managementURL: options.managementURL)
        let simulator = try ChildProcess(
            [options.executable, "serve", "simulator", "--simulator-listen", "127.0.0.1:\(simulatorPort)",
             "--webhooks-url", "http://127.0.0.1:\(webhooksPort)"],
            environment: environment, logPath: logPath(scratch, "simulator"))
        let gateway = try ChildProcess(
            [options.executable, "serve", "all", "--skip-topology", "--listen", "127.0.0.1:\(apiPort)",
             "--webhooks-listen", "127.0.0.1:\(webhooksPort)", "--simulator-url", "http://127.0.0.1:\(simulatorPort)/api"],
            environment: environment, logPath: logPath(scratch, "gateway"))
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(
            connectionPool: .init(idleTimeout: .seconds(120),
                                  concurrentHTTP1ConnectionsPerHostSoftLimit: options.concurrency)))
        func stop() async {
            try? await client.shutdown()
            await gateway.stop()
            await simulator.stop()
        }
        do {
            let api = "http://127.0.0.1:\(apiPort)"
            let sim = "http://127.0.0.1:\(simulatorPort)"
            try await waitUntilAnswering(api + "/healthz", process: gateway, client: client)
            try await waitUntilAnswering(sim + "/_sim/sessions", process: simulator, client: client)
            // The simulator's sessions, with or without the status webhooks.
            for tenant in tenants {
                var session: [String: String] = ["id": tenant.session, "flavor": "simulator", "api_key": tenant.apiKey,
                                                 "webhook_secret": tenant.webhookSecret]
                if options.statusWebhooks {
                    session["webhook_url"] = "http://127.0.0.1:\(webhooksPort)/webhooks/simulator/\(tenant.session)"
                }
                let status = try await call(client, .PUT, sim + "/_sim/sessions/\(tenant.session)",
                                            body: try JSONSerialization.data(withJSONObject: session))
                guard (200..<300).contains(status) else { throw BenchError.setup("registering a simulated session: \(status)") }
            }
            let target: MessageState = options.statusWebhooks ? .read : .sent

            logger.info("warming up", metadata: [LogKey.count: "\(options.warmup)"])
            try await post(options.warmup, tenants: tenants, api: api, client: client)
            try await waitUntilSettled(options.warmup, target: target, store: store, tenants: tenants,
                                       gateway: gateway, connection: applier.connection)

            logger.info("measuring", metadata: [LogKey.count: "\(options.messages)"])
            let broker = CPUSample.now(broker: configuration).broker
            let (gatewayBefore, simulatorBefore) = (gateway.cpuSeconds, simulator.cpuSeconds)
            let countersBefore = await brokerCounters(client)
            let clock = ContinuousClock()
            let started = clock.now
            try await post(options.messages, tenants: tenants, api: api, client: client)
            try await waitUntilSettled(options.warmup + options.messages, target: target, store: store, tenants: tenants,
                                       gateway: gateway, connection: applier.connection)
            let seconds = (clock.now - started).seconds
            let brokerAfter = CPUSample.now(broker: configuration).broker
            let (gatewayAfter, simulatorAfter) = (gateway.cpuSeconds, simulator.cpuSeconds)
            let countersAfter = await brokerCounters(client)
            let states = try await store.messageCounts()
            await stop()

            let count = Double(options.messages)
            func perMessage(_ before: Double, _ after: Double) -> Double { (after - before) * 1_000_000 / count }
            let brokerMicroseconds = broker.flatMap { before in brokerAfter.map { perMessage(before, $0) } }
            let gatewayMicroseconds = perMessage(gatewayBefore, gatewayAfter)
            var work: Report.BrokerWork?
            if let before = countersBefore, let after = countersAfter {
                func delta(_ name: String) -> Double { ((after[name] ?? 0) - (before[name] ?? 0)) / count }
                work = Report.BrokerWork(
                    published: delta("rabbitmq_global_messages_received_total"),
                    routed: delta("rabbitmq_global_messages_routed_total"),
                    delivered: delta("rabbitmq_global_messages_delivered_total"),
                    acknowledged: delta("rabbitmq_global_messages_acknowledged_total"),
                    confirmed: delta("rabbitmq_global_messages_confirmed_total"))
            }
            return Report(
                messages: options.messages, tenants: options.tenants, statusWebhooks: options.statusWebhooks,
                seconds: seconds, messagesPerSecond: count / seconds, gatewayMicroseconds: gatewayMicroseconds,
                simulatorMicroseconds: perMessage(simulatorBefore, simulatorAfter), brokerMicroseconds: brokerMicroseconds,
                totalMicroseconds: gatewayMicroseconds + (brokerMicroseconds ?? 0), brokerPerMessage: work,
                states: Dictionary(uniqueKeysWithValues: states.map { ($0.key.rawValue, $0.value) }))
        } catch {
            await stop()
            throw error
        }
    }

    /// Where a process's output goes: beside the scratch directory, so it outlives the run.
    private func logPath(_ scratch: BenchScratch, _ process: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("\(scratch.virtualHost)-\(process).log").path
    }

    /// `amqp://user:password@host:port/vhost` for a child process, one per endpoint
    /// (comma-separated) when the configuration names a cluster's nodes.
    public static func url(of configuration: AMQPConfiguration) -> String {
        func escape(_ text: String) -> String {
            text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(.init(charactersIn: "-._~"))) ?? text
        }
        return configuration.endpoints.map { endpoint in
            "amqp://\(escape(configuration.user)):\(escape(configuration.password))@\(endpoint.host):"
                + "\(endpoint.port)/\(escape(configuration.virtualHost))"
        }.joined(separator: ",")
    }

    private func waitUntilAnswering(_ url: String, process: ChildProcess, client: HTTPClient) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            guard process.isRunning else { throw BenchError.setup("\(process.command) exited:\n\(process.tail)") }
            if let status = try? await call(client, .GET, url), status == 200 { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw BenchError.timedOut("\(url) did not answer:\n\(process.tail)")
    }

    /// Posts `count` messages round robin over the tenants from `concurrency` clients.
    private func post(_ count: Int, tenants: [BenchTenant], api: String, client: HTTPClient) async throws {
        let counter = SharedCounter()
        let refused = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<options.concurrency {
                group.addTask {
                    var refused = 0
                    while let n = counter.next(below: count) {
                        let tenant = tenants[n % tenants.count]
                        let body = Data(#"{"to":"+1415556\#(String(format: "%04d", n % 10_000))","text":"gateway bench \#(n)"}"#.utf8)
                        let status = try await call(client, .POST, api + "/v1/messages", body: body, token: tenant.token)
                        if status != 202 { refused += 1 }
                    }
                    return refused
                }
            }
            return try await group.reduce(0, +)
        }
        guard refused == 0 else { throw BenchError.setup("\(refused) of \(count) messages were not accepted") }
    }

    /// Waits until `total` messages are in `target` (or past it) and every queue is empty.
    private func waitUntilSettled(_ total: Int, target: MessageState, store: SQLiteStore, tenants: [BenchTenant],
                                  gateway: ChildProcess, connection: AMQPConnection) async throws {
        let deadline = ContinuousClock.now + .seconds(max(120, total / 50))
        let queues = topology.objects(tenants: tenants.map { TenantProvision(id: $0.id) }).queues.map(\.name)
        var last: [MessageState: Int] = [:]
        while ContinuousClock.now < deadline {
            guard gateway.isRunning else { throw BenchError.setup("the gateway exited:\n\(gateway.tail)") }
            last = try await store.messageCounts()
            if last[target, default: 0] >= total {
                var depth = 0
                for queue in queues {
                    depth += Int((try? await connection.inspectQueue(queue).messageCount) ?? 0)
                }
                if depth == 0 { return }
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw BenchError.timedOut("\(last[target, default: 0]) of \(total) messages \(target.rawValue): \(last); "
            + "the processes' output: \(gateway.logPath) and beside it")
    }

    /// RabbitMQ's global counters (`rabbitmq_global_*_total`, summed over protocols), or
    /// nil when its Prometheus endpoint does not answer.
    private func brokerCounters(_ client: HTTPClient) async -> [String: Double]? {
        var request = HTTPClientRequest(url: options.prometheusURL)
        request.method = .GET
        guard let response = try? await client.execute(request, timeout: .seconds(10)), response.status == .ok,
              let body = try? await response.body.collect(upTo: 32 << 20)
        else { return nil }
        var counters: [String: Double] = [:]
        for line in String(buffer: body).split(separator: "\n") where line.hasPrefix("rabbitmq_global_") {
            let parts = line.split(separator: " ")
            guard parts.count >= 2, let value = Double(parts[1]) else { continue }
            let name = String(parts[0].prefix { $0 != "{" })
            counters[name, default: 0] += value
        }
        return counters
    }

    private func call(_ client: HTTPClient, _ method: HTTPMethod, _ url: String, body: Data? = nil,
                      token: String? = nil) async throws -> Int {
        try await client.benchCall(method, url, json: body, bearer: token).status
    }
}
