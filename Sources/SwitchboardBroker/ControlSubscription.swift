import Foundation
public import Logging
public import SwitchboardAMQP
public import SwitchboardCore

/// Follows `sb.control` for one listener of this process: an exclusive, auto-deleted
/// queue of its own (`sb.control.<listener>.<instance>`) bound to the control exchange,
/// each event handed to `handle` as it comes. The client re-declares the queue and
/// resubscribes after a reconnect; a failure to set it up at all is retried. Events
/// sent while the queue did not exist are missed: listeners keep a periodic reload as
/// the safety net.
public struct ControlSubscription: Sendable {
    let connection: AMQPConnection
    /// The topology's `control` exchange.
    let exchange: String
    /// Who listens (`dispatcher`, `sessions`): part of the queue's name.
    let listener: String
    let logger: Logger

    public init(connection: AMQPConnection, exchange: String, listener: String, logger: Logger) {
        self.connection = connection
        self.exchange = exchange
        self.listener = listener
        self.logger = logger
    }

    /// Runs until the task is cancelled. An event that does not decode is logged and
    /// skipped. `subscribed` is called each time the queue is (re)bound, since events
    /// may have been missed before it. Instances' heartbeats go to `heartbeat`.
    public func follow(subscribed: @Sendable () async -> Void = {},
                       heartbeat: @Sendable (InstanceHeartbeat) async -> Void = { _ in },
                       _ handle: @Sendable (ControlEvent) async -> Void) async {
        let queue = "sb.control.\(listener).\(UUID().uuidString.prefix(8).lowercased())"
        while !Task.isCancelled {
            do {
                _ = try await connection.declareQueue(AMQPQueueDeclaration(name: queue, durable: false, exclusive: true,
                                                                           autoDelete: true))
                try await connection.bind(AMQPBinding(exchange: exchange, queue: queue))
                let events = try await connection.consume(queue: queue, options: AMQPConsumeOptions(prefetch: 100,
                                                                                                     autoAck: true))
                await subscribed()
                for try await delivery in events {
                    if delivery.properties.type == InstanceHeartbeat.messageType {
                        if let beat = try? WireJSON.sharedDecoder.decode(InstanceHeartbeat.self, from: delivery.body) {
                            await heartbeat(beat)
                        }
                        continue
                    }
                    guard let event = try? WireJSON.sharedDecoder.decode(ControlEvent.self, from: delivery.body) else {
                        logger.warning("unreadable control event skipped", metadata: [
                            LogKey.type: "\(delivery.properties.type ?? "")",
                        ])
                        continue
                    }
                    logger.debug("control event", metadata: [
                        LogKey.tenant: "\(event.tenant)", LogKey.type: "\(event.type.rawValue)",
                    ])
                    await handle(event)
                }
                return  // cancelled
            } catch {
                logger.warning("control queue unavailable; relying on the periodic reload",
                               metadata: [LogKey.error: "\(error)"])
                try? await Task.sleep(for: .seconds(2))
            }
        }
    }
}
