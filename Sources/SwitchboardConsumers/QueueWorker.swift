import Foundation
public import Logging
import ServiceLifecycle
public import SwitchboardAMQP
import SwitchboardCore
import Synchronization

/// Consumes one queue for a service: deliveries are handled concurrently (the prefetch
/// bounds how many), the subscription is made again after the connection drops, and a
/// graceful shutdown stops fetching and lets what is in flight finish and settle.
public struct QueueWorker: Sendable {
    public var connection: AMQPConnection
    public var queue: String
    public var prefetch: UInt16
    /// The wait before subscribing again after the consumer ended.
    public var resubscribeDelay: Duration
    public var logger: Logger

    public init(connection: AMQPConnection, queue: String, prefetch: UInt16, resubscribeDelay: Duration = .seconds(1),
                logger: Logger) {
        self.connection = connection
        self.queue = queue
        self.prefetch = prefetch
        self.resubscribeDelay = resubscribeDelay
        self.logger = logger
    }

    /// Runs until graceful shutdown (or cancellation), calling `handle` for every
    /// delivery; `handle` settles the delivery itself.
    public func run(_ handle: @escaping @Sendable (AMQPDelivery) async -> Void) async {
        let current = Mutex<AMQPConsumer?>(nil)
        let stopping = Atomic<Bool>(false)
        await withGracefulShutdownHandler {
            while !stopping.load(ordering: .acquiring), !Task.isCancelled {
                do {
                    let consumer = try await connection.consume(queue: queue, options: AMQPConsumeOptions(prefetch: prefetch))
                    current.withLock { $0 = consumer }
                    if stopping.load(ordering: .acquiring) { await consumer.cancel() }
                    await withDiscardingTaskGroup { group in
                        do {
                            for try await delivery in consumer {
                                group.addTask { await handle(delivery) }
                            }
                        } catch {
                            logger.warning("consumer ended", metadata: [LogKey.queue: "\(queue)", LogKey.error: "\(error)"])
                        }
                    }
                } catch {
                    logger.warning("cannot consume", metadata: [LogKey.queue: "\(queue)", LogKey.error: "\(error)"])
                }
                current.withLock { $0 = nil }
                if stopping.load(ordering: .acquiring) { break }
                try? await Task.sleep(for: resubscribeDelay)
            }
        } onGracefulShutdown: {
            stopping.store(true, ordering: .releasing)
            if let consumer = current.withLock({ $0 }) {
                Task { await consumer.cancel() }
            }
        }
    }
}
