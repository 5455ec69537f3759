public import struct Foundation.Data

/// A message the broker delivered to a consumer (or returned from `basic.get`),
/// with what is needed to acknowledge it.
public struct AMQPDelivery: Sendable {
    public let body: Data
    public let properties: AMQPMessageProperties
    public let exchange: String
    public let routingKey: String
    /// The broker delivered this message before, to this or another consumer.
    public let redelivered: Bool
    public let deliveryTag: UInt64
    /// Messages left in the queue (only for `basic.get`).
    public let messageCount: UInt32?

    let handle: DeliveryHandle
    let mailbox: Mailbox?

    /// The headers, or an empty table.
    public var headers: AMQPTable { properties.headers ?? [:] }

    /// Tells the broker the message is handled; with `multiple`, every earlier
    /// unacknowledged delivery of the same consumer too.
    public func ack(multiple: Bool = false) async throws(AMQPError) {
        try await settle(.ack(multiple: multiple))
    }

    /// Hands the message back: requeued, or dead-lettered when `requeue` is false.
    public func nack(requeue: Bool, multiple: Bool = false) async throws(AMQPError) {
        try await settle(.nack(multiple: multiple, requeue: requeue))
    }

    /// Like `nack` for this one message.
    public func reject(requeue: Bool) async throws(AMQPError) {
        try await settle(.reject(requeue: requeue))
    }

    private func settle(_ settlement: Settlement) async throws(AMQPError) {
        guard let mailbox else {
            throw AMQPError(.protocolError, "the delivery was consumed with auto-ack; there is nothing to settle")
        }
        try await mailbox.request { .settle(handle, settlement, $0) }
    }
}

/// How a consumer subscribes.
public struct AMQPConsumeOptions: Sendable, Hashable {
    /// Unacknowledged deliveries the broker sends ahead (`basic.qos`); 0 means unlimited.
    public var prefetch: UInt16
    /// The broker acknowledges on send; the consumer cannot settle.
    public var autoAck: Bool
    /// No other consumer may use the queue.
    public var exclusive: Bool
    /// Consumer arguments, e.g. `x-priority`.
    public var arguments: AMQPTable

    public init(prefetch: UInt16 = 100, autoAck: Bool = false, exclusive: Bool = false,
                arguments: AMQPTable = [:]) {
        self.prefetch = prefetch
        self.autoAck = autoAck
        self.exclusive = exclusive
        self.arguments = arguments
    }
}

/// A subscription to a queue, read as an async sequence of deliveries. It survives
/// reconnects (the client subscribes again); it ends when cancelled, when the
/// broker cancels it (a thrown `consumerCancelled`), or when the connection closes.
public struct AMQPConsumer: AsyncSequence, Sendable {
    public typealias Element = AMQPDelivery
    public typealias Failure = AMQPError

    public let queue: String
    public let consumerTag: String
    let id: UInt64
    let stream: AsyncStream<Result<AMQPDelivery, AMQPError>>
    let mailbox: Mailbox

    /// Stops the subscription. Deliveries not yet acknowledged stay settleable;
    /// any that arrive after the cancel are requeued.
    public func cancel() async {
        _ = try? await mailbox.request { (promise: Promise<Void>) in .cancel(consumerID: id, promise) }
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(base: stream.makeAsyncIterator())
    }

    public struct Iterator: AsyncIteratorProtocol {
        var base: AsyncStream<Result<AMQPDelivery, AMQPError>>.AsyncIterator

        public mutating func next() async throws(AMQPError) -> AMQPDelivery? {
            try await next(isolation: nil)
        }

        public mutating func next(isolation actor: isolated (any Actor)?) async throws(AMQPError) -> AMQPDelivery? {
            guard let result = await base.next(isolation: actor) else { return nil }
            return try result.get()
        }
    }
}
