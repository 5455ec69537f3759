import Foundation
import Synchronization
import SwitchboardAMQP
import Testing

/// What a running publisher and consumer saw, for checking that nothing confirmed was lost.
final class Ledger: Sendable {
    private struct State {
        var confirmed: Set<Int> = []
        var consumed: Set<Int> = []
        var failures: [AMQPError] = []
    }

    private let state = Mutex(State())
    private let stopped = Atomic<Bool>(false)

    /// Tells the publishers to finish.
    func stop() { stopped.store(true, ordering: .relaxed) }
    var isStopped: Bool { stopped.load(ordering: .relaxed) }

    func confirm(_ id: Int) { state.withLock { _ = $0.confirmed.insert(id) } }
    func consume(_ id: Int) { state.withLock { _ = $0.consumed.insert(id) } }
    func fail(_ error: AMQPError) { state.withLock { $0.failures.append(error) } }

    var confirmedCount: Int { state.withLock { $0.confirmed.count } }
    var consumedCount: Int { state.withLock { $0.consumed.count } }
    var failures: [AMQPError] { state.withLock { $0.failures } }
    /// Confirmed by the broker but never delivered.
    var lost: Set<Int> { state.withLock { $0.confirmed.subtracting($0.consumed) } }
}

/// Runs `body` against a fresh node of its own, which is always resumed and stopped after.
func withDisposableNode(name: String, port: Int, settings: [String: String] = [:],
                        _ body: (DisposableNode) async throws -> Void) async throws {
    let node = try await DisposableNode.start(name: name, amqpPort: port, settings: settings)
    do {
        try await body(node)
    } catch {
        try? await node.resume()
        try? await node.stop()
        throw error
    }
    try? await node.resume()
    try await node.stop()
}

@Suite("Recovery: the client reconnects, redeclares and resubscribes by itself")
struct RecoveryTests {
    @Test(.timeLimit(.minutes(3)))
    func survivesAForcedCloseAndABrokerRestartWithoutLosingAConfirmedMessage() async throws {
        try await withDisposableNode(name: "sbtest-restart", port: 5682) { node in
            let queue = "test.recovery.restart"
            let publisher = try await AMQPConnection.connect(
                try TestBroker.configuration("recovery-publisher", url: node.url), logger: TestBroker.logger)
            let consumerConnection = try await AMQPConnection.connect(
                try TestBroker.configuration("recovery-consumer", url: node.url), logger: TestBroker.logger)
            try await publisher.declareQueue(AMQPQueueDeclaration(name: queue, durable: true))
            try await consumerConnection.declareQueue(AMQPQueueDeclaration(name: queue, durable: true))

            let ledger = Ledger()
            let consumer = try await consumerConnection.consume(queue: queue, options: .init(prefetch: 50))
            let consuming = Task {
                for try await delivery in consumer {
                    if let id = delivery.properties.messageID.flatMap(Int.init) { ledger.consume(id) }
                    // A delivery from before a reconnect cannot be acked; the broker redelivers it.
                    try? await delivery.ack()
                }
            }
            let publishing = Task {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for lane in 0..<4 {
                        group.addTask {
                            var id = lane
                            while !ledger.isStopped {
                                do throws(AMQPError) {
                                    try await publisher.publish(
                                        Data("m\(id)".utf8), exchange: "", routingKey: queue,
                                        properties: .init(deliveryMode: .persistent, messageID: String(id)))
                                    ledger.confirm(id)
                                } catch {
                                    ledger.fail(error)
                                    try await Task.sleep(for: .milliseconds(20))
                                }
                                id += 4
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }

            func progresses(by count: Int) async -> Bool {
                let confirmed = ledger.confirmedCount
                let consumed = ledger.consumedCount
                return await eventually(timeout: .seconds(60)) {
                    ledger.confirmedCount >= confirmed + count && ledger.consumedCount >= consumed + count
                }
            }

            #expect(await progresses(by: 300))
            try await node.closeAllConnections()
            #expect(await eventually { publisher.recoveries == 1 && consumerConnection.recoveries == 1 },
                    "both connections recovered from the forced close")
            #expect(await progresses(by: 300), "publishing and consuming resume after the forced close")

            let failuresBeforeRestart = ledger.failures.count
            try await node.restart()
            #expect(await eventually { publisher.recoveries == 2 && consumerConnection.recoveries == 2 },
                    "both connections recovered from the restart")
            // The broker was down for seconds: publishes attempted meanwhile failed, retryably.
            #expect(ledger.failures.count > failuresBeforeRestart)
            #expect(await progresses(by: 300), "publishing and consuming resume after the restart")

            ledger.stop()
            try await publishing.value
            #expect(await eventually(timeout: .seconds(30)) { ledger.lost.isEmpty },
                    "confirmed but never consumed: \(ledger.lost.sorted().prefix(20))")
            for failure in ledger.failures {
                #expect(failure.isRetryable, "a publish failed with \(failure)")
                #expect([.connectionLost, .notConnected].contains(failure.code))
            }
            consuming.cancel()
            await consumer.cancel()
            try await publisher.deleteQueue(queue)
            await publisher.close()
            await consumerConnection.close()
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func noticesMissedHeartbeatsAndReconnectsWhenTheBrokerWakes() async throws {
        try await withDisposableNode(name: "sbtest-heartbeat", port: 5692) { node in
            var configuration = try TestBroker.configuration("heartbeat", url: node.url)
            configuration.heartbeat = .seconds(2)
            configuration.connectTimeout = .seconds(2)
            let connection = try await AMQPConnection.connect(configuration, logger: TestBroker.logger)
            let queue = "test.recovery.heartbeat"
            try await connection.declareQueue(AMQPQueueDeclaration(name: queue, durable: true))
            try await connection.purgeQueue(queue)
            try await connection.publish(Data("before".utf8), exchange: "", routingKey: queue,
                                         properties: .persistent())

            try await node.pause()
            let paused = ContinuousClock.now
            let noticed = await eventually(timeout: .seconds(20)) { connection.status != .connected }
            let noticedAfter = ContinuousClock.now - paused
            #expect(noticed)
            // librabbitmq gives up after two silent heartbeat intervals.
            #expect(noticedAfter < .seconds(10), "noticed the silent broker after \(noticedAfter)")
            await #expect {
                try await connection.publish(Data("during".utf8), exchange: "", routingKey: queue)
            } throws: { ($0 as? AMQPError)?.isRetryable == true }

            try await node.resume()
            try await connection.waitUntilConnected(timeout: .seconds(30))
            try await connection.publish(Data("after".utf8), exchange: "", routingKey: queue, properties: .persistent())
            var bodies: [String] = []
            while let delivery = try await connection.get(queue: queue, autoAck: true) {
                bodies.append(String(decoding: delivery.body, as: UTF8.self))
            }
            #expect(bodies == ["before", "after"])
            try await connection.deleteQueue(queue)
            await connection.close()
        }
    }
}

@Suite("Flow control: a broker that blocks publishers")
struct BlockedConnectionTests {
    @Test(.timeLimit(.minutes(2)))
    func publishesWaitWhileBlockedAndAreConfirmedOnceUnblocked() async throws {
        try await withDisposableNode(name: "sbtest-blocked", port: 5702) { node in
            let connection = try await AMQPConnection.connect(
                try TestBroker.configuration("blocked", url: node.url), logger: TestBroker.logger)
            let queue = "test.blocked"
            try await connection.declareQueue(AMQPQueueDeclaration(name: queue, durable: true))
            try await connection.purgeQueue(queue)

            // A memory alarm: the broker blocks every publishing connection.
            try await node.script("ctl", "set_vm_memory_high_watermark", "0.0000001")
            let ledger = Ledger()
            let publishing = Task {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for id in 0..<50 {
                        group.addTask {
                            do throws(AMQPError) {
                                try await connection.publish(Data("m\(id)".utf8), exchange: "", routingKey: queue,
                                                             properties: .persistent())
                                ledger.confirm(id)
                            } catch {
                                ledger.fail(error)
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            try await Task.sleep(for: .seconds(2))
            // The broker read at most what was on the wire when it blocked; nothing failed.
            #expect(ledger.confirmedCount < 50, "the broker was blocking publishers")
            #expect(ledger.failures.isEmpty, "\(ledger.failures)")

            try await node.script("ctl", "set_vm_memory_high_watermark", "0.4")
            try await publishing.value
            #expect(ledger.confirmedCount == 50)
            #expect(ledger.failures.isEmpty)
            #expect(try await connection.inspectQueue(queue).messageCount == 50)
            try await connection.deleteQueue(queue)
            await connection.close()
        }
    }
}
