import Synchronization
import SwitchboardAMQP
import SwitchboardTelemetry

/// Copies an AMQP connection's counters into the process's series at each scrape: the
/// client keeps them as plain atomics (no metrics dependency in the AMQP library), and
/// this turns them into `switchboard_amqp_*{connection}`.
final class AMQPConnectionMetrics: Sendable {
    let name: String
    let connection: AMQPConnection
    let metrics: GatewayMetrics
    /// The counters at the last sample (nil before the first: all counted from zero).
    private let last = Mutex<AMQPConnection.Statistics?>(nil)

    init(name: String, connection: AMQPConnection, metrics: GatewayMetrics) {
        self.name = name
        self.connection = connection
        self.metrics = metrics
    }

    /// Sets the gauges and adds what the counters gained since the last sample.
    func sample() {
        let now = connection.statistics
        let before = last.withLock { last in
            defer { last = now }
            return last
        }
        metrics.amqpUp(name).set(now.isConnected ? 1 : 0)
        metrics.amqpUnconfirmed(name).set(now.unconfirmedPublishes)
        metrics.amqpRecoveries(name).increment(by: max(0, now.recoveries - (before?.recoveries ?? 0)))
        metrics.amqpNacked(name).increment(by: max(0, now.nackedPublishes - (before?.nackedPublishes ?? 0)))
        metrics.amqpReturned(name).increment(by: max(0, now.returnedPublishes - (before?.returnedPublishes ?? 0)))
    }
}
