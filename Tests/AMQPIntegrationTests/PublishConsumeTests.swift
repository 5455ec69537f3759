import Foundation
import SwitchboardAMQP
import Testing

@Suite("Publishing with confirms and consuming, against the real broker")
struct PublishConsumeTests {
    /// Acks settled out of order from many tasks at once: the client sends those that
    /// reach its thread together as one `multiple` ack where they are contiguous. A
    /// multiple ack that covered a delivery still being worked on would make the broker
    /// close the channel at that delivery's own ack (unknown delivery tag), and the
    /// deliveries would come again.
    @Test func acksSettledOutOfOrderFromManyTasksEachSettleExactlyTheirDelivery() async throws {
        let total = 2_000
        try await withQueue("acks") { connection, queue in
            for id in 0..<total {
                try await connection.publish(Data("m".utf8), exchange: "", routingKey: queue,
                                             properties: .init(messageID: String(id)))
            }
            let consumer = try await connection.consume(queue: queue, options: .init(prefetch: 200))
            let seen = try await withThrowingTaskGroup(of: Void.self, returning: [Int].self) { group in
                var seen = [Int](repeating: 0, count: total)
                var count = 0
                for try await delivery in consumer {
                    #expect(!delivery.redelivered)
                    if let id = Int(delivery.properties.messageID ?? ""), seen.indices.contains(id) { seen[id] += 1 }
                    count += 1
                    group.addTask {
                        try await Task.sleep(for: .microseconds(Int.random(in: 0...3_000)))
                        try await delivery.ack()
                    }
                    if count == total { break }
                }
                try await group.waitForAll()
                return seen
            }
            await consumer.cancel()
            #expect(seen.allSatisfy { $0 == 1 })
            #expect(try await eventually { try await connection.inspectQueue(queue).messageCount == 0 })
            #expect(try await connection.get(queue: queue) == nil)
        }
    }

    @Test func hundredThousandPersistentMessagesArriveExactlyOnce() async throws {
        let total = 100_000
        try await withQueue("bulk", durable: true) { connection, queue in
            let consumerConnection = try await TestBroker.connect("bulk-consumer")
            defer { Task { await consumerConnection.close() } }
            let consumer = try await consumerConnection.consume(queue: queue, options: .init(prefetch: 500))
            let consuming = Task {
                var seen = [Int](repeating: 0, count: total)
                var distinct = 0
                for try await delivery in consumer {
                    let id = Int(delivery.properties.messageID ?? "") ?? -1
                    #expect(delivery.properties.deliveryMode == .persistent)
                    #expect(delivery.body.count == 400)
                    if seen.indices.contains(id) {
                        if seen[id] == 0 { distinct += 1 }
                        seen[id] += 1
                    }
                    if distinct % 100 == 0 || distinct == total { try await delivery.ack(multiple: true) }
                    if distinct == total { break }
                }
                return seen
            }
            let body = Data(repeating: 0x7A, count: 400)
            try await withThrowingTaskGroup(of: Void.self) { group in
                var next = 0
                func publishNext() {
                    let id = next
                    next += 1
                    group.addTask {
                        try await connection.publish(body, exchange: "", routingKey: queue,
                                                     properties: .init(deliveryMode: .persistent, messageID: String(id)))
                    }
                }
                while next < 500 { publishNext() }
                for try await _ in group where next < total { publishNext() }
            }
            let seen = try await consuming.value
            #expect(seen.allSatisfy { $0 == 1 }, "every id exactly once")
            #expect(try await connection.inspectQueue(queue).messageCount == 0)
        }
    }

    @Test func eightTasksPublishingThroughOneConnectionLoseNoConfirm() async throws {
        try await withQueue("concurrent") { connection, queue in
            let perTask = 2_000
            let confirmed = try await withThrowingTaskGroup(of: Int.self) { group in
                for task in 0..<8 {
                    group.addTask {
                        for n in 0..<perTask {
                            try await connection.publish(Data("\(task)-\(n)".utf8), exchange: "", routingKey: queue)
                        }
                        return perTask
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(confirmed == 8 * perTask)
            #expect(try await connection.inspectQueue(queue).messageCount == UInt32(8 * perTask))
        }
    }

    @Test func propertiesAndHeadersReachTheConsumer() async throws {
        try await withQueue("props") { connection, queue in
            let sent = AMQPMessageProperties(
                contentType: "application/json", headers: ["sb-tenant": "acme", "sb-attempt": .int32(2),
                                                           "nested": ["a": [1, 2]]],
                deliveryMode: .persistent, priority: 5, correlationID: "corr", messageID: "01JF",
                timestamp: Date(timeIntervalSince1970: 1_790_000_000), type: "outbound", appID: "tests")
            try await connection.publish(Data("{}".utf8), exchange: "", routingKey: queue, properties: sent)
            let delivery = try #require(try await connection.get(queue: queue))
            #expect(delivery.properties == sent)
            #expect(delivery.routingKey == queue)
            #expect(delivery.exchange == "")
            #expect(delivery.messageCount == 0)
            #expect(!delivery.redelivered)
            try await delivery.ack()
            let empty = try await connection.get(queue: queue)
            #expect(empty == nil)
        }
    }

    @Test func priorityNineOvertakesAThousandPriorityOneMessages() async throws {
        try await withQueue("priority", arguments: ["x-max-priority": 10]) { connection, queue in
            for n in 0..<1_000 {
                try await connection.publish(Data("bulk-\(n)".utf8), exchange: "", routingKey: queue,
                                             properties: .init(priority: 1, messageID: "bulk-\(n)"))
            }
            try await connection.publish(Data("otp".utf8), exchange: "", routingKey: queue,
                                         properties: .init(priority: 9, messageID: "otp"))
            let consumer = try await connection.consume(queue: queue, options: .init(prefetch: 1))
            var firstTwo: [String] = []
            for try await delivery in consumer {
                firstTwo.append(delivery.properties.messageID ?? "")
                try await delivery.ack()
                if firstTwo.count == 2 { break }
            }
            await consumer.cancel()
            #expect(firstTwo.contains("otp"), "first two were \(firstTwo)")
        }
    }

    @Test func nackRequeuesAndRejectDeadLettersWithHistory() async throws {
        let connection = try await TestBroker.connect("dlx")
        defer { Task { await connection.close() } }
        let dlx = TestBroker.uniqueName("dlx-exchange")
        let dead = TestBroker.uniqueName("dead")
        let work = TestBroker.uniqueName("work")
        try await connection.declareExchange(AMQPExchangeDeclaration(name: dlx, kind: .topic, durable: false,
                                                                     autoDelete: true))
        try await connection.declareQueue(AMQPQueueDeclaration(name: dead, durable: false, autoDelete: true))
        try await connection.bind(AMQPBinding(exchange: dlx, queue: dead, routingKey: "#"))
        try await connection.declareQueue(AMQPQueueDeclaration(
            name: work, durable: false, autoDelete: true, arguments: ["x-dead-letter-exchange": .string(dlx)]))

        try await connection.publish(Data("m".utf8), exchange: "", routingKey: work)
        let consumer = try await connection.consume(queue: work, options: .init(prefetch: 10))
        var iterator = consumer.makeAsyncIterator()
        let first = try #require(try await iterator.next())
        #expect(!first.redelivered)
        try await first.nack(requeue: true)
        let second = try #require(try await iterator.next())
        #expect(second.redelivered)
        try await second.reject(requeue: false)

        var deadLettered: AMQPDelivery?
        for _ in 0..<100 where deadLettered == nil {
            deadLettered = try await connection.get(queue: dead, autoAck: true)
            if deadLettered == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        let history = try #require(deadLettered?.headers["x-death"]?.arrayValue?.first?.tableValue)
        #expect(history["reason"] == "rejected")
        #expect(history["queue"]?.stringValue == work)
        #expect(history["count"]?.intValue == 1)
        await consumer.cancel()
        try await connection.deleteExchange(dlx)
    }

    @Test func aCancelledConsumerReceivesNothingMore() async throws {
        try await withQueue("cancel") { connection, queue in
            let consumer = try await connection.consume(queue: queue, options: .init(prefetch: 5))
            try await connection.publish(Data("1".utf8), exchange: "", routingKey: queue)
            var iterator = consumer.makeAsyncIterator()
            let one = try #require(try await iterator.next())
            await consumer.cancel()
            // Still settleable after the cancel: the channel stays until it is settled.
            try await one.ack()
            try await connection.publish(Data("2".utf8), exchange: "", routingKey: queue)
            let after = try await iterator.next()
            #expect(after == nil)
            #expect(await eventually { (try? await connection.inspectQueue(queue))?.consumerCount == 0 })
            #expect(try await connection.inspectQueue(queue).messageCount == 1)
        }
    }

    @Test func deletingTheQueueEndsTheConsumerWithATypedError() async throws {
        let connection = try await TestBroker.connect("server-cancel")
        defer { Task { await connection.close() } }
        let queue = TestBroker.uniqueName("doomed")
        try await connection.declareQueue(AMQPQueueDeclaration(name: queue, durable: false))
        let consumer = try await connection.consume(queue: queue)
        try await connection.deleteQueue(queue)
        await #expect {
            for try await _ in consumer {}
        } throws: { error in
            (error as? AMQPError)?.code == .consumerCancelled
        }
    }
}
