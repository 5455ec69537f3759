import ArgumentParser
import Foundation
import SwitchboardAMQP

/// `switchboard broker …`: checks on the RabbitMQ connection.
struct BrokerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "broker",
        abstract: "Check the connection to RabbitMQ.",
        subcommands: [Check.self]
    )

    /// Connects, publishes one message with confirm to a private queue, reads it back.
    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Connect, publish with confirm and read the message back; exit 0 when all works.")

        @OptionGroup var amqp: AMQPOptions
        @OptionGroup var logging: LoggingOptions

        func run() async throws {
            let logger = logging.makeLogger(label: "switchboard.broker")
            let configuration = try amqp.configuration(connectionName: "switchboard-check")
            let clock = ContinuousClock()
            let started = clock.now
            let connection = try await AMQPConnection.connect(configuration, logger: logger)
            let connected = clock.now
            let queue = "sb.check.\(UUID().uuidString.prefix(8).lowercased())"
            try await connection.declareQueue(AMQPQueueDeclaration(name: queue, durable: false, exclusive: true))
            let body = Data("ping \(Date())".utf8)
            try await connection.publish(body, exchange: "", routingKey: queue, properties: .persistent())
            let confirmed = clock.now
            guard let delivery = try await connection.get(queue: queue, autoAck: true), delivery.body == body else {
                throw ValidationError("the message published to \(queue) did not come back")
            }
            try await connection.deleteQueue(queue)
            await connection.close()
            print("broker ok: \(configuration.redactedURL)")
            print("  connect \(connected - started), publish+confirm \(confirmed - connected), round trip \(clock.now - connected)")
        }
    }
}
