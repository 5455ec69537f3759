import AsyncHTTPClient
import Crypto
import Foundation
public import Logging
import ServiceLifecycle
public import SwitchboardAMQP
import SwitchboardApp
public import SwitchboardBroker
public import SwitchboardCore
import SwitchboardDispatcher
import SwitchboardProviders
import SwitchboardRegistry
import SwitchboardSimulator
import SwitchboardStore
import Synchronization

/// `switchboard bench outbound`: the outbound path end to end (broker, dispatcher,
/// provider simulator, all in a scratch virtual host and SQLite file).
///
/// - throughput: N messages over T tenants, no latency, no rate limit: messages/s from
///   the first publish to the last provider acceptance.
/// - isolation: T tenants each draining a bulk campaign at the session rate while
///   transactional messages arrive at a steady pace for those and for quiet tenants:
///   transactional latency from publish to provider acceptance, the busiest
///   one-second window of any session, and the simulator's 429s.
/// - floor: the path's three kinds of work each alone over the same messages (the
///   broker's: publish, deliver, status event, ack; the provider call; the store's
///   record), with the CPU each costs per message: their sum bounds what the whole path
///   can reach on this machine, whatever the dispatcher does.
///
/// Throughput and floor report CPU per message (this process, and the broker when it
/// runs on this machine), the figure that carries over to other hardware.
public struct OutboundBenchmark: Sendable {
    public enum Scenario: String, Sendable, CaseIterable {
        case throughput, isolation, floor
    }

    public struct Options: Sendable {
        public var scenario: Scenario = .throughput
        public var tenants = 10
        /// Throughput: messages in all.
        public var messages = 50_000
        /// Isolation: the bulk campaign of each tenant, the session rate, the simulator's
        /// latency, the transactional pace and how long it is measured.
        public var campaign = 5_000
        public var sessionRate = 50.0
        public var bulkShare = 0.8
        public var simulatorLatencyMs = 20
        public var transactionalPerSecond = 5.0
        public var seconds = 30
        public var inFlightPerTenant: UInt16 = 8
        /// Keep the process's metrics (the default); off, what their overhead is measured against.
        public var metrics = true
        /// A `postgres://` URL to keep the store on (a scratch schema there); nil: a SQLite file.
        public var database: String?

        public init() {}
    }

    public struct Report: BenchReport {
        public let scenario: String
        public let messages: Int
        public let seconds: Double
        public let acceptedPerSecond: Double?
        public let duplicates: Int
        public let transactional: Int?
        public let transactionalLatencyMs: LatencySummary?
        public let simulatorLatencyMs: Int?
        public let busiestSecond: Int
        public let sessionRate: Double?
        public let rateLimited: Int
        /// Throughput: CPU per message of the whole path.
        public let cpuPerMessage: CPUCost?
        /// Floor: each part alone.
        public let parts: [PartCost]?
        /// Floor: the processors the parts share on this machine.
        public let cores: Int?
        /// Floor: the most messages per second the parts' summed CPU allows on `cores`,
        /// when the broker's CPU is known.
        public let ceilingPerSecond: Double?

        public var summary: [String] {
            if let parts { return floorSummary(parts) }
            var lines = ["outbound \(scenario): \(messages) messages in \(String(format: "%.2f", seconds)) s"]
            if let acceptedPerSecond {
                lines.append(String(format: "  publish → provider accepted: %.0f messages/s", acceptedPerSecond))
            }
            if let cpuPerMessage {
                lines.append("  CPU per message: \(cpuPerMessage.text)")
            }
            if let transactionalLatencyMs, let transactional, let simulatorLatencyMs {
                lines.append(String(format: "  transactional (%d) publish → accepted ms: p50 %.1f  p99 %.1f  max %.1f (simulator latency %d ms)",
                                    transactional, transactionalLatencyMs.p50, transactionalLatencyMs.p99,
                                    transactionalLatencyMs.max, simulatorLatencyMs))
            }
            lines.append("  busiest one-second window of any session: \(busiestSecond)"
                         + (sessionRate.map { String(format: " (rate %.0f/s)", $0) } ?? ""))
            lines.append("  simulator 429s: \(rateLimited), duplicates: \(duplicates)")
            return lines
        }

        private func floorSummary(_ parts: [PartCost]) -> [String] {
            var lines = ["outbound floor: each part of the path alone over \(messages) messages"]
            for part in parts {
                lines.append(String(format: "  %@ (%@): %.0f/s alone", part.name, part.work, part.perSecond))
                lines.append("      CPU per message: \(part.cpuPerMessage.text)")
            }
            let total = parts.reduce(0) { $0 + $1.cpuPerMessage.totalMicroseconds }
            if let ceilingPerSecond, let cores {
                lines.append(String(format: "  sum: %.0f µs of CPU per message → at most %.0f messages/s on %d cores",
                                    total, ceilingPerSecond, cores))
            } else {
                lines.append(String(format: "  sum: %.0f µs of this process's CPU per message (broker not on this machine)",
                                    total))
            }
            return lines
        }
    }

    /// One part of the outbound path measured alone.
    public struct PartCost: Codable, Sendable, Hashable {
        public let name: String
        public let work: String
        public let seconds: Double
        public let perSecond: Double
        public let cpuPerMessage: CPUCost
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
        try await BenchScratch.with(configuration, management: management, database: options.database) { scratch in
            try await scratch.withConnection("bench-outbound", logger: logger) { publisher in
                try await measure(scratch: scratch, publisher: publisher)
            }
        }
    }

    private func measure(scratch: BenchScratch, publisher: AMQPConnection) async throws -> Report {
        let simulator = try await EmbeddedSimulator.start(logger: quiet)
        do {
            let applier = TopologyApplier(topology: topology, connection: publisher, management: management, logger: logger)
            try await applier.apply()
            let database = GatewayConfiguration.Database(
                location: scratch.store, secretBox: try SecretBox(masterKey: SymmetricKey(size: .bits256)))
            let report: Report
            if options.scenario == .floor {
                report = try await floor(scratch: scratch, database: database, applier: applier, publisher: publisher,
                                         simulator: simulator)
            } else {
                report = try await throughOneDispatcher(scratch: scratch, database: database, applier: applier,
                                                        publisher: publisher, simulator: simulator)
            }
            try? await simulator.stop()
            return report
        } catch {
            try? await simulator.stop()
            throw error
        }
    }

    /// The isolation and throughput scenarios: a dispatcher process as `switchboard serve
    /// dispatcher` builds it, through the composition root.
    private func throughOneDispatcher(scratch: BenchScratch, database: GatewayConfiguration.Database,
                                      applier: TopologyApplier, publisher: AMQPConnection,
                                      simulator: EmbeddedSimulator) async throws -> Report {
        var amqp = scratch.configuration
        amqp.connectionName = "bench"
        var process = GatewayConfiguration(
            services: [.dispatcher], amqp: amqp, topology: topology, management: management, database: database,
            applyTopology: false, simulatorBaseURL: simulator.baseURL + "/api",
            dispatcher: .init(inFlightPerTenant: options.inFlightPerTenant, refreshInterval: .milliseconds(500)))
        process.telemetry = options.metrics ? .prometheus() : .off()
        let gateway = try await Gateway.build(process, logger: quiet)
        let running = Task { try await gateway.run() }
        let bench = Run(options: options, broker: configuration, topology: topology, store: gateway.store,
                        registry: TenantRegistry(store: gateway.store, broker: applier, logger: quiet),
                        simulator: simulator, publisher: publisher)
        let report: Report
        do {
            report = options.scenario == .isolation ? try await bench.isolation() : try await bench.throughput()
        } catch {
            await gateway.triggerGracefulShutdown()
            _ = try? await running.value
            throw error
        }
        await gateway.triggerGracefulShutdown()
        _ = try? await running.value
        return report
    }

    /// The floor scenario: the path's parts alone, with no dispatcher.
    private func floor(scratch: BenchScratch, database: GatewayConfiguration.Database, applier: TopologyApplier,
                       publisher: AMQPConnection, simulator: EmbeddedSimulator) async throws -> Report {
        try await scratch.withConnection("bench-relay", logger: logger) { relay in
            let store = try await database.location.open(secretBox: database.secretBox, logger: quiet)
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            let bench = Run(options: options, broker: configuration, topology: topology, store: store,
                            registry: TenantRegistry(store: store, broker: applier, logger: quiet),
                            simulator: simulator, publisher: publisher)
            do {
                let report = try await bench.floor(
                    relay: relay, providers: ProviderDirectory(http: http, simulatorBaseURL: simulator.baseURL + "/api"))
                try await http.shutdown()
                return report
            } catch {
                try? await http.shutdown()
                throw error
            }
        }
    }

    private var quiet: Logger {
        var logger = logger
        logger.logLevel = .warning
        return logger
    }

    /// One run's tenants, publishing and measuring.
    private struct Run {
        let options: Options
        let broker: AMQPConfiguration
        let topology: Topology
        let store: any GatewayStore
        let registry: TenantRegistry
        let simulator: EmbeddedSimulator
        let publisher: AMQPConnection

        func addTenant(_ id: String, rate: Double, bulkShare: Double, simulatorRate: Double?, latencyMs: Int) async throws {
            let tenant = try TenantID(id)
            _ = try await registry.create(Tenant(id: tenant, name: id,
                                                 limits: TenantLimits(sessionRate: rate, bulkShare: bulkShare)))
            try await store.addSession(
                Session(id: try SessionID("\(id)-main"), tenant: tenant, provider: .simulator,
                        phoneNumber: try PhoneNumber("+14155550100"), status: .connected, isPrimary: true),
                secrets: SessionSecrets(credentials: ["api_key": "key-\(id)"], webhookSecret: "bench-\(id)-webhook-secret"))
            try simulator.state.register(SimulatedSession(
                id: "\(id)-main", flavor: .wasender, apiKey: "key-\(id)", ratePerSecond: simulatorRate,
                behaviour: SimulatorBehaviour(latencyMs: latencyMs, statusDelaysMs: .none)))
        }

        func envelope(_ tenant: String, _ text: String, _ messageClass: MessageClass) throws -> OutboundEnvelope {
            OutboundEnvelope(id: MessageID.make(), tenant: try TenantID(tenant), messageClass: messageClass,
                             to: try PhoneNumber("+14155550123"), text: text)
        }

        /// Publishes with confirm from 64 concurrent publishers.
        func publishAll(_ envelopes: [OutboundEnvelope]) async throws {
            let counter = SharedCounter()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<64 {
                    group.addTask {
                        while let index = counter.next(below: envelopes.count) {
                            let envelope = envelopes[index]
                            try await publisher.publish(try envelope.wireBody(), exchange: topology.roles.outbound,
                                                        routingKey: envelope.routingKey,
                                                        properties: envelope.amqpProperties())
                        }
                    }
                }
                try await group.waitForAll()
            }
        }

        func accepted() -> [SimulatedMessage] { simulator.state.messages() }

        func waitForAccepted(_ count: Int, timeout: Duration) async throws {
            let deadline = ContinuousClock.now + timeout
            while simulator.state.stats().sessions.values.reduce(0, { $0 + $1.accepted }) < count {
                guard ContinuousClock.now < deadline else {
                    throw BenchError.timedOut("\(count) messages not all accepted by the simulator")
                }
                try await Task.sleep(for: .milliseconds(50))
            }
        }

        func throughput() async throws -> Report {
            let tenants = (0..<options.tenants).map { "bench-\($0)" }
            for tenant in tenants {
                try await addTenant(tenant, rate: 1000, bulkShare: 1, simulatorRate: nil, latencyMs: 0)
            }
            try await Task.sleep(for: .seconds(1))  // the dispatcher picks the tenants up
            let envelopes = try (0..<options.messages).map { index in
                try envelope(tenants[index % tenants.count], "m\(index)", .bulk)
            }
            let started = Date()
            let cpuBefore = CPUSample.now(broker: broker, database: options.database != nil)
            try await publishAll(envelopes)
            try await waitForAccepted(options.messages, timeout: .seconds(600))
            let cpu = cpuBefore.cost(until: CPUSample.now(broker: broker, database: options.database != nil), messages: options.messages)
            let messages = accepted()
            let last = messages.map(\.acceptedAt).max() ?? Date()
            let seconds = last.timeIntervalSince(started)
            let stats = simulator.state.stats()
            return Report(
                scenario: "throughput", messages: options.messages, seconds: seconds,
                acceptedPerSecond: Double(options.messages) / seconds,
                duplicates: messages.count - Set(messages.compactMap(\.text)).count, transactional: nil,
                transactionalLatencyMs: nil, simulatorLatencyMs: nil,
                busiestSecond: stats.sessions.values.map(\.maxPerSecond).max() ?? 0, sessionRate: nil,
                rateLimited: stats.sessions.values.reduce(0) { $0 + $1.rateLimited }, cpuPerMessage: cpu, parts: nil,
                cores: nil, ceilingPerSecond: nil)
        }

        func isolation() async throws -> Report {
            let campaigners = (0..<options.tenants).map { "campaign-\($0)" }
            let quiet = ["quiet-0", "quiet-1"]
            for tenant in campaigners + quiet {
                try await addTenant(tenant, rate: options.sessionRate, bulkShare: options.bulkShare,
                                    simulatorRate: options.sessionRate, latencyMs: options.simulatorLatencyMs)
            }
            try await Task.sleep(for: .seconds(1))
            let campaign = try campaigners.flatMap { tenant in
                try (0..<options.campaign).map { try envelope(tenant, "bulk \(tenant) \($0)", .bulk) }
            }
            try await publishAll(campaign)
            // Transactional messages at a steady pace, round robin over every tenant.
            let everyone = campaigners + quiet
            var published: [String: Date] = [:]
            let interval = Duration.milliseconds(Int64(1000 / options.transactionalPerSecond))
            let count = Int(Double(options.seconds) * options.transactionalPerSecond)
            let clock = ContinuousClock()
            var next = clock.now
            for index in 0..<count {
                try await clock.sleep(until: next)
                next += interval
                let message = try envelope(everyone[index % everyone.count], "tx \(index)", .transactional)
                published["tx \(index)"] = Date()
                try await publisher.publish(try message.wireBody(), exchange: topology.roles.outbound,
                                            routingKey: message.routingKey, properties: message.amqpProperties())
            }
            // Let the last transactional messages land.
            let deadline = clock.now + .seconds(30)
            var latencies: [Double] = []
            while clock.now < deadline {
                let arrived = accepted().filter { $0.text?.hasPrefix("tx ") == true }
                if arrived.count >= count {
                    latencies = arrived.compactMap { message in
                        published[message.text ?? ""].map { message.acceptedAt.timeIntervalSince($0) * 1000 }
                    }
                    break
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            guard !latencies.isEmpty else { throw BenchError.timedOut("transactional messages not all accepted") }
            latencies.sort()
            func percentile(_ p: Double) -> Double { latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] }
            let stats = simulator.state.stats()
            let all = accepted()
            return Report(
                scenario: "isolation", messages: all.count, seconds: Double(options.seconds), acceptedPerSecond: nil,
                duplicates: all.count - Set(all.compactMap(\.text)).count, transactional: latencies.count,
                transactionalLatencyMs: LatencySummary(p50: percentile(0.5), p90: percentile(0.9), p99: percentile(0.99),
                                                       max: latencies.last ?? 0),
                simulatorLatencyMs: options.simulatorLatencyMs,
                busiestSecond: stats.sessions.values.map(\.maxPerSecond).max() ?? 0, sessionRate: options.sessionRate,
                rateLimited: stats.sessions.values.reduce(0) { $0 + $1.rateLimited }, cpuPerMessage: nil, parts: nil,
                cores: nil, ceilingPerSecond: nil)
        }

        /// The path's parts one after the other, each over its own copy of the messages,
        /// with as many in flight as the dispatcher would have (tenants × in flight):
        /// 1. broker: publish with confirm (as `throughput` does), deliver from the tenant
        ///    queues, publish the `message.status` event with confirm, ack; no provider, no store;
        /// 2. provider: the WasenderAPI-shaped send to the simulator (AsyncHTTPClient there,
        ///    Hummingbird back);
        /// 3. store: `recordSent`, the record that stops a second send.
        func floor(relay: AMQPConnection, providers: ProviderDirectory) async throws -> Report {
            let tenants = (0..<options.tenants).map { "floor-\($0)" }
            for tenant in tenants {
                try await addTenant(tenant, rate: 1000, bulkShare: 1, simulatorRate: nil, latencyMs: 0)
            }
            let concurrency = options.tenants * Int(options.inFlightPerTenant)
            func envelopes(_ part: String) throws -> [OutboundEnvelope] {
                try (0..<options.messages).map { try envelope(tenants[$0 % tenants.count], "\(part) \($0)", .bulk) }
            }
            func measured(_ name: String, _ work: String, _ body: () async throws -> Void) async throws -> PartCost {
                let clock = ContinuousClock()
                let started = clock.now
                let before = CPUSample.now(broker: broker, database: options.database != nil)
                try await body()
                let cost = before.cost(until: CPUSample.now(broker: broker, database: options.database != nil), messages: options.messages)
                let seconds = (clock.now - started).seconds
                return PartCost(name: name, work: work, seconds: seconds, perSecond: Double(options.messages) / seconds,
                                cpuPerMessage: cost)
            }
            var parts: [PartCost] = []

            let relayed = try envelopes("broker")
            parts.append(try await measured("broker", "publish, deliver, status event, ack") {
                try await relayAll(relayed, through: relay, tenants: tenants)
            })

            let sent = try envelopes("provider")
            var senders: [TenantID: (Session, SessionSecrets)] = [:]
            for tenant in tenants {
                let id = try TenantID(tenant)
                guard let session = try await store.sessions(of: id).first else {
                    throw BenchError.setup("tenant \(tenant) has no session")
                }
                senders[id] = (session, try await store.secrets(of: session.id))
            }
            let sessions = senders
            guard let provider = providers.client(for: .simulator) else {
                throw BenchError.setup("the simulator provider is not registered")
            }
            parts.append(try await measured("provider", "HTTP send to the simulator") {
                try await concurrently(sent.count, tasks: concurrency) { index in
                    let envelope = sent[index]
                    guard let (session, secrets) = sessions[envelope.tenant] else {
                        throw BenchError.setup("no session for tenant \(envelope.tenant)")
                    }
                    _ = try await provider.send(envelope, through: session, secrets: secrets)
                }
            })

            let recorded = try envelopes("store")
            parts.append(try await measured("store", "record the provider's acceptance") {
                try await concurrently(recorded.count, tasks: concurrency) { index in
                    let envelope = recorded[index]
                    try await store.recordSent(envelope, session: try SessionID("\(envelope.tenant)-main"),
                                               providerMessageID: "floor-\(index)", at: Date())
                }
            })

            let cores = ProcessInfo.processInfo.activeProcessorCount
            let cpu = parts.reduce(0) { $0 + $1.cpuPerMessage.totalMicroseconds }
            let brokerMeasured = parts.allSatisfy { $0.cpuPerMessage.brokerMicroseconds != nil }
            return Report(
                scenario: "floor", messages: options.messages, seconds: parts.reduce(0) { $0 + $1.seconds },
                acceptedPerSecond: nil, duplicates: 0, transactional: nil, transactionalLatencyMs: nil,
                simulatorLatencyMs: nil, busiestSecond: 0, sessionRate: nil, rateLimited: 0, cpuPerMessage: nil,
                parts: parts, cores: cores,
                ceilingPerSecond: brokerMeasured && cpu > 0 ? Double(cores) * 1_000_000 / cpu : nil)
        }

        /// Runs `body` for every index below `count` from `tasks` concurrent tasks.
        private func concurrently(_ count: Int, tasks: Int,
                                  _ body: @escaping @Sendable (Int) async throws -> Void) async throws {
            let counter = SharedCounter()
            try await withThrowingDiscardingTaskGroup { group in
                for _ in 0..<tasks {
                    group.addTask {
                        while let index = counter.next(below: count) { try await body(index) }
                    }
                }
            }
        }

        /// The dispatcher's broker work without its provider and store: every tenant queue
        /// consumed with the dispatcher's prefetch, each delivery decoded, its `sent` event
        /// published with confirm, then acknowledged; returns when all are.
        private func relayAll(_ envelopes: [OutboundEnvelope], through relay: AMQPConnection,
                              tenants: [String]) async throws {
            let remaining = Countdown(envelopes.count)
            var consumers: [AMQPConsumer] = []
            for tenant in tenants {
                consumers.append(try await relay.consume(
                    queue: topology.tenantQueue(try TenantID(tenant)),
                    options: AMQPConsumeOptions(prefetch: options.inFlightPerTenant)))
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for consumer in consumers {
                    group.addTask {
                        try await withThrowingDiscardingTaskGroup { deliveries in
                            for try await delivery in consumer {
                                deliveries.addTask {
                                    let envelope = try WireJSON.sharedDecoder.decode(OutboundEnvelope.self,
                                                                                     from: delivery.body)
                                    try await relay.publish(.messageStatus(
                                        .init(status: .sent, messageID: envelope.id,
                                              providerMessageID: "floor-\(envelope.id)"),
                                        tenant: envelope.tenant, session: try SessionID("\(envelope.tenant)-main"),
                                        provider: .simulator, at: Date()), over: topology.roles)
                                    try await delivery.ack()
                                    remaining.tick()
                                }
                            }
                        }
                    }
                }
                try await publishAll(envelopes)
                let deadline = ContinuousClock.now + .seconds(max(60, envelopes.count / 100))
                while !remaining.isDone {
                    guard ContinuousClock.now < deadline else {
                        throw BenchError.timedOut("the relay did not settle every message")
                    }
                    try await Task.sleep(for: .milliseconds(5))
                }
                for consumer in consumers { await consumer.cancel() }
                try await group.waitForAll()
            }
        }
    }
}

/// Work left for many tasks to count down.
private final class Countdown: Sendable {
    private let left: Atomic<Int>

    init(_ count: Int) { left = Atomic(count) }

    func tick() { left.subtract(1, ordering: .relaxed) }

    var isDone: Bool { left.load(ordering: .relaxed) <= 0 }
}
