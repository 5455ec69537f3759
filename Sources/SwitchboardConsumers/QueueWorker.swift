import Foundation
public import Logging
import ServiceLifecycle
public import SwitchboardAMQP
import SwitchboardCore
import Synchronization
public import SwitchboardTelemetry
public import Tracing
import SwitchboardBroker

/// How a consumer settled one delivery: its `outcome` label in
/// `switchboard_consumer_deliveries_total`.
public enum ConsumerOutcome: String, Sendable, CaseIterable {
    /// Done with (applied, or nothing to do), and acknowledged.
    case handled
    /// Handed back to its queue to try again (a store or broker failure).
    case retried
    /// Parked in `sb.dlx` with its reason.
    case deadLettered = "dead_lettered"
}

/// Consumes one queue for a service: deliveries are handled concurrently (the prefetch
/// bounds how many), the subscription is made again after the connection drops, and a
/// graceful shutdown stops fetching and lets what is in flight finish and settle.
public struct QueueWorker: Sendable {
    public var connection: AMQPConnection
    public var queue: String
    public var prefetch: UInt16
    /// The wait before subscribing again after the consumer ended.
    public var resubscribeDelay: Duration
    /// The service's name in the consumer metrics (`logger`, `inbox`, …).
    public var service: String
    public var metrics: GatewayMetrics
    /// Continues each delivery's trace (its publisher's context) in a span; nil when off.
    public var tracer: (any Tracer)?
    public var logger: Logger

    public init(connection: AMQPConnection, queue: String, prefetch: UInt16, resubscribeDelay: Duration = .seconds(1),
                service: String, metrics: GatewayMetrics, tracer: (any Tracer)? = nil, logger: Logger) {
        self.service = service
        self.metrics = metrics
        self.tracer = tracer
        self.connection = connection
        self.queue = queue
        self.prefetch = prefetch
        self.resubscribeDelay = resubscribeDelay
        self.logger = logger
    }

    /// Runs until graceful shutdown (or cancellation), calling `handle` for every
    /// delivery; `handle` settles the delivery itself and says how. Each delivery is
    /// counted by outcome, and its lag recorded (from its timestamp: a raw webhook's
    /// receipt, an event's occurrence), each in a span continuing its publisher's trace.
    public func run(_ handle: @escaping @Sendable (AMQPDelivery) async -> ConsumerOutcome) async {
        let tracer = tracer, service = service
        let deliveries = Dictionary(uniqueKeysWithValues: ConsumerOutcome.allCases.map {
            ($0, metrics.consumerDeliveries(service, $0.rawValue))
        })
        let lag = metrics.consumerLag(service)
        let handle: @Sendable (AMQPDelivery) async -> Void = { delivery in
            if let published = Self.publishedAt(delivery) { lag.record(seconds: Date().timeIntervalSince(published)) }
            let outcome = await Traces.span("\(service) handle", tracer: tracer, context: tracer.map(delivery.traceContext),
                                            kind: .consumer) { await handle(delivery) }
            deliveries[outcome]?.increment()
        }
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

    /// When the delivery was published: a raw webhook's `sb-received-at` (ms), else the
    /// AMQP timestamp (seconds).
    static func publishedAt(_ delivery: AMQPDelivery) -> Date? {
        if let milliseconds = delivery.headers[InboundHeader.receivedAt]?.intValue {
            return Date(timeIntervalSince1970: Double(milliseconds) / 1000)
        }
        return delivery.properties.timestamp
    }
}
