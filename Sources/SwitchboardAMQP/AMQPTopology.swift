/// The kind of an exchange, which decides how it routes.
public enum AMQPExchangeKind: Sendable, Hashable, CustomStringConvertible {
    case direct, fanout, topic, headers
    /// A plugin's exchange type, e.g. `x-consistent-hash`.
    case custom(String)

    public init(_ name: String) {
        switch name {
        case "direct": self = .direct
        case "fanout": self = .fanout
        case "topic": self = .topic
        case "headers": self = .headers
        default: self = .custom(name)
        }
    }

    public var description: String {
        switch self {
        case .direct: "direct"
        case .fanout: "fanout"
        case .topic: "topic"
        case .headers: "headers"
        case .custom(let name): name
        }
    }
}

/// An exchange as it is declared; replayed after a reconnect.
public struct AMQPExchangeDeclaration: Sendable, Hashable {
    public var name: String
    public var kind: AMQPExchangeKind
    public var durable: Bool
    public var autoDelete: Bool
    public var isInternal: Bool
    public var arguments: AMQPTable

    public init(name: String, kind: AMQPExchangeKind, durable: Bool = true, autoDelete: Bool = false,
                isInternal: Bool = false, arguments: AMQPTable = [:]) {
        self.name = name
        self.kind = kind
        self.durable = durable
        self.autoDelete = autoDelete
        self.isInternal = isInternal
        self.arguments = arguments
    }
}

/// A queue as it is declared; replayed after a reconnect (exclusive queues included,
/// since they vanish with the connection that owned them).
public struct AMQPQueueDeclaration: Sendable, Hashable {
    public var name: String
    public var durable: Bool
    public var exclusive: Bool
    public var autoDelete: Bool
    /// `x-max-priority`, `x-dead-letter-exchange`, `x-single-active-consumer`, …
    public var arguments: AMQPTable

    public init(name: String, durable: Bool = true, exclusive: Bool = false, autoDelete: Bool = false,
                arguments: AMQPTable = [:]) {
        self.name = name
        self.durable = durable
        self.exclusive = exclusive
        self.autoDelete = autoDelete
        self.arguments = arguments
    }
}

/// A binding from an exchange to a queue (or, with `toExchange`, to another exchange).
public struct AMQPBinding: Sendable, Hashable {
    public enum Destination: Sendable, Hashable {
        case queue(String)
        case exchange(String)
    }

    public var source: String
    public var destination: Destination
    public var routingKey: String
    public var arguments: AMQPTable

    public init(exchange source: String, queue: String, routingKey: String = "", arguments: AMQPTable = [:]) {
        self.source = source
        self.destination = .queue(queue)
        self.routingKey = routingKey
        self.arguments = arguments
    }

    public init(exchange source: String, toExchange destination: String, routingKey: String = "",
                arguments: AMQPTable = [:]) {
        self.source = source
        self.destination = .exchange(destination)
        self.routingKey = routingKey
        self.arguments = arguments
    }
}

/// What a passive or active queue declaration reports.
public struct AMQPQueueState: Sendable, Hashable {
    public let name: String
    /// Messages ready for delivery (not counting unacknowledged ones).
    public let messageCount: UInt32
    public let consumerCount: UInt32
}
