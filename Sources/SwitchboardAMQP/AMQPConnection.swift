public import Foundation
public import Logging
import Synchronization

/// A connection to RabbitMQ with an async API, publisher confirms, consumers as async
/// sequences, and automatic recovery.
///
/// librabbitmq blocks and is not thread-safe, so each connection owns a dedicated
/// thread; every method here hands work to that thread and suspends (never blocks)
/// until it answers. Any number of tasks may use one connection at once: publishes
/// from all of them are pipelined with a window of unconfirmed messages.
///
/// After the connection is lost, the client reconnects with backoff, declares again
/// what was declared through it, and resubscribes its consumers. Publishes in flight
/// at that moment fail with `connectionLost` (never reported as confirmed); calls made
/// while it is reconnecting fail at once with `notConnected`. Both are retryable.
public final class AMQPConnection: Sendable {
    /// Where the connection is in its life.
    public enum Status: Sendable, Hashable {
        case connected
        case reconnecting(attempt: Int)
        case closed
    }

    public let configuration: AMQPConfiguration
    private let mailbox: Mailbox
    private let statusBox: ConnectionStatusBox
    private let consumerIDs = Atomic<UInt64>(0)

    private init(configuration: AMQPConfiguration, mailbox: Mailbox, status: ConnectionStatusBox) {
        self.configuration = configuration
        self.mailbox = mailbox
        self.statusBox = status
    }

    deinit {
        // The thread holds the mailbox, not the connection: dropping the last reference
        // closes the connection (and ends its consumers).
        mailbox.submit(.close(nil))
    }

    /// Connects once and fails with a typed error if that first attempt fails (closed
    /// port, wrong credentials, unknown vhost, TLS); later losses are recovered.
    public static func connect(_ configuration: AMQPConfiguration,
                               logger: Logger = Logger(label: "switchboard.amqp")) async throws(AMQPError)
        -> AMQPConnection
    {
        let mailbox = try Mailbox()
        let status = ConnectionStatusBox()
        var logger = logger
        logger[metadataKey: AMQPLogKey.connection] = "\(configuration.connectionName)"
        let threadLogger = logger
        let result: Result<Void, AMQPError> = await withCheckedContinuation { continuation in
            let thread = Thread {
                let driver = ConnectionDriver(configuration: configuration, logger: threadLogger, mailbox: mailbox,
                                              status: status)
                let first = driver.connectFirstTime()
                continuation.resume(returning: first)
                if case .success = first {
                    driver.run()
                } else {
                    for command in mailbox.close() {
                        command.fail(AMQPError(.closed, "the connection never opened"))
                    }
                    status.set(.closed)
                }
            }
            thread.name = "amqp-\(configuration.connectionName)"
            thread.start()
        }
        try result.get()
        return AMQPConnection(configuration: configuration, mailbox: mailbox, status: status)
    }

    /// Connects with `connect`, retrying retryable failures (broker not up yet) until
    /// `timeout` has passed.
    public static func connect(_ configuration: AMQPConfiguration, retryingFor timeout: Duration,
                               logger: Logger = Logger(label: "switchboard.amqp")) async throws(AMQPError)
        -> AMQPConnection
    {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var backoff = ReconnectBackoff(policy: configuration.recovery)
        while true {
            do {
                return try await connect(configuration, logger: logger)
            } catch where error.isRetryable && clock.now < deadline {
                logger.warning("amqp broker not reachable yet; retrying", metadata: [AMQPLogKey.error: "\(error)"])
                try? await Task.sleep(for: min(backoff.nextDelay(), deadline - clock.now))
            }
        }
    }

    public var status: Status { statusBox.get() }

    /// How many times the connection was lost and recovered; a gauge for operators
    /// and the way tests observe a recovery that took no visible time.
    public var recoveries: Int { statusBox.recoveries }

    /// The broker node the connection is open to (or was last, while reconnecting): one
    /// of the configuration's endpoints.
    public var connectedEndpoint: AMQPConfiguration.Endpoint? { statusBox.connectedEndpoint }

    /// The connection's counters, read at once: what a metrics scrape copies.
    public struct Statistics: Sendable, Hashable {
        public var isConnected: Bool
        public var recoveries: Int
        /// Publishes the broker refused (`basic.nack`) since the connection was made.
        public var nackedPublishes: Int
        /// Mandatory publishes the broker returned as unroutable.
        public var returnedPublishes: Int
        /// Publishes sent and not yet confirmed, now.
        public var unconfirmedPublishes: Int
    }

    public var statistics: Statistics { statusBox.statistics }

    /// The highest channel number the broker accepts on this connection, as negotiated
    /// at the last login (the lower of the client's 2047 and the broker's `channel_max`;
    /// 0 means no limit). The client uses two channels of its own (publishing and RPCs)
    /// and one more per consumer; a channel above this limit makes the broker close the
    /// whole connection (530 NOT_ALLOWED).
    public var negotiatedChannelMax: Int { statusBox.negotiatedChannelMax }

    /// Channels the client keeps open for itself on every connection (publishing, RPCs).
    public static let reservedChannels = 2

    /// Waits until the connection is up (after a loss), or throws after `timeout`.
    public func waitUntilConnected(timeout: Duration) async throws(AMQPError) {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while true {
            switch status {
            case .connected: return
            case .closed: throw AMQPError(.closed, "the connection is closed")
            case .reconnecting:
                guard clock.now < deadline else {
                    throw AMQPError(.timeout, "not reconnected within \(timeout)")
                }
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    /// Closes the connection after outstanding publishes are confirmed (at most 5 s).
    /// Consumers end; later calls fail with `closed`.
    public func close() async {
        _ = try? await mailbox.request { (promise: Promise<Void>) in .close(promise) }
    }

    // MARK: Topology

    public func declareExchange(_ exchange: AMQPExchangeDeclaration) async throws(AMQPError) {
        try await mailbox.request { .declareExchange(exchange, $0) }
    }

    public func deleteExchange(_ name: String, ifUnused: Bool = false) async throws(AMQPError) {
        try await mailbox.request { .deleteExchange(name: name, ifUnused: ifUnused, $0) }
    }

    /// Declares a queue; throws `preconditionFailed` if it exists with other arguments.
    @discardableResult
    public func declareQueue(_ queue: AMQPQueueDeclaration) async throws(AMQPError) -> AMQPQueueState {
        try await mailbox.request { .declareQueue(queue, passive: false, $0) }
    }

    /// A passive declaration: the queue's counts, or `notFound`.
    public func inspectQueue(_ name: String) async throws(AMQPError) -> AMQPQueueState {
        try await mailbox.request { .declareQueue(AMQPQueueDeclaration(name: name), passive: true, $0) }
    }

    /// Deletes a queue and returns how many messages it held.
    @discardableResult
    public func deleteQueue(_ name: String, ifUnused: Bool = false, ifEmpty: Bool = false) async throws(AMQPError)
        -> UInt32
    {
        try await mailbox.request { .deleteQueue(name: name, ifUnused: ifUnused, ifEmpty: ifEmpty, $0) }
    }

    /// Removes every ready message and returns how many there were.
    @discardableResult
    public func purgeQueue(_ name: String) async throws(AMQPError) -> UInt32 {
        try await mailbox.request { .purgeQueue(name: name, $0) }
    }

    public func bind(_ binding: AMQPBinding) async throws(AMQPError) {
        try await mailbox.request { .bind(binding, $0) }
    }

    public func unbind(_ binding: AMQPBinding) async throws(AMQPError) {
        try await mailbox.request { .unbind(binding, $0) }
    }

    // MARK: Messages

    /// Publishes and returns once the broker has confirmed it (for a persistent message
    /// to a durable queue: written to disk). Throws `publishNacked` when the broker
    /// refuses it, `publishReturned` when `mandatory` and unroutable, `connectionLost`
    /// when the outcome is unknown.
    public func publish(_ body: Data, exchange: String, routingKey: String,
                        properties: AMQPMessageProperties = AMQPMessageProperties(),
                        mandatory: Bool = false) async throws(AMQPError)
    {
        let message = OutboundPublish(exchange: exchange, routingKey: routingKey, body: body, properties: properties,
                                      mandatory: mandatory)
        try await mailbox.request { .publish(message, $0) }
    }

    /// Subscribes to a queue. Iterate the result to receive deliveries.
    public func consume(queue: String, options: AMQPConsumeOptions = AMQPConsumeOptions())
        async throws(AMQPError) -> AMQPConsumer
    {
        let id = consumerIDs.add(1, ordering: .relaxed).newValue
        let tag = "\(configuration.connectionName).\(id)"
        let (stream, continuation) = AsyncStream<Result<AMQPDelivery, AMQPError>>.makeStream()
        let subscription = ConsumerSubscription(id: id, queue: queue, consumerTag: tag, options: options,
                                                continuation: continuation)
        let mailbox = self.mailbox
        continuation.onTermination = { termination in
            // The reader went away without cancelling: stop the broker sending more.
            if case .cancelled = termination { mailbox.submit(.cancel(consumerID: id, nil)) }
        }
        try await mailbox.request { .consume(subscription, $0) }
        return AMQPConsumer(queue: queue, consumerTag: tag, id: id, stream: stream, mailbox: mailbox)
    }

    /// Fetches one message (`basic.get`), or nil when the queue is empty.
    public func get(queue: String, autoAck: Bool = false) async throws(AMQPError) -> AMQPDelivery? {
        try await mailbox.request { .get(queue: queue, autoAck: autoAck, $0) }
    }
}

/// The connection's status, written by its thread and read by anyone.
final class ConnectionStatusBox: Sendable {
    private let value = Mutex(AMQPConnection.Status.reconnecting(attempt: 0))
    private let recovered = Atomic<Int>(0)
    private let channelMax = Atomic<Int>(0)
    private let nacked = Atomic<Int>(0)
    private let returned = Atomic<Int>(0)
    private let unconfirmed = Atomic<Int>(0)
    private let endpoint = Mutex<AMQPConfiguration.Endpoint?>(nil)

    /// The node the connection is (or was last) open to.
    var connectedEndpoint: AMQPConfiguration.Endpoint? { endpoint.withLock { $0 } }
    func setEndpoint(_ value: AMQPConfiguration.Endpoint) { endpoint.withLock { $0 = value } }

    func get() -> AMQPConnection.Status { value.withLock { $0 } }
    func set(_ status: AMQPConnection.Status) { value.withLock { $0 = status } }
    func countRecovery() { recovered.add(1, ordering: .relaxed) }
    var recoveries: Int { recovered.load(ordering: .relaxed) }
    func setChannelMax(_ value: Int) { channelMax.store(value, ordering: .relaxed) }
    var negotiatedChannelMax: Int { channelMax.load(ordering: .relaxed) }
    func countNack() { nacked.add(1, ordering: .relaxed) }
    func countReturn() { returned.add(1, ordering: .relaxed) }
    func setUnconfirmed(_ count: Int) { unconfirmed.store(count, ordering: .relaxed) }

    var statistics: AMQPConnection.Statistics {
        AMQPConnection.Statistics(
            isConnected: { if case .connected = get() { true } else { false } }(),
            recoveries: recoveries, nackedPublishes: nacked.load(ordering: .relaxed),
            returnedPublishes: returned.load(ordering: .relaxed), unconfirmedPublishes: unconfirmed.load(ordering: .relaxed))
    }
}

/// Log metadata keys of the AMQP client, all under the `amqp.` prefix.
public enum AMQPLogKey {
    public static let connection = "amqp.connection"
    public static let url = "amqp.url"
    public static let channel = "amqp.channel"
    public static let exchange = "amqp.exchange"
    public static let exchanges = "amqp.exchanges"
    public static let queue = "amqp.queue"
    public static let queues = "amqp.queues"
    public static let routingKey = "amqp.routing_key"
    public static let error = "amqp.error"
    public static let attempts = "amqp.attempts"
    public static let retryIn = "amqp.retry_in"
    public static let reason = "amqp.reason"
    public static let bindings = "amqp.bindings"
    public static let consumers = "amqp.consumers"
    public static let command = "amqp.command"
    public static let event = "amqp.event"
    public static let deliveryTag = "amqp.delivery_tag"
    public static let multiple = "amqp.multiple"
    public static let method = "amqp.method"
}
