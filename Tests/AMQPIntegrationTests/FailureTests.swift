import Foundation
import SwitchboardAMQP
import Testing

@Suite("Clear typed errors, and the process keeps running")
struct FailureTests {
    private func connectError(_ url: String) async -> AMQPError? {
        do {
            var configuration = try TestBroker.configuration("failing", url: url)
            configuration.connectTimeout = .seconds(3)
            let connection = try await AMQPConnection.connect(configuration, logger: TestBroker.logger)
            await connection.close()
            return nil
        } catch {
            return error as? AMQPError
        }
    }

    @Test func aClosedPortIsAConnectFailure() async throws {
        let error = try #require(await connectError("amqp://guest:guest@127.0.0.1:1"))
        #expect(error.code == .connectFailed)
        #expect(error.isRetryable)
    }

    @Test func aWrongPasswordIsAnAuthenticationFailure() async throws {
        let error = try #require(await connectError("amqp://guest:not-the-password@127.0.0.1:5672"))
        #expect(error.code == .authenticationFailed)
        #expect(!error.isRetryable)
    }

    @Test func anUnknownVirtualHostIsRefused() async throws {
        let error = try #require(await connectError("amqp://guest:guest@127.0.0.1:5672/no-such-vhost"))
        #expect(error.code == .accessRefused)
        #expect(error.message.contains("no-such-vhost"))
    }

    @Test func aConflictingRedeclarationFailsAndTheConnectionCarriesOn() async throws {
        try await withQueue("conflict", arguments: ["x-max-priority": 10]) { connection, queue in
            await #expect {
                try await connection.declareQueue(AMQPQueueDeclaration(name: queue, durable: false,
                                                                       arguments: ["x-max-priority": 5]))
            } throws: { error in
                let error = error as? AMQPError
                return error?.code == .preconditionFailed && error?.replyCode == 406
            }
            // The RPC channel was closed by the broker and reopened by the client.
            try await connection.publish(Data("after".utf8), exchange: "", routingKey: queue)
            #expect(try await connection.inspectQueue(queue).messageCount == 1)
        }
    }

    @Test func aMissingQueueIsNotFound() async throws {
        let connection = try await TestBroker.connect("missing")
        defer { Task { await connection.close() } }
        await #expect {
            try await connection.inspectQueue(TestBroker.uniqueName("absent"))
        } throws: { ($0 as? AMQPError)?.code == .notFound }
        await #expect {
            _ = try await connection.consume(queue: TestBroker.uniqueName("absent"))
        } throws: { ($0 as? AMQPError)?.code == .notFound }
    }

    @Test func publishingToAMissingExchangeFailsAndTheNextPublishWorks() async throws {
        try await withQueue("no-exchange") { connection, queue in
            await #expect {
                try await connection.publish(Data("x".utf8), exchange: TestBroker.uniqueName("nowhere"), routingKey: "k")
            } throws: { ($0 as? AMQPError)?.code == .notFound }
            try await connection.publish(Data("y".utf8), exchange: "", routingKey: queue)
            #expect(try await connection.inspectQueue(queue).messageCount == 1)
        }
    }

    @Test func anUnroutableMandatoryPublishIsReturned() async throws {
        let connection = try await TestBroker.connect("returned")
        defer { Task { await connection.close() } }
        let exchange = TestBroker.uniqueName("lonely")
        try await connection.declareExchange(AMQPExchangeDeclaration(name: exchange, kind: .topic, durable: false,
                                                                     autoDelete: false))
        await #expect {
            try await connection.publish(Data("x".utf8), exchange: exchange, routingKey: "ghost.bulk",
                                         properties: .init(messageID: "m1"), mandatory: true)
        } throws: { error in
            let error = error as? AMQPError
            return error?.code == .publishReturned && error?.replyCode == 312
        }
        // Without mandatory the same publish is confirmed (and dropped by the broker).
        try await connection.publish(Data("x".utf8), exchange: exchange, routingKey: "ghost.bulk")
        try await connection.deleteExchange(exchange)
    }

    @Test func aFullQueueWithRejectPublishNacksAndOtherQueuesKeepAccepting() async throws {
        try await withQueue("quota", arguments: ["x-max-length": 3, "x-overflow": "reject-publish"]) { connection, full in
            for n in 0..<3 {
                try await connection.publish(Data("\(n)".utf8), exchange: "", routingKey: full)
            }
            await #expect {
                try await connection.publish(Data("over".utf8), exchange: "", routingKey: full)
            } throws: { ($0 as? AMQPError)?.code == .publishNacked }
            try await withQueue("quota-other") { other, otherQueue in
                try await connection.publish(Data("fine".utf8), exchange: "", routingKey: otherQueue)
                #expect(try await other.inspectQueue(otherQueue).messageCount == 1)
            }
        }
    }

    @Test func callsAfterCloseFailWithClosed() async throws {
        let connection = try await TestBroker.connect("closed")
        await connection.close()
        #expect(connection.status == .closed)
        await #expect {
            try await connection.publish(Data(), exchange: "", routingKey: "x")
        } throws: { ($0 as? AMQPError)?.code == .closed }
    }
}
