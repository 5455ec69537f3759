import AsyncHTTPClient
import Crypto
import Foundation
import Synchronization
public import Logging
import NIOCore
import NIOFoundationCompat
public import SwitchboardAMQP
import SwitchboardApp
public import SwitchboardBroker
import SwitchboardAPI
public import SwitchboardCore
import SwitchboardRegistry
import SwitchboardStore

/// `switchboard bench api`: `POST /v1/messages` at a fixed concurrency against the api
/// service, each 202 given only after the broker's confirm. By default it runs the
/// service in-process over a scratch virtual host and a scratch SQLite file, and checks
/// afterwards that the tenant's queue holds exactly the accepted messages.
public struct APIBenchmark: Sendable {
    public struct Options: Sendable {
        public var messages = 50_000
        public var concurrency = 64
        public var warmup = 2_000
        /// A running api service to target instead of an in-process one (with `apiKey`).
        public var externalURL: String?
        public var apiKey: String?
        /// Keep the process's metrics (the default); off, what their overhead is measured against.
        public var metrics = true
        /// A `postgres://` URL to keep the store on (a scratch schema there); nil: a SQLite file.
        public var database: String?

        public init() {}
    }

    public struct Report: BenchReport {
        public let scenario = "api"
        public let messages: Int
        public let concurrency: Int
        public let seconds: Double
        public let acceptedPerSecond: Double
        public let accepted: Int
        /// Answers other than 202, by status.
        public let rejected: [String: Int]
        public let latencyMs: LatencySummary
        /// Messages in the tenant's queue afterwards (in-process runs only).
        public let queued: Int?
        /// CPU per accepted message of this process (the api and the load generator
        /// together) and of the local broker, over the measured part.
        public let cpuPerMessage: CPUCost
        /// Whether the api kept its metrics.
        public let metrics: Bool

        public var summary: [String] {
            var lines = [
                "api: \(messages) POST /v1/messages at concurrency \(concurrency), confirm before 202",
                String(format: "  accepted:   %d in %.2f s = %.0f messages/s", accepted, seconds, acceptedPerSecond),
                String(format: "  latency ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f", latencyMs.p50, latencyMs.p90,
                       latencyMs.p99, latencyMs.max),
            ]
            if !rejected.isEmpty { lines.append("  rejected:   \(rejected.sorted { $0.key < $1.key })") }
            lines.append("  CPU per message: \(cpuPerMessage.text) (this process: the api and the load generator)")
            lines.append("  metrics: \(metrics ? "on" : "off")")
            if let queued { lines.append("  in the tenant's queue afterwards: \(queued) (warm-up included)") }
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
        if let url = options.externalURL {
            guard let key = options.apiKey else { throw BenchError.setup("--url needs --key (a tenant key)") }
            return try await load(baseURL: url, key: key, queuedAfterwards: { nil })
        }
        return try await BenchScratch.with(configuration, management: management, database: options.database) { scratch in
            try await scratch.withConnection("bench-api", logger: logger) { connection in
                try await inProcess(scratch: scratch, connection: connection)
            }
        }
    }

    /// The api as `switchboard serve api` builds it (the composition root), loaded over HTTP.
    private func inProcess(scratch: BenchScratch, connection: AMQPConnection) async throws -> Report {
        let applier = TopologyApplier(topology: topology, connection: connection, management: management, logger: logger)
        try await applier.apply()
        var quiet = logger
        quiet.logLevel = .warning
        var amqp = scratch.configuration
        amqp.connectionName = "bench"
        var process = GatewayConfiguration(
            services: [.api], amqp: amqp, topology: topology, management: management,
            database: .init(location: scratch.store,
                            secretBox: try SecretBox(masterKey: SymmetricKey(size: .bits256))),
            applyTopology: false, api: .init(port: 0))
        process.telemetry = options.metrics ? .prometheus() : .off()
        let gateway = try await Gateway.build(process, logger: quiet)
        let running = Task { try await gateway.run() }
        do {
            let store = gateway.store
            let registry = TenantRegistry(store: store, broker: applier, logger: logger)
            let tenant = try TenantID("bench")
            _ = try await registry.create(Tenant(id: tenant, name: "Benchmark"))
            try await store.addSession(
                Session(id: try SessionID("bench-main"), tenant: tenant, provider: .simulator,
                        phoneNumber: try PhoneNumber("+14155550100"), status: .connected, isPrimary: true),
                secrets: SessionSecrets(credentials: [:], webhookSecret: "bench-webhook-secret"))
            let key = try await store.createKey(scope: .tenant(tenant), label: "bench")
            let port = try await gateway.port(of: .api)
            let report = try await load(baseURL: "http://127.0.0.1:\(port)", key: key.token) {
                Int(try await connection.inspectQueue(topology.tenantQueue(tenant)).messageCount)
            }
            await gateway.triggerGracefulShutdown()
            try await running.value
            return report
        } catch {
            await gateway.triggerGracefulShutdown()
            _ = try? await running.value
            throw error
        }
    }

    private func load(baseURL: String, key: String, queuedAfterwards: () async throws -> Int?) async throws -> Report {
        var clientConfiguration = HTTPClient.Configuration()
        clientConfiguration.connectionPool = .init(idleTimeout: .seconds(60),
                                                   concurrentHTTP1ConnectionsPerHostSoftLimit: options.concurrency)
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration)
        do {
            _ = try await fire(options.warmup, client: client, baseURL: baseURL, key: key, label: "warmup")
            let latencies = LatencyRecorder()
            let clock = ContinuousClock()
            let started = clock.now
            let cpuBefore = CPUSample.now(broker: configuration, database: options.database != nil)
            let statuses = try await fire(options.messages, client: client, baseURL: baseURL, key: key, label: "run",
                                          latencies: latencies)
            let cpuAfter = CPUSample.now(broker: configuration, database: options.database != nil)
            let seconds = (clock.now - started).seconds
            try await client.shutdown()
            let accepted = statuses[202] ?? 0
            var rejected: [String: Int] = [:]
            for (status, count) in statuses where status != 202 { rejected["\(status)"] = count }
            return Report(
                messages: options.messages, concurrency: options.concurrency, seconds: seconds,
                acceptedPerSecond: Double(accepted) / seconds, accepted: accepted, rejected: rejected,
                latencyMs: LatencySummary(latencies),
                queued: try await queuedAfterwards(), cpuPerMessage: cpuBefore.cost(until: cpuAfter, messages: accepted),
                metrics: options.metrics)
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    /// Sends `count` messages from `concurrency` workers; returns the count per status
    /// (0: the request itself failed).
    private func fire(_ count: Int, client: HTTPClient, baseURL: String, key: String, label: String,
                      latencies: LatencyRecorder? = nil) async throws -> [Int: Int] {
        let counter = SharedCounter()
        return try await withThrowingTaskGroup(of: [Int: Int].self) { group in
            for _ in 0..<options.concurrency {
                group.addTask {
                    var statuses: [Int: Int] = [:]
                    let clock = ContinuousClock()
                    while let index = counter.next(below: count) {
                        var request = HTTPClientRequest(url: "\(baseURL)/v1/messages")
                        request.method = .POST
                        request.headers.add(name: "Authorization", value: "Bearer \(key)")
                        request.headers.add(name: "Content-Type", value: "application/json")
                        request.body = .bytes(ByteBuffer(string: """
                            {"to":"+1415555\(String(format: "%04d", index % 10_000))","class":"bulk",\
                            "text":"\(label) message \(index)","campaign":"bench"}
                            """))
                        let started = clock.now
                        do {
                            let response = try await client.execute(request, timeout: .seconds(30))
                            _ = try await response.body.collect(upTo: 1 << 16)
                            latencies?.record(micros: UInt64((clock.now - started).nanoseconds / 1000))
                            statuses[Int(response.status.code), default: 0] += 1
                        } catch {
                            statuses[0, default: 0] += 1
                        }
                    }
                    return statuses
                }
            }
            var total: [Int: Int] = [:]
            for try await partial in group { total.merge(partial, uniquingKeysWith: +) }
            return total
        }
    }
}

/// Hands out indexes 0..<n to many workers.
final class SharedCounter: Sendable {
    private let value = Mutex(0)

    func next(below limit: Int) -> Int? {
        value.withLock { value in
            guard value < limit else { return nil }
            defer { value += 1 }
            return value
        }
    }
}
