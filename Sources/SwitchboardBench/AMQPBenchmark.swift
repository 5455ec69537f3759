import Foundation
import Histogram
import Synchronization
public import Logging
public import SwitchboardAMQP

/// `switchboard bench amqp`: persistent messages published with confirms to a durable
/// queue while a consumer on a second connection acknowledges them.
///
/// Measures publish throughput (first publish to last confirm), end-to-end throughput
/// (first publish to last delivery), and publish-to-confirm latency; checks that every
/// message arrived exactly once.
public struct AMQPBenchmark: Sendable {
    public struct Options: Sendable {
        public var messages: Int = 100_000
        public var bodySize: Int = 400
        /// Publishes in flight (sent, not yet confirmed) at any moment.
        public var window: Int = 500
        public var prefetch: UInt16 = 1000
        /// The consumer acknowledges with `multiple` once per this many deliveries.
        public var ackEvery: Int = 50
        public var queue: String = "bench.amqp"

        public init() {}
    }

    public struct Report: BenchReport {
        public let scenario = "amqp"
        public let messages: Int
        public let bodyBytes: Int
        public let window: Int
        public let seconds: Double
        public let publishedPerSecond: Double
        public let endToEndPerSecond: Double
        public let confirmLatencyMs: LatencySummary
        public let consumed: Int
        public let lost: Int
        public let duplicates: Int

        public var summary: [String] {
            [
                "amqp: \(messages) persistent messages × \(bodyBytes) B, confirm window \(window)",
                String(format: "  published/s:   %10.0f", publishedPerSecond),
                String(format: "  end-to-end/s:  %10.0f  (%.2f s)", endToEndPerSecond, seconds),
                String(format: "  publish→confirm p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms",
                       confirmLatencyMs.p50, confirmLatencyMs.p90, confirmLatencyMs.p99, confirmLatencyMs.max),
                "  consumed \(consumed), lost \(lost), duplicates \(duplicates)",
            ]
        }
    }

    public let configuration: AMQPConfiguration
    public let options: Options
    public let logger: Logger

    public init(configuration: AMQPConfiguration, options: Options, logger: Logger) {
        self.configuration = configuration
        self.options = options
        self.logger = logger
    }

    public func run() async throws -> Report {
        var publisherConfiguration = configuration
        publisherConfiguration.connectionName = "bench-publisher"
        var consumerConfiguration = configuration
        consumerConfiguration.connectionName = "bench-consumer"
        let publisher = try await AMQPConnection.connect(publisherConfiguration, logger: logger)
        let consumerConnection: AMQPConnection
        do {
            consumerConnection = try await AMQPConnection.connect(consumerConfiguration, logger: logger)
        } catch {
            await publisher.close()
            throw error
        }
        do {
            let report = try await measure(publisher: publisher, consumerConnection: consumerConnection)
            await publisher.close()
            await consumerConnection.close()
            return report
        } catch {
            await publisher.close()
            await consumerConnection.close()
            throw error
        }
    }

    private func measure(publisher: AMQPConnection, consumerConnection: AMQPConnection) async throws -> Report {
        try await publisher.declareQueue(AMQPQueueDeclaration(name: options.queue, durable: true))
        try await publisher.purgeQueue(options.queue)

        let total = options.messages
        let consumer = try await consumerConnection.consume(
            queue: options.queue, options: AMQPConsumeOptions(prefetch: options.prefetch))
        let ackEvery = options.ackEvery
        let consuming = Task { () throws -> (received: Int, duplicates: Int, lastAt: ContinuousClock.Instant) in
            var seen = [Bool](repeating: false, count: total)
            var received = 0
            var duplicates = 0
            var sinceAck = 0
            for try await delivery in consumer {
                if let id = delivery.properties.messageID.flatMap(Int.init), id >= 0, id < total, !seen[id] {
                    seen[id] = true
                    received += 1
                } else {
                    duplicates += 1
                }
                sinceAck += 1
                if sinceAck >= ackEvery || received == total {
                    try await delivery.ack(multiple: true)
                    sinceAck = 0
                }
                if received == total { break }
            }
            return (received, duplicates, ContinuousClock.now)
        }

        let body = Data((0..<options.bodySize).map { UInt8(truncatingIfNeeded: 0x41 + $0 % 26) })
        let queue = options.queue
        let clock = ContinuousClock()
        let started = clock.now
        // `window` publisher tasks, each with one publish awaiting its confirm at a time:
        // `window` messages in flight, as many concurrent callers would produce.
        let window = min(options.window, total)
        let latencies = LatencyRecorder()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<window {
                group.addTask {
                    var id = worker
                    while id < total {
                        let sent = clock.now
                        try await publisher.publish(
                            body, exchange: "", routingKey: queue,
                            properties: AMQPMessageProperties(contentType: "application/octet-stream",
                                                              deliveryMode: .persistent, messageID: String(id)))
                        let micros = UInt64((clock.now - sent).nanoseconds / 1000)
                        latencies.record(micros: micros)
                        id += window
                    }
                }
            }
            try await group.waitForAll()
        }
        let histogram = latencies.snapshot()
        let published = clock.now

        let outcome = try await withThrowingTaskGroup(of: (Int, Int, ContinuousClock.Instant)?.self) { group in
            group.addTask { try await consuming.value }
            group.addTask {
                try await Task.sleep(for: .seconds(60))
                return nil
            }
            let first = try await group.next()!
            group.cancelAll()
            return first
        }
        await consumer.cancel()
        guard let (received, duplicates, lastAt) = outcome else {
            consuming.cancel()
            throw BenchError.timedOut("the consumer did not receive every message within 60 s of the last confirm")
        }

        let publishSeconds = (published - started).seconds
        let endToEndSeconds = (lastAt - started).seconds
        func ms(_ micros: UInt64) -> Double { Double(micros) / 1000 }
        return Report(
            messages: total, bodyBytes: options.bodySize, window: options.window, seconds: endToEndSeconds,
            publishedPerSecond: Double(total) / publishSeconds, endToEndPerSecond: Double(received) / endToEndSeconds,
            confirmLatencyMs: LatencySummary(
                p50: ms(histogram.valueAtPercentile(50)), p90: ms(histogram.valueAtPercentile(90)),
                p99: ms(histogram.valueAtPercentile(99)), max: ms(histogram.maxRecorded)),
            consumed: received, lost: total - received, duplicates: duplicates)
    }
}

/// A latency histogram (microseconds) that many tasks record into.
final class LatencyRecorder: Sendable {
    private let histogram = Mutex(Histogram<UInt64>(highestTrackableValue: 60_000_000,
                                                    numberOfSignificantValueDigits: .three))

    func record(micros: UInt64) {
        histogram.withLock { _ = $0.record(micros) }
    }

    func snapshot() -> Histogram<UInt64> {
        histogram.withLock { $0 }
    }
}

/// Why a benchmark could not produce figures.
public enum BenchError: Error, CustomStringConvertible {
    case timedOut(String)
    case setup(String)
    /// What the benchmark checks did not hold (a loss, a duplicate).
    case failed(String)

    public var description: String {
        switch self {
        case .timedOut(let why): "benchmark timed out: \(why)"
        case .setup(let why): "benchmark setup: \(why)"
        case .failed(let why): "benchmark check failed: \(why)"
        }
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (s, atto) = components
        return s * 1_000_000_000 + atto / 1_000_000_000
    }
}
