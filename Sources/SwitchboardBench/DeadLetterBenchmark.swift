import AsyncHTTPClient
import Crypto
import Foundation
public import Logging
public import SwitchboardAMQP
import SwitchboardApp
public import SwitchboardBroker
public import SwitchboardCore
import SwitchboardRegistry
import SwitchboardSimulator
import SwitchboardStore

/// `switchboard bench dead-letters`: `serve dead-letters` as a process of its own (this
/// build's executable) over a scratch vhost and store. It archives N dead letters (a
/// campaign that failed with a 401) as they arrive in `sb.dead`, then replays them all
/// as one job; CPU per dead letter of the service and the broker for each. With
/// `--kill` it SIGKILLs the service in the middle of each phase and restarts it, then
/// checks every dead letter was archived exactly once and every replay reached its
/// tenant queue at least once and the provider (the dispatcher and simulator, run in
/// this process) exactly once. Then it times listing a large archive by group.
public struct DeadLetterBenchmark: Sendable {
    public struct Options: Sendable {
        public var messages = 20_000
        public var tenants = 10
        /// SIGKILL the service part-way through archiving and through replaying.
        public var kill = false
        /// Rows in the archive whose listing is timed (0: skip).
        public var archiveRows = 1_000_000
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
        public let scenario = "dead-letters"
        public let messages: Int
        public let killed: Bool
        public let archivePerSecond: Double
        /// CPU µs per dead letter: the service's and the broker's.
        public let archiveServiceMicroseconds: Double
        public let archiveBrokerMicroseconds: Double?
        public let archived: Int
        public let replayPerSecond: Double
        public let replayServiceMicroseconds: Double
        public let replayBrokerMicroseconds: Double?
        public let replayed: Int
        /// With `--kill`: copies that reached the tenant queues, and sends at the provider.
        public let reachedOutbound: Int?
        public let sentByProvider: Int?
        public let duplicateSends: Int?
        public let archiveRows: Int
        /// Listing every tenant's groups, one tenant's groups, and a filtered first page.
        public let groupsAllTenants: LatencySummary?
        public let groupsOneTenant: LatencySummary?
        public let firstPage: LatencySummary?

        public var summary: [String] {
            func cpu(_ service: Double, _ broker: Double?) -> String {
                String(format: "service %.0f µs + broker %@", service, broker.map { String(format: "%.0f µs", $0) } ?? "n/a")
            }
            var lines = [
                "dead-letters: \(messages) dead letters, serve dead-letters as a process" + (killed ? ", SIGKILLed in each phase" : ""),
                String(format: "  archive: %.0f dead letters/s; CPU per dead letter: %@; %d archived",
                       archivePerSecond, cpu(archiveServiceMicroseconds, archiveBrokerMicroseconds), archived),
                String(format: "  replay:  %.0f dead letters/s; CPU per dead letter: %@; %d replayed",
                       replayPerSecond, cpu(replayServiceMicroseconds, replayBrokerMicroseconds), replayed),
            ]
            if let reachedOutbound, let sentByProvider, let duplicateSends {
                lines.append("  after the kills: \(reachedOutbound) copies reached the tenant queues, the provider got \(sentByProvider) (\(duplicateSends) twice)")
            }
            func ms(_ latency: LatencySummary?) -> String {
                latency.map { String(format: "p50 %.1f ms, max %.1f ms", $0.p50, $0.max) } ?? "n/a"
            }
            if archiveRows > 0 {
                lines.append("  listing an archive of \(archiveRows) rows: every tenant's groups \(ms(groupsAllTenants)); one tenant's \(ms(groupsOneTenant)); a filtered first page \(ms(firstPage))")
            }
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
                                            connectionName: "bench-dead-letters", logger: logger) { scratch, _, applier in
            try await measure(scratch: scratch, applier: applier)
        }
    }

    private func measure(scratch: BenchScratch, applier: TopologyApplier) async throws -> Report {
        let masterKey = SymmetricKey(size: .bits256)
        try FileManager.default.createDirectory(at: scratch.directory, withIntermediateDirectories: true)
        let database = scratch.directory.appendingPathComponent("dead-letters.sqlite").path
        let store = try SQLiteStore(path: database, secretBox: try SecretBox(masterKey: masterKey), logger: logger)
        let registry = TenantRegistry(store: store, broker: applier, logger: logger)
        var tenants: [TenantID] = []
        for n in 0..<options.tenants {
            let id = try TenantID("dl\(n)")
            _ = try await registry.create(Tenant(id: id, name: "Dead-letter bench \(n)",
                                                 limits: TenantLimits(sessionRate: 1000, bulkShare: 1)))
            try await store.addSession(
                Session(id: try SessionID("dl\(n)-main"), tenant: id, provider: .simulator,
                        phoneNumber: try PhoneNumber("+1415556\(String(format: "%04d", n))"), status: .connected,
                        isPrimary: true),
                secrets: SessionSecrets(credentials: ["api_key": "key-dl\(n)"], webhookSecret: "secret-dl\(n)-0123456789"))
            tenants.append(id)
        }
        let environment = scratch.childEnvironment(database: database, masterKey: masterKey,
                                                   topologyPath: options.topologyPath,
                                                   managementURL: options.managementURL)
        var starts = 0
        func startService() throws -> ChildProcess {
            starts += 1
            return try ChildProcess([options.executable, "serve", "dead-letters", "--skip-topology"],
                                    environment: environment,
                                    logPath: FileManager.default.temporaryDirectory
                                        .appendingPathComponent("\(scratch.virtualHost)-dead-letters-\(starts).log").path)
        }
        let connection = applier.connection
        let everything = DeadLetterFilter(states: [])
        var service = try startService()
        do {
            try await waitForConsumer(on: topology.roles.deadLetterQueue, connection: connection, service: service)

            // Archive: the campaign's dead letters arrive while the service runs.
            logger.info("archiving", metadata: [LogKey.count: "\(options.messages)"])
            var serviceSeconds = 0.0
            var before = (service: service.cpuSeconds, broker: brokerSeconds())
            var started = ContinuousClock.now
            try await publishDeadLetters(tenants: tenants, connection: connection)
            var killed = false
            while try await store.countDeadLetters(matching: everything) < options.messages {
                if options.kill, !killed, try await store.countDeadLetters(matching: everything) >= options.messages / 3 {
                    killed = true
                    serviceSeconds += service.cpuSeconds - before.service
                    await service.crash()
                    logger.info("service killed while archiving")
                    service = try startService()
                    before.service = 0
                }
                try await ensure(service.isRunning, "serve dead-letters ended: \(service.tail)")
                try await Task.sleep(for: .milliseconds(20))
            }
            var seconds = (ContinuousClock.now - started).seconds
            serviceSeconds += service.cpuSeconds - before.service
            let archiveBroker = brokerSeconds().flatMap { after in before.broker.map { after - $0 } }
            let archived = try await store.countDeadLetters(matching: everything)
            try await ensure(archived == options.messages, "\(archived) archived, not \(options.messages)")
            let archivePerSecond = Double(options.messages) / seconds
            let archiveService = serviceSeconds * 1e6 / Double(options.messages)
            let archiveBrokerMicros = archiveBroker.map { $0 * 1e6 / Double(options.messages) }

            // Replay: one job of the whole group, run by the service.
            logger.info("replaying", metadata: [LogKey.count: "\(options.messages)"])
            serviceSeconds = 0
            before = (service: service.cpuSeconds, broker: brokerSeconds())
            started = ContinuousClock.now
            let job = try await store.createReplayJob(matching: DeadLetterFilter(reason: "http-401"), session: nil,
                                                      actor: "bench", at: Date())
            killed = false
            while true {
                let state = try await store.replayJob(job.id)
                if state?.state == .done { break }
                if options.kill, !killed, (state?.replayed ?? 0) >= options.messages / 3 {
                    killed = true
                    serviceSeconds += service.cpuSeconds - before.service
                    await service.crash()
                    logger.info("service killed while replaying")
                    service = try startService()
                    before.service = 0
                }
                try await ensure(service.isRunning, "serve dead-letters ended: \(service.tail)")
                try await Task.sleep(for: .milliseconds(20))
            }
            seconds = (ContinuousClock.now - started).seconds
            serviceSeconds += service.cpuSeconds - before.service
            let replayBroker = brokerSeconds().flatMap { after in before.broker.map { after - $0 } }
            let finished = try await store.replayJob(job.id)
            let replayed = finished?.replayed ?? 0
            try await ensure(replayed == options.messages, "\(replayed) replayed, not \(options.messages)")
            await service.stop()

            var reached: Int?
            var sent: Int?
            var duplicates: Int?
            if options.kill {
                reached = try await depthOfTenantQueues(tenants, connection: connection)
                try await ensure(reached! >= options.messages, "only \(reached!) replays reached the tenant queues")
                (sent, duplicates) = try await drain(tenants: tenants, scratch: scratch, database: database,
                                                     masterKey: masterKey, connection: connection)
                try await ensure(sent == options.messages && duplicates == 0,
                                 "the provider got \(sent!) sends (\(duplicates!) twice) for \(options.messages) messages")
            }
            let listing = try await timeListing(store: store)
            return Report(
                messages: options.messages, killed: options.kill, archivePerSecond: archivePerSecond,
                archiveServiceMicroseconds: archiveService, archiveBrokerMicroseconds: archiveBrokerMicros,
                archived: archived, replayPerSecond: Double(options.messages) / seconds,
                replayServiceMicroseconds: serviceSeconds * 1e6 / Double(options.messages),
                replayBrokerMicroseconds: replayBroker.map { $0 * 1e6 / Double(options.messages) }, replayed: replayed,
                reachedOutbound: reached, sentByProvider: sent, duplicateSends: duplicates,
                archiveRows: options.archiveRows, groupsAllTenants: listing?.all, groupsOneTenant: listing?.one,
                firstPage: listing?.page)
        } catch {
            await service.stop()
            throw error
        }
    }

    private func ensure(_ condition: Bool, _ why: @autoclosure () -> String) async throws {
        guard condition else { throw BenchError.failed(why()) }
    }

    private func brokerSeconds() -> Double? { CPUSample.now(broker: configuration).broker }

    /// The campaign's dead letters as the dispatcher parks them after a 401, with confirm.
    private func publishDeadLetters(tenants: [TenantID], connection: AMQPConnection) async throws {
        let now = WireJSON.format(Date())
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<options.messages {
                if index >= 500 { try await group.next() }
                let tenant = tenants[index % tenants.count]
                group.addTask {
                    let envelope = OutboundEnvelope(
                        id: MessageID.make(), tenant: tenant, messageClass: .bulk,
                        to: try PhoneNumber("+1415557\(String(format: "%04d", index % 10_000))"),
                        text: "spring sale \(index)")
                    var properties = envelope.amqpProperties()
                    var headers = properties.headers ?? [:]
                    headers[OutboundHeader.errorCode] = .string("http-401")
                    headers[OutboundHeader.errorDetail] = .string("the provider does not know this api key")
                    headers[OutboundHeader.attempts] = .int32(1)
                    headers[OutboundHeader.firstFailedAt] = .string(now)
                    headers[OutboundHeader.lastFailedAt] = .string(now)
                    headers[OutboundHeader.originalRoutingKey] = .string(envelope.routingKey)
                    headers[OutboundHeader.originalExchange] = .string(topology.roles.outbound)
                    headers[InboundHeader.session] = .string("\(tenant)-main")
                    headers[InboundHeader.provider] = .string("simulator")
                    properties.headers = headers
                    try await connection.publish(try envelope.wireBody(), exchange: topology.roles.deadLetters,
                                                 routingKey: "\(tenant).http-401", properties: properties)
                }
            }
            try await group.waitForAll()
        }
    }

    private func waitForConsumer(on queue: String, connection: AMQPConnection, service: ChildProcess) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            try await ensure(service.isRunning, "serve dead-letters ended: \(service.tail)")
            if let state = try? await connection.inspectQueue(queue), state.consumerCount > 0 { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw BenchError.failed("serve dead-letters did not consume \(queue) within 30 s: \(service.tail)")
    }

    private func depthOfTenantQueues(_ tenants: [TenantID], connection: AMQPConnection) async throws -> Int {
        var total = 0
        for tenant in tenants {
            total += Int(try await connection.inspectQueue(topology.tenantQueue(tenant)).messageCount)
        }
        return total
    }

    /// Runs the dispatcher and the simulator in this process until the tenant queues are
    /// empty; the provider's sends and how many of them repeated a message.
    private func drain(tenants: [TenantID], scratch: BenchScratch, database: String, masterKey: SymmetricKey,
                       connection: AMQPConnection) async throws -> (sent: Int, duplicates: Int)
    {
        var quiet = logger
        quiet.logLevel = .warning
        let simulator = try await EmbeddedSimulator.start(logger: quiet)
        for tenant in tenants {
            try simulator.state.register(SimulatedSession(id: "\(tenant)-main", flavor: .simulator, apiKey: "key-\(tenant)"))
        }
        var amqp = scratch.configuration
        amqp.connectionName = "bench-drain"
        let gateway = try await Gateway.build(GatewayConfiguration(
            services: [.dispatcher], amqp: amqp, topology: topology, management: management,
            database: .init(path: database, secretBox: try SecretBox(masterKey: masterKey)), applyTopology: false,
            simulatorBaseURL: simulator.baseURL + "/api"), logger: quiet)
        let running = Task { try await gateway.run() }
        func sends() -> [String] { tenants.flatMap { simulator.state.messages(session: "\($0)-main").compactMap(\.text) } }
        let deadline = ContinuousClock.now + .seconds(max(120, options.messages / 100))
        while ContinuousClock.now < deadline {
            let queued = try await depthOfTenantQueues(tenants, connection: connection)
            if queued == 0, sends().count >= options.messages { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        try await Task.sleep(for: .seconds(1))
        await gateway.triggerGracefulShutdown()
        _ = try? await running.value
        let texts = sends()
        try? await simulator.stop()
        return (texts.count, texts.count - Set(texts).count)
    }

    /// Fills the archive to `archiveRows` (small synthetic rows over 100 tenants and 20
    /// reasons) and times what an operator's first screens read.
    private func timeListing(store: SQLiteStore) async throws
        -> (all: LatencySummary, one: LatencySummary, page: LatencySummary)?
    {
        let missing = options.archiveRows - options.messages
        guard options.archiveRows > 0 else { return nil }
        logger.info("filling the archive", metadata: [LogKey.count: "\(max(0, missing))"])
        let empty = Data("{}".utf8)
        var written = 0
        while written < missing {
            let batch = (written..<min(missing, written + 5_000)).map { n in
                ArchivedDeadLetter(
                    id: "fill-\(n)", fingerprint: "fill-\(n)", tenant: "t\(n % 100)", source: "sb.dead",
                    exchange: "sb.dlx", routingKey: "t\(n % 100).r\(n % 20)", originalExchange: "sb.outbound",
                    originalRoutingKey: "t\(n % 100).bulk", reason: "r\(n % 20)", errorCode: "c\(n % 20)",
                    detail: nil, attempts: 1, firstFailedAt: nil, lastFailedAt: nil, messageID: "m\(n)",
                    session: "t\(n % 100)-main", provider: "simulator", deathHistory: Data("[]".utf8), headers: empty,
                    properties: empty, body: empty, archivedAt: Date(timeIntervalSince1970: 1_700_000_000 + Double(n)))
            }
            try await store.archive(batch)
            written += batch.count
        }
        func time(_ body: () async throws -> Void) async throws -> LatencySummary {
            let recorder = LatencyRecorder()
            for _ in 0..<30 {
                let start = ContinuousClock.now
                try await body()
                recorder.record(micros: UInt64((ContinuousClock.now - start).nanoseconds / 1000))
            }
            return LatencySummary(recorder)
        }
        let all = try await time { _ = try await store.deadLetterGroups(tenant: nil, by: .reason, includeEmpty: false) }
        let one = try await time { _ = try await store.deadLetterGroups(tenant: "t42", by: .reason, includeEmpty: false) }
        let page = try await time {
            _ = try await store.deadLetters(matching: DeadLetterFilter(tenant: "t42", reason: "r2"), after: nil, limit: 50)
        }
        return (all, one, page)
    }
}
