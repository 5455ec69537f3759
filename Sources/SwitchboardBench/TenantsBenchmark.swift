import AsyncHTTPClient
import Crypto
import Foundation
public import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
public import SwitchboardAMQP
import SwitchboardApp
public import SwitchboardBroker
public import SwitchboardCore
import SwitchboardSimulator
import SwitchboardStore

/// `switchboard bench tenants`: onboarding thousands of tenants as a platform does, on
/// the whole gateway (`serve all`'s services with the simulator, in this process, over a
/// scratch vhost and store): tenants created through `POST /v1/tenants` (with a session
/// each) and through `POST /v1/tenants/batch`; then the latency of a single creation
/// with every tenant present, the dispatcher's consumers, lanes and channels, the idle
/// CPU and memory, and how soon a message to a tenant created last is sent.
public struct TenantsBenchmark: Sendable {
    public struct Options: Sendable {
        /// Tenants in all (each with one connected simulator session).
        public var tenants = 10_000
        /// Of these, created one by one through `POST /v1/tenants` and `…/sessions`.
        public var throughSingleCreates = 1_000
        /// Clients creating tenants one by one at once.
        public var concurrency = 32
        /// Tenants per `POST /v1/tenants/batch`.
        public var batchSize = 1_000
        /// Single creations timed one after another once every tenant exists.
        public var probes = 200
        /// Seconds of idle measured.
        public var idleSeconds = 30

        public init() {}
    }

    public struct Report: BenchReport {
        public let scenario = "tenants"
        public let tenants: Int
        public let singleCreates: Phase
        /// `POST /v1/tenants` while `concurrency` clients create tenants one by one.
        public let createUnderConcurrencyMs: LatencySummary
        public let batches: Phase
        /// `POST /v1/tenants` one at a time with every tenant present.
        public let createAtFullSizeMs: LatencySummary
        /// `POST /v1/tenants/{t}/sessions` likewise.
        public let addSessionAtFullSizeMs: LatencySummary
        /// Tenant queues with a consumer (every one, or the benchmark fails).
        public let consumers: Int
        /// Tenant consumers on each of the dispatcher's lane connections (as it counts them).
        public let laneLoad: [Int]
        /// Idle, in percent of one core.
        public let idleGatewayCPUPercent: Double
        public let idleBrokerCPUPercent: Double?
        public let gatewayRSSMegabytes: Double
        public let brokerRSSMegabytes: Double?
        /// From the start of the last tenant's creation until its first message was sent.
        public let lastTenantFirstSendMs: Double

        /// Tenants created in one phase, and how fast.
        public struct Phase: Codable, Sendable {
            public let tenants: Int
            public let seconds: Double
            public let tenantsPerSecond: Double
            public let failed: Int
        }

        public var summary: [String] {
            func megabytes(_ value: Double?) -> String { value.map { String(format: "%.0f MB", $0) } ?? "n/a" }
            func percent(_ value: Double?) -> String { value.map { String(format: "%.2f %%", $0) } ?? "n/a" }
            return [
                "tenants: \(tenants) with one simulator session each, whole gateway in this process",
                String(format: "  one by one (POST /v1/tenants + …/sessions): %d in %.1f s = %.0f tenants/s, %d failed",
                       singleCreates.tenants, singleCreates.seconds, singleCreates.tenantsPerSecond, singleCreates.failed),
                String(format: "    POST /v1/tenants ms at that concurrency: p50 %.1f  p99 %.1f  max %.1f",
                       createUnderConcurrencyMs.p50, createUnderConcurrencyMs.p99, createUnderConcurrencyMs.max),
                String(format: "  batches (POST /v1/tenants/batch):          %d in %.1f s = %.0f tenants/s, %d failed",
                       batches.tenants, batches.seconds, batches.tenantsPerSecond, batches.failed),
                String(format: "  at %d tenants, POST /v1/tenants ms:  p50 %.1f  p99 %.1f  max %.1f", tenants,
                       createAtFullSizeMs.p50, createAtFullSizeMs.p99, createAtFullSizeMs.max),
                String(format: "  at %d tenants, POST …/sessions ms:   p50 %.1f  p99 %.1f  max %.1f", tenants,
                       addSessionAtFullSizeMs.p50, addSessionAtFullSizeMs.p99, addSessionAtFullSizeMs.max),
                "  dispatcher: \(consumers) tenant queues consumed, over \(laneLoad.count) lane connections holding \(laneLoad)",
                "  idle: gateway \(percent(idleGatewayCPUPercent)) of a core, broker \(percent(idleBrokerCPUPercent))",
                "  memory: gateway \(megabytes(gatewayRSSMegabytes)) RSS, broker \(megabytes(brokerRSSMegabytes))",
                String(format: "  a message to the tenant created last: sent %.0f ms after its creation began",
                       lastTenantFirstSendMs),
            ]
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
                                            connectionName: "bench-tenants", logger: logger) { scratch, connection, _ in
            try await onWholeGateway(scratch: scratch, connection: connection)
        }
    }

    private func onWholeGateway(scratch: BenchScratch, connection: AMQPConnection) async throws -> Report {
        var quiet = logger
        quiet.logLevel = .warning
        let simulator = try await EmbeddedSimulator.start(logger: quiet)
        var amqp = scratch.configuration
        amqp.connectionName = "bench"
        let gateway = try await Gateway.build(GatewayConfiguration(
            services: GatewayService.gateway, amqp: amqp, topology: topology, management: management,
            database: .init(path: scratch.directory.appendingPathComponent("bench.sqlite").path,
                            secretBox: try SecretBox(masterKey: SymmetricKey(size: .bits256))),
            applyTopology: false, api: .init(port: 0), webhooks: .init(port: 0),
            simulatorBaseURL: simulator.baseURL + "/api"), logger: quiet)
        let running = Task { try await gateway.run() }
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(
            connectionPool: .init(idleTimeout: .seconds(120),
                                  concurrentHTTP1ConnectionsPerHostSoftLimit: options.concurrency)))
        func stop() async {
            try? await client.shutdown()
            await gateway.triggerGracefulShutdown()
            _ = try? await running.value
            try? await simulator.stop()
        }
        do {
            let admin = try await gateway.store.createKey(scope: .admin, label: "bench").token
            let api = API(client: client, baseURL: "http://127.0.0.1:\(try await gateway.port(of: .api))", key: admin)
            let report = try await measure(api: api, gateway: gateway, simulator: simulator, connection: connection)
            await stop()
            return report
        } catch {
            await stop()
            throw error
        }
    }

    private func measure(api: API, gateway: Gateway, simulator: EmbeddedSimulator,
                         connection: AMQPConnection) async throws -> Report {
        let clock = ContinuousClock()
        let total = options.tenants
        let probes = min(options.probes, total)
        let singles = min(options.throughSingleCreates, total - probes)
        let batched = total - probes - singles
        func id(_ n: Int) -> String { String(format: "bench%05d", n) }

        // 1. One by one, from many clients.
        logger.info("creating tenants one by one", metadata: [LogKey.count: "\(singles)"])
        let counter = SharedCounter()
        let concurrentCreates = LatencyRecorder()
        var started = clock.now
        let singleFailures = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<options.concurrency {
                group.addTask {
                    var failures = 0
                    while let n = counter.next(below: singles) {
                        guard let (create, _) = try await api.createTenant(id(n)) else {
                            failures += 1
                            continue
                        }
                        concurrentCreates.record(micros: UInt64(create.nanoseconds / 1000))
                    }
                    return failures
                }
            }
            return try await group.reduce(0, +)
        }
        let singlePhase = Report.Phase(tenants: singles, seconds: (clock.now - started).seconds,
                                       tenantsPerSecond: Double(singles) / (clock.now - started).seconds,
                                       failed: singleFailures)

        // 2. In batches.
        logger.info("creating tenants in batches", metadata: [LogKey.count: "\(batched)"])
        started = clock.now
        var batchFailures = 0
        for first in stride(from: singles, to: singles + batched, by: options.batchSize) {
            let numbers = first..<min(first + options.batchSize, singles + batched)
            batchFailures += try await api.createBatch(numbers.map(id))
        }
        let batchPhase = Report.Phase(tenants: batched, seconds: (clock.now - started).seconds,
                                      tenantsPerSecond: Double(batched) / (clock.now - started).seconds,
                                      failed: batchFailures)

        // 3. One at a time with (nearly) every tenant present.
        logger.info("timing single creations at full size", metadata: [LogKey.count: "\(probes)"])
        let creates = LatencyRecorder()
        let sessions = LatencyRecorder()
        for n in (total - probes)..<total {
            guard let (create, session) = try await api.createTenant(id(n)) else {
                throw BenchError.setup("creating tenant \(id(n)) failed")
            }
            creates.record(micros: UInt64(create.nanoseconds / 1000))
            sessions.record(micros: UInt64(session.nanoseconds / 1000))
        }

        // 4. Every tenant consumed: asked of each queue (a passive declaration counts its
        // consumers exactly; the management API's statistics are up to a minute old).
        var unconsumed = (0..<total).map(id)
        let deadline = clock.now + .seconds(300)
        while !unconsumed.isEmpty {
            guard clock.now < deadline else { throw BenchError.timedOut("\(unconsumed.count) tenants not consumed") }
            var still: [String] = []
            for tenant in unconsumed {
                let state = try await connection.inspectQueue(topology.tenantQueue(try TenantID(tenant)))
                if state.consumerCount == 0 { still.append(tenant) }
            }
            unconsumed = still
            if !unconsumed.isEmpty { try await Task.sleep(for: .seconds(1)) }
        }
        let consumers = total

        // 5. Idle.
        logger.info("measuring idle", metadata: ["seconds": "\(options.idleSeconds)"])
        // What the creations left behind (WAL checkpoints, the broker's GC) settles first.
        try await Task.sleep(for: .seconds(min(10, options.idleSeconds)))
        let before = CPUSample.now(broker: configuration)
        let idleStart = clock.now
        try await Task.sleep(for: .seconds(options.idleSeconds))
        let after = CPUSample.now(broker: configuration)
        let idle = (clock.now - idleStart).seconds
        let memory = MemorySample.now(broker: configuration)
        let laneLoad = gateway.dispatcherLaneLoad

        // 6. A tenant created now sends at once.
        let last = "bench-last"
        try simulator.state.register(SimulatedSession(id: "\(last)-main", flavor: .wasender, apiKey: "key-\(last)",
                                                      ratePerSecond: nil))
        let creating = clock.now
        guard try await api.createTenant(last) != nil else { throw BenchError.setup("creating \(last) failed") }
        let key = try await api.tenantKey(last)
        try await api.send(to: "+14155550123", text: "welcome", key: key)
        while simulator.state.messages(session: "\(last)-main").isEmpty {
            guard clock.now - creating < .seconds(30) else { throw BenchError.timedOut("the last tenant's message") }
            try await Task.sleep(for: .milliseconds(5))
        }
        let firstSend = clock.now - creating

        return Report(
            tenants: total, singleCreates: singlePhase, createUnderConcurrencyMs: LatencySummary(concurrentCreates),
            batches: batchPhase, createAtFullSizeMs: LatencySummary(creates),
            addSessionAtFullSizeMs: LatencySummary(sessions), consumers: consumers,
            laneLoad: laneLoad,
            idleGatewayCPUPercent: (after.process - before.process) / idle * 100,
            idleBrokerCPUPercent: after.broker.flatMap { a in before.broker.map { (a - $0) / idle * 100 } },
            gatewayRSSMegabytes: Double(memory.process) / 1_000_000,
            brokerRSSMegabytes: memory.broker.map { Double($0) / 1_000_000 },
            lastTenantFirstSendMs: Double(firstSend.nanoseconds) / 1_000_000)
    }

    /// The admin calls the benchmark makes.
    private struct API: Sendable {
        let client: HTTPClient
        let baseURL: String
        let key: String

        static func sessionJSON(_ tenant: String) -> String {
            #"{"id":"\#(tenant)-main","provider":"simulator","phone_number":"+14155550100","status":"connected","credentials":{"api_key":"key-\#(tenant)"}}"#
        }

        /// Creates the tenant and its session; their latencies, nil when either failed.
        func createTenant(_ id: String) async throws -> (Duration, Duration)? {
            let clock = ContinuousClock()
            let started = clock.now
            guard try await call(.POST, "/v1/tenants", json: #"{"id":"\#(id)","name":"Tenant \#(id)","session_rate":20}"#,
                                 key: key).status == 201
            else { return nil }
            let created = clock.now
            guard try await call(.POST, "/v1/tenants/\(id)/sessions", json: Self.sessionJSON(id), key: key).status == 201
            else { return nil }
            return (created - started, clock.now - created)
        }

        /// Creates the tenants of one batch; returns how many failed.
        func createBatch(_ ids: [String]) async throws -> Int {
            let items = ids.map { #"{"id":"\#($0)","name":"Tenant \#($0)","session_rate":20,"sessions":[\#(Self.sessionJSON($0))]}"# }
            let answer = try await call(.POST, "/v1/tenants/batch", json: #"{"tenants":[\#(items.joined(separator: ","))]}"#,
                                        key: key, timeout: .seconds(300))
            struct Answer: Decodable { let created: Int }
            guard answer.status == 200, let created = try? JSONDecoder().decode(Answer.self, from: answer.body) else {
                throw BenchError.setup("batch answered \(answer.status): \(String(decoding: answer.body.prefix(300), as: UTF8.self))")
            }
            return ids.count - created.created
        }

        func tenantKey(_ tenant: String) async throws -> String {
            let answer = try await call(.POST, "/v1/tenants/\(tenant)/keys", json: "{}", key: key)
            struct Answer: Decodable { let token: String }
            guard let token = try? JSONDecoder().decode(Answer.self, from: answer.body).token else {
                throw BenchError.setup("creating a key answered \(answer.status)")
            }
            return token
        }

        func send(to: String, text: String, key: String) async throws {
            let answer = try await call(.POST, "/v1/messages", json: #"{"to":"\#(to)","text":"\#(text)"}"#, key: key)
            guard answer.status == 202 else { throw BenchError.setup("sending answered \(answer.status)") }
        }

        private func call(_ method: HTTPMethod, _ path: String, json: String, key: String,
                          timeout: TimeAmount = .seconds(30)) async throws -> (status: Int, body: Data) {
            try await client.benchCall(method, baseURL + path, json: Data(json.utf8), bearer: key, timeout: timeout)
        }
    }
}
