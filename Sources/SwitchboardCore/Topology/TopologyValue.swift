/// A value in the topology file and in RabbitMQ's JSON (arguments, policy definitions):
/// the scalars both sides agree on.
public enum TopologyValue: Sendable, Hashable, Codable, CustomStringConvertible {
    case string(String)
    case int(Int64)
    case bool(Bool)
    case double(Double)

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let b = try? container.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? container.decode(Int64.self) {
            self = .int(i)
        } else if let d = try? container.decode(Double.self) {
            self = .double(d)
        } else {
            self = .string(try container.decode(String.self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let s): try container.encode(s)
        case .int(let i): try container.encode(i)
        case .bool(let b): try container.encode(b)
        case .double(let d): try container.encode(d)
        }
    }

    public var description: String {
        switch self {
        case .string(let s): "\"\(s)\""
        case .int(let i): "\(i)"
        case .bool(let b): "\(b)"
        case .double(let d): "\(d)"
        }
    }

    /// Equal as RabbitMQ compares them: 10 and 10.0 are the same number.
    public func sameValue(as other: TopologyValue) -> Bool {
        switch (self, other) {
        case (.int(let a), .double(let b)), (.double(let b), .int(let a)): Double(a) == b
        default: self == other
        }
    }
}

/// Arguments or a policy definition.
public typealias TopologyTable = [String: TopologyValue]

extension TopologyTable {
    /// Same keys with the same values (numbers compared by value).
    func sameValues(as other: TopologyTable) -> Bool {
        count == other.count && allSatisfy { key, value in other[key].map(value.sameValue(as:)) ?? false }
    }
}

extension TopologyValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}
