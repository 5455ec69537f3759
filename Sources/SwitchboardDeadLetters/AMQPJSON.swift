public import Foundation
public import SwitchboardAMQP
import SwitchboardCore

/// Any JSON value, typed: how the archive keeps headers and properties, readable by an
/// operator (and the API shows them as they are).
public enum JSONValue: Sendable, Hashable, Codable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var integerValue: Int64? {
        switch self {
        case .integer(let value): value
        case .number(let value): Int64(exactly: value)
        case .string(let value): Int64(value)
        default: nil
        }
    }

    public var objectValue: [String: JSONValue]? {
        if case .object(let value) = self { return value }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }
}

/// Headers and properties between AMQP and the archive's JSON. The round trip keeps
/// every value but not every AMQP type: integers come back as 64-bit, timestamps and
/// byte strings as text.
public enum AMQPJSON {
    public static func json(_ value: AMQPFieldValue) -> JSONValue {
        switch value {
        case .void: .null
        case .bool(let value): .bool(value)
        case .int8(let value): .integer(Int64(value))
        case .int16(let value): .integer(Int64(value))
        case .int32(let value): .integer(Int64(value))
        case .int64(let value): .integer(value)
        case .float(let value): .number(Double(value))
        case .double(let value): .number(value)
        case .decimal(let scale, let value): .number(Double(value) / pow(10, Double(scale)))
        case .string(let value): .string(value)
        case .bytes(let value): .string(String(decoding: value, as: UTF8.self))
        case .timestamp(let value): .string(WireJSON.format(value))
        case .array(let values): .array(values.map(json))
        case .table(let table): .object(json(table))
        }
    }

    public static func json(_ table: AMQPTable) -> [String: JSONValue] {
        var object: [String: JSONValue] = [:]
        for (key, value) in table { object[key] = json(value) }
        return object
    }

    public static func field(_ value: JSONValue) -> AMQPFieldValue {
        switch value {
        case .null: .void
        case .bool(let value): .bool(value)
        case .integer(let value): .int64(value)
        case .number(let value): .double(value)
        case .string(let value): .string(value)
        case .array(let values): .array(values.map(field))
        case .object(let object): .table(table(object))
        }
    }

    public static func table(_ object: [String: JSONValue]) -> AMQPTable {
        var table: AMQPTable = [:]
        for (key, value) in object { table[key] = field(value) }
        return table
    }

    /// The properties (headers apart) as a JSON object with AMQP's names.
    public static func json(_ properties: AMQPMessageProperties) -> [String: JSONValue] {
        var object: [String: JSONValue] = [:]
        object["content_type"] = properties.contentType.map(JSONValue.string)
        object["content_encoding"] = properties.contentEncoding.map(JSONValue.string)
        object["delivery_mode"] = properties.deliveryMode.map { .integer(Int64($0.rawValue)) }
        object["priority"] = properties.priority.map { .integer(Int64($0)) }
        object["correlation_id"] = properties.correlationID.map(JSONValue.string)
        object["reply_to"] = properties.replyTo.map(JSONValue.string)
        object["expiration"] = properties.expiration.map(JSONValue.string)
        object["message_id"] = properties.messageID.map(JSONValue.string)
        object["timestamp"] = properties.timestamp.map { .string(WireJSON.format($0)) }
        object["type"] = properties.type.map(JSONValue.string)
        object["user_id"] = properties.userID.map(JSONValue.string)
        object["app_id"] = properties.appID.map(JSONValue.string)
        return object
    }

    /// Properties from their JSON object, with `headers`.
    public static func properties(_ object: [String: JSONValue], headers: AMQPTable) -> AMQPMessageProperties {
        func text(_ key: String) -> String? { object[key]?.stringValue }
        return AMQPMessageProperties(
            contentType: text("content_type"), contentEncoding: text("content_encoding"), headers: headers,
            deliveryMode: object["delivery_mode"]?.integerValue.flatMap { UInt8(exactly: $0) }
                .flatMap(AMQPMessageProperties.DeliveryMode.init(rawValue:)),
            priority: object["priority"]?.integerValue.flatMap { UInt8(exactly: $0) },
            correlationID: text("correlation_id"), replyTo: text("reply_to"), expiration: text("expiration"),
            messageID: text("message_id"), timestamp: text("timestamp").flatMap(WireJSON.parseDate),
            type: text("type"), userID: text("user_id"), appID: text("app_id"))
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// Sorted-key JSON bytes (stable: the fingerprint depends on them).
    static func data<T: Encodable>(_ value: T) -> Data {
        (try? encoder.encode(value)) ?? Data("null".utf8)
    }

    static func object(_ data: Data) -> [String: JSONValue] {
        (try? JSONDecoder().decode([String: JSONValue].self, from: data)) ?? [:]
    }

    static func array(_ data: Data) -> [JSONValue] {
        (try? JSONDecoder().decode([JSONValue].self, from: data)) ?? []
    }
}
