import Foundation
import SwitchboardAMQP
import SwitchboardBroker
import SwitchboardCore
import Testing

/// Against the three-node cluster of `deploy/local/cluster.sh`: what the gateway's
/// clients and queues do when a node is SIGKILLed. The tests kill nodes, so they run
/// one after another, alone (deploy/local/test.sh's `alone` list).
@Suite("Cluster: a broker node dies", .serialized)
struct ClusterTests {
    @Test(.timeLimit(.minutes(6)))
    func theScriptFormsAThreeNodeCluster() async throws {
        try await TestCluster.start()
        for node in TestCluster.nodes {
            #expect(try await TestCluster.runningMembers(asSeenBy: node) == Set(TestCluster.nodes.map(TestCluster.nodeName)),
                    "node \(node) sees every member running")
        }
        // Each node answers AMQP on its own port.
        for node in TestCluster.nodes {
            let connection = try await AMQPConnection.connect(
                try TestBroker.configuration("cluster-probe", url: "amqp://guest:guest@127.0.0.1:\(TestCluster.amqpPort(node))"),
                logger: TestBroker.logger)
            #expect(connection.connectedEndpoint?.port == TestCluster.amqpPort(node))
            await connection.close()
        }
    }

    /// A client given every node's URL follows the cluster: after a SIGKILL of its node,
    /// it is connected to another within 10 s, its consumer reads again, the publishes in
    /// flight on the dead connection failed (retryably), and every confirmed one arrives.
    /// The quorum queues whose leader was on that node (the test's, and sb.inbound.raw with
    /// a backlog) keep every confirmed message, read from the surviving nodes.
    /// The quorum queue's leader was on the killed node: while the others elect a new one,
    /// publishes are nacked, and RabbitMQ 3.10 goes on nacking on that channel until the
    /// client replaces it (`ConnectionDriver.nackStreakBeforeRecycling`).
    @Test(.timeLimit(.minutes(6)))
    func aMultiURLClientMovesToAnotherNodeWithinTenSecondsAndQuorumQueuesKeepEveryConfirmedMessage() async throws {
        try await withClusterVirtualHost { vhost in
            let queue = "test.cluster.follow"
            let publisher = try await AMQPConnection.connect(
                try TestCluster.configuration("cluster-publisher", virtualHost: vhost.name), logger: TestBroker.logger)
            let consumerConnection = try await AMQPConnection.connect(
                try TestCluster.configuration("cluster-consumer", virtualHost: vhost.name), logger: TestBroker.logger)
            try await publisher.declareQueue(AMQPQueueDeclaration(name: queue, durable: true,
                                                                  arguments: ["x-queue-type": "quorum"]))
            let victim = try #require(publisher.connectedEndpoint.flatMap(TestCluster.node(at:)))
            #expect(victim == 1, "the first URL that answers is used")

            // A backlog in the quorum queue sb.inbound.raw, whose leader is on the victim
            // (declared through it): all of it is read from another node after the kill.
            let inbound = vhost.topology.roles.inboundQueue
            let backlog = 300
            for id in 0..<backlog {
                try await vhost.connection.publish(Data("raw \(id)".utf8), exchange: vhost.topology.roles.inbound,
                                                   routingKey: vhost.topology.inboundRoutingKey,
                                                   properties: .init(deliveryMode: .persistent, messageID: String(id)))
            }
            #expect(try await TestCluster.home(of: inbound, virtualHost: vhost.name, askingNode: 2) == victim)

            let ledger = Ledger()
            let consumer = try await consumerConnection.consume(queue: queue, options: .init(prefetch: 100))
            let consuming = Task {
                for try await delivery in consumer {
                    if let id = delivery.properties.messageID.flatMap(Int.init) { ledger.consume(id) }
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

            #expect(await progresses(by: 200))
            let killedAt = ContinuousClock.now
            try await TestCluster.kill(victim)
            let moved = await eventually(timeout: .seconds(10)) {
                publisher.status == .connected && publisher.connectedEndpoint.flatMap(TestCluster.node(at:)) != victim
                    && consumerConnection.status == .connected
                    && consumerConnection.connectedEndpoint.flatMap(TestCluster.node(at:)) != victim
            }
            let elapsed = ContinuousClock.now - killedAt
            #expect(moved, "both connections on another node within 10 s of the SIGKILL")
            print("cluster: clients reconnected to another node \(elapsed) after the SIGKILL")
            let confirmedAtKill = ledger.confirmedCount
            #expect(await eventually(timeout: .seconds(30)) { ledger.confirmedCount > confirmedAtKill + 50 })
            print("cluster: publishes confirmed again \(ContinuousClock.now - killedAt) after the SIGKILL")
            #expect(await progresses(by: 200), "publishing and consuming resume on the surviving nodes")

            ledger.stop()
            try await publishing.value
            #expect(await eventually(timeout: .seconds(30)) { ledger.lost.isEmpty },
                    "confirmed but never consumed: \(ledger.lost.sorted().prefix(20))")
            for failure in ledger.failures {
                #expect([.connectionLost, .notConnected, .publishNacked].contains(failure.code),
                        "a publish failed with \(failure)")
            }
            let codes = Dictionary(grouping: ledger.failures, by: \.code).mapValues(\.count)
            print("cluster: \(ledger.confirmedCount) confirmed, failed over the kill: \(codes)")
            consuming.cancel()
            await consumer.cancel()

            // Every confirmed message of the quorum queue's backlog, from a surviving node.
            let survivors = TestCluster.nodes.filter { $0 != victim }
            let reader = try await AMQPConnection.connect(
                try TestCluster.configuration("cluster-reader", virtualHost: vhost.name, order: survivors),
                logger: TestBroker.logger)
            var seen = Set<Int>()
            let deadline = ContinuousClock.now + .seconds(60)
            while seen.count < backlog, ContinuousClock.now < deadline {
                do throws(AMQPError) {
                    if let delivery = try await reader.get(queue: inbound) {
                        if let id = delivery.properties.messageID.flatMap(Int.init) { seen.insert(id) }
                        try await delivery.ack()
                        continue
                    }
                } catch {}
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(seen.count == backlog, "read \(seen.count) of \(backlog) confirmed messages of \(inbound)")
            let leader = try await TestCluster.home(of: inbound, virtualHost: vhost.name, askingNode: survivors[0])
            #expect(leader != nil && leader != victim, "a surviving member leads \(inbound) now")
            await reader.close()
            try await TestCluster.startNode(victim)
            try await publisher.deleteQueue(queue)
            await publisher.close()
            await consumerConnection.close()
        }
    }

    /// A tenant queue is classic (priorities): it lives on one node. While that node is
    /// down, RabbitMQ 3.10 routes the tenant's publishes to sb.outbound's alternate
    /// exchange (confirmed, even when mandatory) into sb.unroutable, a quorum queue, so
    /// they are archived rather than lost; its consumer is cancelled and cannot subscribe
    /// again (404). When the node returns, the queue and its persistent messages are back
    /// and a consumer attaches again.
    @Test(.timeLimit(.minutes(6)))
    func aTenantQueueWhoseNodeDiesComesBackWithItsMessages() async throws {
        try await withClusterVirtualHost { vhost in
            let tenants = try await (0..<6).asyncMap { try await vhost.provision("cl\($0)") }
            let tenant = tenants[0]
            let queue = vhost.topology.tenantQueue(tenant)
            let homes = try await tenants.asyncMap {
                try await TestCluster.home(of: vhost.topology.tenantQueue($0), virtualHost: vhost.name, askingNode: 1)
            }
            print("cluster: tenant queues live on nodes \(homes.map { $0.map(String.init) ?? "?" })")
            let home = try #require(homes[0])
            let others = TestCluster.nodes.filter { $0 != home }
            let unroutable = vhost.topology.roles.unroutableQueue

            // Publisher and consumer on the other nodes, so only the queue is lost.
            let publisher = try await AMQPConnection.connect(
                try TestCluster.configuration("cluster-tenant-publisher", virtualHost: vhost.name, order: others),
                logger: TestBroker.logger)
            let consumerConnection = try await AMQPConnection.connect(
                try TestCluster.configuration("cluster-tenant-consumer", virtualHost: vhost.name, order: others.reversed()),
                logger: TestBroker.logger)
            func publish(_ id: String) async throws(AMQPError) {
                try await publisher.publish(Data(id.utf8), exchange: vhost.topology.roles.outbound, routingKey: "\(tenant).bulk",
                                            properties: .init(deliveryMode: .persistent, priority: 1, messageID: id),
                                            mandatory: true)
            }
            for id in 0..<20 { try await publish("before-\(id)") }
            #expect(try await publisher.inspectQueue(queue).messageCount == 20)

            let consumer = try await consumerConnection.consume(queue: queue, options: .init(prefetch: 1))
            let ended = Task { () -> String in
                do {
                    for try await _ in consumer {}
                    return "finished"
                } catch {
                    return "\(error)"
                }
            }
            try await TestCluster.kill(home)

            // The consumer is told (basic.cancel) rather than left waiting.
            let end = try await withThrowingTaskGroup(of: String?.self) { group in
                group.addTask { await ended.value }
                group.addTask { try await Task.sleep(for: .seconds(15)); return nil }
                defer { group.cancelAll() }
                return try await group.next()!
            }
            print("cluster: the tenant consumer on another node saw: \(end ?? "nothing within 15 s")")
            #expect(end != nil, "the consumer ends when its queue's node dies")

            // Publishes while the node is down: confirmed, not returned, and in sb.unroutable.
            let before = try await publisher.inspectQueue(unroutable).messageCount
            var outcomes: [String] = []
            for id in 0..<5 {
                do throws(AMQPError) {
                    try await publish("during-\(id)")
                    outcomes.append("confirmed")
                } catch {
                    outcomes.append("\(error.code)")
                }
            }
            print("cluster: publishes to the tenant while its queue's node is down: \(outcomes)")
            #expect(outcomes == Array(repeating: "confirmed", count: 5))
            #expect(await eventually(timeout: .seconds(10)) {
                (try? await publisher.inspectQueue(unroutable).messageCount) == before + 5
            }, "the alternate exchange took them into \(unroutable)")

            // Subscribing again is refused while the node is down.
            do throws(AMQPError) {
                _ = try await consumerConnection.consume(queue: queue, options: .init(prefetch: 1))
                Issue.record("consuming a tenant queue whose node is down succeeded")
            } catch {
                #expect(error.code == .notFound, "\(error)")
            }

            try await TestCluster.startNode(home)
            // The durable queue and its persistent messages are back on the same node.
            #expect(await eventually(timeout: .seconds(30)) {
                (try? await publisher.inspectQueue(queue).messageCount) == 20
            }, "the tenant queue holds its 20 messages again")
            let again = try await consumerConnection.consume(queue: queue, options: .init(prefetch: 20))
            var read = 0
            for try await delivery in again {
                #expect(String(decoding: delivery.body, as: UTF8.self).hasPrefix("before-"))
                try await delivery.ack()
                read += 1
                if read == 20 { break }
            }
            #expect(read == 20)
            await again.cancel()
            // New publishes reach the queue again.
            try await publish("after")
            #expect(await eventually(timeout: .seconds(10)) {
                (try? await publisher.inspectQueue(queue).messageCount) == 1
            })
            await publisher.close()
            await consumerConnection.close()
        }
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
