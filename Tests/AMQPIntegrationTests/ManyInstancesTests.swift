import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import SwitchboardAMQP
import SwitchboardBench
import SwitchboardBroker
import SwitchboardCore
import SwitchboardRegistry
import SwitchboardStore
import Synchronization
import Testing

/// Several instances of the gateway as separate OS processes (`GatewayProcesses`): two
/// `serve api` and two `serve dispatcher` over the three-node cluster (every node's URL)
/// and one database (`TestStore`: PostgreSQL when `SWITCHBOARD_TEST_DATABASE` names it, as
/// the test command does; else a SQLite file the processes share). Runs alone: it kills a
/// broker node and a dispatcher.
@Suite("Many instances: two apis and two dispatchers over the cluster", .serialized)
struct ManyInstancesTests {
    static let executable = DisposableNode.repositoryRoot.appendingPathComponent(".build/debug/switchboard").path
    /// The test command's size; the full scenario (20,000 messages) is
    /// `SWITCHBOARD_MANY_MESSAGES=20000 deploy/local/test.sh --filter ManyInstancesTests`.
    static let tenants = setting("SWITCHBOARD_MANY_TENANTS") ?? 10
    static let messages = setting("SWITCHBOARD_MANY_MESSAGES") ?? 1_500
    static let sessionRate = Double(setting("SWITCHBOARD_MANY_RATE") ?? 40)
    static let inFlightPerTenant = 8

    /// Messages posted through both apis (an idempotency key each, a 503 retried with the
    /// same key through the other api), while one broker node is SIGKILLed and started
    /// again, and one dispatcher process is SIGKILLed: every message reaches the provider
    /// (the simulator), duplicates stay within the in-flight window, the retried keys are
    /// answered with the first id, and no session goes over its rate in any second.
    @Test(.timeLimit(.minutes(30)))
    func everyMessageIsSentOnceThroughABrokerNodeAndADispatcherCrash() async throws {
        try await withClusterVirtualHost { vhost in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(vhost.name)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let location = try TestStore.location(in: directory)
            let database = location.setting
            let masterKey = SymmetricKey(size: .bits256)
            let store = try await location.open(secretBox: try SecretBox(masterKey: masterKey), logger: TestBroker.logger)
            print("many: the store is \(location)")
            let registry = TenantRegistry(store: store, broker: vhost.applier, logger: TestBroker.logger)
            var tokens: [String] = []
            var sessions: [(id: String, key: String)] = []
            for n in 0..<Self.tenants {
                let id = try TenantID("mi\(n)")
                _ = try await registry.create(Tenant(id: id, name: "Many instances \(n)",
                                                     limits: TenantLimits(sessionRate: Self.sessionRate, bulkShare: 1)))
                try await store.addSession(
                    Session(id: try SessionID("mi\(n)-main"), tenant: id, provider: .simulator,
                            phoneNumber: try PhoneNumber("+1415555\(String(format: "%04d", n))"), status: .connected,
                            isPrimary: true),
                    secrets: SessionSecrets(credentials: ["api_key": "key-mi\(n)"], webhookSecret: "secret-\(n)"))
                tokens.append(try await store.createKey(scope: .tenant(id), label: "many").token)
                sessions.append(("mi\(n)-main", "key-mi\(n)"))
            }

            let processes = try GatewayProcesses(setup: .init(
                executable: Self.executable, amqpURL: TestCluster.url(virtualHost: vhost.name),
                managementURL: TestCluster.managementURL(), database: database,
                masterKey: masterKey.withUnsafeBytes { Data($0).base64EncodedString() },
                topologyPath: TestTopology.path, logDirectory: directory.appendingPathComponent("logs").path))
            let client = HTTPClient(eventLoopGroupProvider: .singleton)
            do {
                try await run(processes, client: client, vhost: vhost, tokens: tokens, sessions: sessions)
            } catch {
                await processes.stopAll()
                try? await client.shutdown()
                throw error
            }
            await processes.stopAll()
            try await client.shutdown()
            // The directory (database, the processes' logs) is left in the temporary
            // directory for a failure's diagnosis.
        }
    }

    private func run(_ processes: GatewayProcesses, client: HTTPClient, vhost: ScratchVirtualHost,
                     tokens: [String], sessions: [(id: String, key: String)]) async throws {
        let simulator = try await processes.startSimulator("simulator")
        let simulatorURL = try #require(simulator.baseURL)
        for session in sessions {
            let body = try JSONSerialization.data(withJSONObject: ["id": session.id, "flavor": "simulator",
                                                                   "api_key": session.key])
            let status = try await client.call(.PUT, simulatorURL + "/_sim/sessions/\(session.id)", body: body).status
            #expect(status == 200 || status == 201, "registering \(session.id)")
        }
        let apis = [try await processes.startAPI("api-1"), try await processes.startAPI("api-2")]
        for n in 1...2 {
            try await processes.startDispatcher("dispatcher-\(n)", simulatorURL: simulatorURL + "/api",
                                                arguments: ["--in-flight-per-tenant", "\(Self.inFlightPerTenant)"])
        }
        let apiURLs = apis.compactMap(\.baseURL)

        // Posting, with the disruptions at a third and two thirds of the way.
        let progress = PostingProgress()
        let (posted, next, retried) = (progress.posted, progress.next, progress.retried)
        let ids = progress.ids
        let disruptions = Task {
            while posted.load(ordering: .relaxed) < Self.messages / 3 { try await Task.sleep(for: .milliseconds(50)) }
            try await TestCluster.kill(1)
            print("many: broker node 1 (every process's first URL) killed after \(posted.load(ordering: .relaxed)) posts")
            while posted.load(ordering: .relaxed) < 2 * Self.messages / 3 { try await Task.sleep(for: .milliseconds(50)) }
            await processes.crash("dispatcher-1")
            print("many: dispatcher-1 killed after \(posted.load(ordering: .relaxed)) posts")
            try await TestCluster.startNode(1)
            print("many: broker node 1 back")
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<16 {
                group.addTask {
                    while true {
                        let n = next.add(1, ordering: .relaxed).oldValue
                        guard n < Self.messages else { return }
                        let body = Data(#"{"to":"+1415556\#(String(format: "%04d", n))","text":"many \#(n)"}"#.utf8)
                        var attempt = 0
                        while true {
                            let api = apiURLs[(n + attempt) % apiURLs.count]
                            let answer = try? await client.call(.POST, api + "/v1/messages", body: body,
                                                                token: tokens[n % tokens.count], key: "many-\(n)")
                            if let answer, answer.status == 202 || answer.status == 200 {
                                let id = (try? JSONSerialization.jsonObject(with: answer.body) as? [String: Any])?["id"]
                                ids.withLock { $0[n] = id as? String }
                                break
                            }
                            attempt += 1
                            retried.add(1, ordering: .relaxed)
                            guard attempt < 120 else {
                                Issue.record("message \(n) not accepted: \(answer?.status ?? 0)")
                                return
                            }
                            try await Task.sleep(for: .milliseconds(250))
                        }
                        posted.add(1, ordering: .relaxed)
                    }
                }
            }
            try await group.waitForAll()
        }
        try await disruptions.value
        print("many: \(Self.messages) accepted, \(retried.load(ordering: .relaxed)) answers retried (503 or no answer)")

        // A retry of an accepted key through the other api is answered with the first id.
        for n in stride(from: 0, to: Self.messages, by: 97) {
            let body = Data(#"{"to":"+1415556\#(String(format: "%04d", n))","text":"many \#(n)"}"#.utf8)
            let answer = try await client.call(.POST, apiURLs[(n + 1) % apiURLs.count] + "/v1/messages", body: body,
                                               token: tokens[n % tokens.count], key: "many-\(n)")
            let id = (try? JSONSerialization.jsonObject(with: answer.body) as? [String: Any])?["id"] as? String
            let first = ids.withLock { $0[n] }
            #expect(id != nil && id == first, "key many-\(n): \(answer.status)")
        }

        // Publishes for tenants whose queue was on the dead node went to sb.unroutable
        // (RabbitMQ 3.10, docs/cluster.md): put back as `dead-letters replay` would.
        let replayed = try await replayUnroutable(vhost)
        print("many: \(replayed) messages routed to \(vhost.topology.roles.unroutableQueue) while node 1 was down, replayed")

        // Every message at the provider, within the in-flight window of duplicates.
        var counts: [Int: Int] = [:]
        let deadline = ContinuousClock.now + .seconds(180 + Self.messages / 50)
        while ContinuousClock.now < deadline {
            counts = try await sentTexts(client, simulatorURL)
            if counts.count >= Self.messages { break }
            try await Task.sleep(for: .seconds(1))
        }
        let missing = (0..<Self.messages).filter { counts[$0] == nil }
        if !missing.isEmpty {
            // Where they are: the queues' depths and the store's record of each.
            let depths = try await runProgram("/bin/bash", [TestCluster.script, "ctl", "2", "list_queues", "-p", vhost.name,
                                                            "name", "messages", "--quiet", "--no-table-headers"])
            print("many: queues at the end:\n\(depths)")
            for n in missing.prefix(10) {
                print("many: message \(n) (tenant mi\(n % Self.tenants)) has id \(ids.withLock { $0[n] } ?? "?")")
            }
            print("many: the processes' logs and the database are kept in \(processes.setup.logDirectory)/..")
        }
        #expect(missing.isEmpty, "\(missing.count) messages never reached the provider: \(missing.prefix(20))")
        let duplicates = counts.values.reduce(0) { $0 + max(0, $1 - 1) }
        let window = Self.tenants * Self.inFlightPerTenant * 2
        print("many: \(counts.count) distinct messages at the provider, \(duplicates) duplicates (window \(window))")
        #expect(duplicates <= window)

        // No session above its rate in any second, as the provider counts.
        let stats = try await client.call(.GET, simulatorURL + "/_sim/stats")
        let perSession = (try JSONSerialization.jsonObject(with: stats.body) as? [String: Any])?["sessions"]
            as? [String: [String: Any]] ?? [:]
        for (session, figures) in perSession {
            let peak = figures["max_per_second"] as? Int ?? figures["maxPerSecond"] as? Int ?? -1
            #expect(peak >= 0 && Double(peak) <= Self.sessionRate, "\(session) peaked at \(peak)/s")
        }
        #expect(perSession.count == Self.tenants)
    }

    /// Moves what waits in sb.unroutable back to sb.outbound under its routing key.
    private func replayUnroutable(_ vhost: ScratchVirtualHost) async throws -> Int {
        let connection = try await AMQPConnection.connect(
            try TestCluster.configuration("many-replay", virtualHost: vhost.name), logger: TestBroker.logger)
        var count = 0
        while let delivery = try await connection.get(queue: vhost.topology.roles.unroutableQueue) {
            try await connection.publish(delivery.body, exchange: vhost.topology.roles.outbound,
                                         routingKey: delivery.routingKey, properties: delivery.properties)
            try await delivery.ack()
            count += 1
        }
        await connection.close()
        return count
    }

    /// How often the simulator accepted each message, by its number.
    private func sentTexts(_ client: HTTPClient, _ simulatorURL: String) async throws -> [Int: Int] {
        let answer = try await client.call(.GET, simulatorURL + "/_sim/messages")
        let messages = (try JSONSerialization.jsonObject(with: answer.body) as? [String: Any])?["messages"]
            as? [[String: Any]] ?? []
        var counts: [Int: Int] = [:]
        for message in messages {
            guard let text = message["text"] as? String, text.hasPrefix("many "), let n = Int(text.dropFirst(5)) else {
                continue
            }
            counts[n, default: 0] += 1
        }
        return counts
    }
}

private func setting(_ name: String) -> Int? {
    ProcessInfo.processInfo.environment[name].flatMap { Int($0) }
}

/// What the posting tasks share.
private final class PostingProgress: Sendable {
    let posted = Counter()
    let next = Counter()
    let retried = Counter()
    let ids = IDs()

    final class Counter: Sendable {
        private let value = Atomic<Int>(0)
        func load(ordering _: AtomicLoadOrdering = .relaxed) -> Int { value.load(ordering: .relaxed) }
        @discardableResult
        func add(_ amount: Int, ordering _: AtomicUpdateOrdering = .relaxed) -> (oldValue: Int, newValue: Int) {
            value.add(amount, ordering: .relaxed)
        }
    }

    final class IDs: Sendable {
        private let value = Mutex<[Int: String]>([:])
        func withLock<T>(_ body: (inout [Int: String]) -> T) -> T { value.withLock { body(&$0) } }
    }
}

extension HTTPClient {
    fileprivate func call(_ method: HTTPMethod, _ url: String, body: Data? = nil, token: String? = nil,
                          key: String? = nil) async throws -> (status: Int, body: Data) {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let key { request.headers.add(name: "Idempotency-Key", value: key) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(data: body))
        }
        let response = try await execute(request, timeout: .seconds(30))
        return (Int(response.status.code), Data(buffer: try await response.body.collect(upTo: 64 << 20)))
    }
}
