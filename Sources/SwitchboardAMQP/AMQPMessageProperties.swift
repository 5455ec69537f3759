public import struct Foundation.Date

/// The basic-class properties of a message (AMQP 0-9-1 §4.2.6): what a publisher sets
/// and a consumer reads besides the body.
public struct AMQPMessageProperties: Sendable, Hashable {
    /// Whether the broker writes the message to disk (in a durable queue).
    public enum DeliveryMode: UInt8, Sendable, Hashable {
        case transient = 1
        case persistent = 2
    }

    public var contentType: String?
    public var contentEncoding: String?
    public var headers: AMQPTable?
    public var deliveryMode: DeliveryMode?
    /// 0…9 in RabbitMQ priority queues (values above the queue's maximum count as the maximum).
    public var priority: UInt8?
    public var correlationID: String?
    public var replyTo: String?
    /// Per-message TTL in milliseconds, as the decimal string AMQP requires.
    public var expiration: String?
    public var messageID: String?
    /// Seconds precision on the wire.
    public var timestamp: Date?
    public var type: String?
    public var userID: String?
    public var appID: String?

    public init(
        contentType: String? = nil,
        contentEncoding: String? = nil,
        headers: AMQPTable? = nil,
        deliveryMode: DeliveryMode? = nil,
        priority: UInt8? = nil,
        correlationID: String? = nil,
        replyTo: String? = nil,
        expiration: String? = nil,
        messageID: String? = nil,
        timestamp: Date? = nil,
        type: String? = nil,
        userID: String? = nil,
        appID: String? = nil
    ) {
        self.contentType = contentType
        self.contentEncoding = contentEncoding
        self.headers = headers
        self.deliveryMode = deliveryMode
        self.priority = priority
        self.correlationID = correlationID
        self.replyTo = replyTo
        self.expiration = expiration
        self.messageID = messageID
        self.timestamp = timestamp
        self.type = type
        self.userID = userID
        self.appID = appID
    }

    /// Persistent, with a content type: what every Switchboard message is by default.
    public static func persistent(contentType: String = "application/json") -> AMQPMessageProperties {
        AMQPMessageProperties(contentType: contentType, deliveryMode: .persistent)
    }
}
