import Foundation
import SwitchboardAMQP
import SwitchboardBroker
import SwitchboardCore
import Testing

/// deploy/examples/subscriber.py, the example subscriber in Python (pika), against the
/// real broker: it binds a queue of its own to `sb.events` and `sb.statuses` and prints
/// each event once.
@Suite("The example Python subscriber against a real broker")
struct SubscriberExampleTests {
    static let queue = "test.subscriber"

    @Test(.timeLimit(.minutes(2)))
    func printsEachEventOnceAndDeadLettersWhatItCannotRead() async throws {
        guard await ExampleSubscriber.pikaIsInstalled() else { return }
        try await ScratchVirtualHost.with { scratch in
            // What an operator would do: give the subscriber's queue a dead-letter exchange.
            try await scratch.management.put(
                BrokerObjects.Policy(name: "test-subscriber-dlx", pattern: "^test\\.subscriber$", applyTo: "queues",
                                     priority: 0, definition: ["dead-letter-exchange": "sb.dlx"]),
                virtualHost: scratch.name)
            let events = try Self.events(of: "acme")
            let subscriber = try ExampleSubscriber.start(scratch, ["--queue", Self.queue, "--count", "3", "--timeout", "20"])
            defer { subscriber.stop() }
            guard await subscriber.waitUntilConsuming(scratch, Self.queue) else { return }

            try await scratch.publish("{not json", exchange: "sb.events", key: "message.received")
            try await scratch.connection.publish(events[0], over: scratch.topology.roles)
            var replay = events[0]  // a replayed webhook: same id, received again
            replay.receivedAt = Date()
            try await scratch.connection.publish(replay, over: scratch.topology.roles)
            try await scratch.connection.publish(events[1], over: scratch.topology.roles)
            try await scratch.connection.publish(events[2], over: scratch.topology.roles)

            let result = await subscriber.finish(timeout: .seconds(45))
            #expect(result.status == 0, "exit \(String(describing: result.status)); stderr: \(result.stderr)")
            #expect(result.lines == Self.expectedLines(events), "stderr: \(result.stderr)")
            #expect(result.stderr.contains("rejecting an unreadable event"))
            #expect(await scratch.waitForDepth("sb.dead", 1))
            let dead = try #require(try await scratch.connection.get(queue: "sb.dead", autoAck: true))
            #expect(String(decoding: dead.body, as: UTF8.self) == "{not json")
            #expect(try await scratch.depth(Self.queue) == 0)
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func withATenantItSkipsAndAcknowledgesOtherTenantsEvents() async throws {
        guard await ExampleSubscriber.pikaIsInstalled() else { return }
        try await ScratchVirtualHost.with { scratch in
            let acme = try Self.events(of: "acme")
            let globex = try Self.events(of: "globex")
            let subscriber = try ExampleSubscriber.start(
                scratch, ["--queue", Self.queue, "--tenant", "acme", "--count", "3", "--timeout", "20"])
            defer { subscriber.stop() }
            guard await subscriber.waitUntilConsuming(scratch, Self.queue) else { return }

            for (mine, theirs) in zip(acme, globex) {
                try await scratch.connection.publish(theirs, over: scratch.topology.roles)
                try await scratch.connection.publish(mine, over: scratch.topology.roles)
                try await scratch.connection.publish(mine, over: scratch.topology.roles)  // a duplicate delivery
            }

            let result = await subscriber.finish(timeout: .seconds(45))
            #expect(result.status == 0, "exit \(String(describing: result.status)); stderr: \(result.stderr)")
            #expect(result.lines == Self.expectedLines(acme), "stderr: \(result.stderr)")
            // It stopped after the third event; the duplicate published last (delivered or
            // not) stays in its queue, ready for the next run, and nothing was dead-lettered.
            #expect(await scratch.waitForDepth(Self.queue, 1))
            #expect(try await scratch.depth("sb.dead") == 0)
        }
    }

    /// One event of each type for `tenant`.
    static func events(of tenant: String) throws -> [NormalizedEvent] {
        let id = try TenantID(tenant)
        let session = try SessionID("\(tenant)-main")
        let now = Date()
        let received = NormalizedEvent(
            id: EventID.derive(["wasender", "wamid.in.\(tenant)", "received"]), type: .messageReceived, tenant: id,
            session: session, provider: .wasender, occurredAt: now, receivedAt: now,
            message: .init(providerID: "wamid.in.\(tenant)", from: "+14155550123", to: "+14155550100", type: "text",
                           text: "hi from \(tenant)", contactName: "Ada"))
        let status = NormalizedEvent.messageStatus(
            .init(status: .delivered, messageID: "msg-\(tenant)-1", providerMessageID: "wamid.out.\(tenant)"),
            tenant: id, session: session, provider: .wasender, at: now)
        let sessionStatus = NormalizedEvent(
            id: EventID.derive(["wasender", session.rawValue, "need_scan", "1"]), type: .sessionStatus, tenant: id,
            session: session, provider: .wasender, occurredAt: now, receivedAt: now, sessionStatus: .needScan)
        return [received, status, sessionStatus]
    }

    /// What the script prints for `events` (made by `events(of:)`): `<type> <tenant> <id> <summary>`.
    static func expectedLines(_ events: [NormalizedEvent]) -> [String] {
        let tenant = events[0].tenant.rawValue
        return [
            "message.received \(tenant) \(events[0].id) +14155550123 -> +14155550100 \"hi from \(tenant)\"",
            "message.status \(tenant) \(events[1].id) msg-\(tenant)-1 delivered",
            "session.status \(tenant) \(events[2].id) \(tenant)-main need_scan",
        ]
    }
}

/// deploy/examples/subscriber.py running under /usr/bin/python3, its stdout and stderr
/// collected in files.
private struct ExampleSubscriber {
    static let python = "/usr/bin/python3"
    static let script = DisposableNode.repositoryRoot.appendingPathComponent("deploy/examples/subscriber.py").path

    let process: Process
    let stdoutPath: String
    let stderrPath: String
    let exit: AsyncStream<Int32>

    struct Result {
        /// nil when it did not exit in time (it was then terminated).
        let status: Int32?
        let stdout: String
        let stderr: String
        var lines: [String] { stdout.split(separator: "\n").map(String.init) }
    }

    /// Records a failure that says what to install when pika is missing.
    static func pikaIsInstalled() async -> Bool {
        do {
            try await runProgram(python, ["-c", "import pika"])
            return true
        } catch {
            Issue.record("""
                \(python) cannot import pika, which deploy/examples/subscriber.py needs: install it with \
                `apt-get install -y python3-pika` (deploy/local/install-deps.sh does). \(error)
                """)
            return false
        }
    }

    /// The broker's URL (as the tests' own connections use it) with `virtualHost` as its path.
    static func url(virtualHost: String) throws -> String {
        var components = try #require(URLComponents(string: TestBroker.url), "unreadable URL \(TestBroker.url)")
        let unreserved = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")
        components.percentEncodedPath = "/" + (virtualHost.addingPercentEncoding(withAllowedCharacters: unreserved) ?? "")
        return try #require(components.string)
    }

    static func start(_ scratch: ScratchVirtualHost, _ options: [String]) throws -> ExampleSubscriber {
        let directory = FileManager.default.temporaryDirectory
        let stdoutPath = directory.appendingPathComponent("sbtest-subscriber-\(UUID().uuidString).out").path
        let stderrPath = directory.appendingPathComponent("sbtest-subscriber-\(UUID().uuidString).err").path
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script, try url(virtualHost: scratch.name)] + options
        process.currentDirectoryURL = DisposableNode.repositoryRoot
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        let (exit, continuation) = AsyncStream<Int32>.makeStream()
        process.terminationHandler = { process in
            continuation.yield(process.terminationStatus)
            continuation.finish()
        }
        try process.run()
        return ExampleSubscriber(process: process, stdoutPath: stdoutPath, stderrPath: stderrPath, exit: exit)
    }

    /// Waits until the script has declared and bound its queue and consumes from it.
    func waitUntilConsuming(_ scratch: ScratchVirtualHost, _ queue: String) async -> Bool {
        let consuming = await eventually(timeout: .seconds(20)) {
            (try? await scratch.connection.inspectQueue(queue))?.consumerCount == 1
        }
        if !consuming {
            stop()
            Issue.record("the subscriber never consumed from \(queue); stderr: \(read(stderrPath))")
        }
        return consuming
    }

    /// Waits for the script to exit (terminating it after `timeout`) and reads what it wrote.
    func finish(timeout: Duration) async -> Result {
        let exit = self.exit
        let status: Int32? = await withTaskGroup(of: Int32?.self) { group in
            group.addTask {
                for await status in exit { return status }
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        if status == nil {
            stop()
            _ = await eventually(timeout: .seconds(5)) { !process.isRunning }
        }
        let result = Result(status: status, stdout: read(stdoutPath), stderr: read(stderrPath))
        try? FileManager.default.removeItem(atPath: stdoutPath)
        try? FileManager.default.removeItem(atPath: stderrPath)
        return result
    }

    func stop() {
        if process.isRunning { process.terminate() }
    }

    private func read(_ path: String) -> String {
        (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }
}
