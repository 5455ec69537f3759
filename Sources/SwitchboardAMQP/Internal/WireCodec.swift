import CAMQPShim
import CRabbitMQ
import Foundation

/// Converts between Swift values and librabbitmq's C structures. Encoding writes into
/// an arena that lives until the method is sent; decoding copies everything out, so
/// nothing returned points into librabbitmq's memory.
enum WireCodec {
    // MARK: Bytes

    static func bytes(_ string: String, in arena: OpaquePointer) throws(AMQPError) -> amqp_bytes_t {
        try bytes(string) { CAMQPShim_arena_bytes(arena, $0, $1) }
    }

    /// `string`'s UTF-8 as copied by `copy` (the arena in production; a stand-in that
    /// fails in tests, since a real arena only fails when malloc does). A failed copy
    /// throws and never comes back as empty bytes: in AMQP an empty queue name means
    /// "the last queue declared on this channel", so a delete, purge or bind would hit
    /// another queue. The empty string itself is legitimate (the default exchange, a
    /// server-named queue).
    static func bytes(_ string: String, copiedBy copy: (UnsafeRawPointer?, Int) -> amqp_bytes_t)
        throws(AMQPError) -> amqp_bytes_t
    {
        var string = string
        let result = string.withUTF8 { buffer in copy(UnsafeRawPointer(buffer.baseAddress), buffer.count) }
        guard result.bytes != nil || string.isEmpty else { throw outOfMemory }
        return result
    }

    static func string(_ bytes: amqp_bytes_t) -> String {
        guard bytes.len > 0, let base = bytes.bytes else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: base, count: bytes.len), as: UTF8.self)
    }

    static func data(_ bytes: amqp_bytes_t) -> Data {
        guard bytes.len > 0, let base = bytes.bytes else { return Data() }
        return Data(bytes: base, count: bytes.len)
    }

    private static let outOfMemory = AMQPError(.protocolError, "out of memory encoding an AMQP frame")

    // MARK: Tables

    static func encode(_ table: AMQPTable, into target: UnsafeMutablePointer<amqp_table_t>,
                       arena: OpaquePointer) throws(AMQPError) {
        guard CAMQPShim_table_init(arena, target, table.count) == 0 else { throw outOfMemory }
        for (index, (key, value)) in table.enumerated() {
            var key = key
            let slot = key.withUTF8 { CAMQPShim_table_entry(arena, target, index, $0.baseAddress, $0.count) }
            guard let slot else { throw outOfMemory }
            try encode(value, into: slot, arena: arena)
        }
    }

    static func encode(_ value: AMQPFieldValue, into slot: UnsafeMutablePointer<amqp_field_value_t>,
                       arena: OpaquePointer) throws(AMQPError) {
        switch value {
        case .void: CAMQPShim_value_set_void(slot)
        case .bool(let b): CAMQPShim_value_set_bool(slot, b ? 1 : 0)
        case .int8(let n): CAMQPShim_value_set_i8(slot, n)
        case .int16(let n): CAMQPShim_value_set_i16(slot, n)
        case .int32(let n): CAMQPShim_value_set_i32(slot, n)
        case .int64(let n): CAMQPShim_value_set_i64(slot, n)
        case .float(let n): CAMQPShim_value_set_f32(slot, n)
        case .double(let n): CAMQPShim_value_set_f64(slot, n)
        case .decimal(let scale, let n): CAMQPShim_value_set_decimal(slot, scale, n)
        case .timestamp(let date):
            CAMQPShim_value_set_timestamp(slot, UInt64(max(0, date.timeIntervalSince1970.rounded(.down))))
        case .string(var s):
            let status = s.withUTF8 { CAMQPShim_value_set_utf8(arena, slot, $0.baseAddress, $0.count) }
            guard status == 0 else { throw outOfMemory }
        case .bytes(let b):
            let status = b.withUnsafeBytes { CAMQPShim_value_set_bytes(arena, slot, $0.baseAddress, $0.count) }
            guard status == 0 else { throw outOfMemory }
        case .table(let t):
            try encode(t, into: CAMQPShim_value_set_table(slot), arena: arena)
        case .array(let elements):
            let array = CAMQPShim_value_set_array(slot)!
            guard CAMQPShim_array_init(arena, array, elements.count) == 0 else { throw outOfMemory }
            for (index, element) in elements.enumerated() {
                try encode(element, into: CAMQPShim_array_entry(array, index), arena: arena)
            }
        }
    }

    static func decode(_ table: amqp_table_t) -> AMQPTable {
        var result = AMQPTable(minimumCapacity: Int(table.num_entries))
        guard table.num_entries > 0, let entries = table.entries else { return result }
        for index in 0..<Int(table.num_entries) {
            let entry = entries[index]
            result[string(entry.key)] = decode(entry.value)
        }
        return result
    }

    static func decode(_ value: amqp_field_value_t) -> AMQPFieldValue {
        switch Int(value.kind) {
        case Int(AMQP_FIELD_KIND_BOOLEAN.rawValue): return .bool(value.value.boolean != 0)
        case Int(AMQP_FIELD_KIND_I8.rawValue): return .int8(value.value.i8)
        case Int(AMQP_FIELD_KIND_U8.rawValue): return .int16(Int16(value.value.u8))
        case Int(AMQP_FIELD_KIND_I16.rawValue): return .int16(value.value.i16)
        case Int(AMQP_FIELD_KIND_U16.rawValue): return .int32(Int32(value.value.u16))
        case Int(AMQP_FIELD_KIND_I32.rawValue): return .int32(value.value.i32)
        case Int(AMQP_FIELD_KIND_U32.rawValue): return .int64(Int64(value.value.u32))
        case Int(AMQP_FIELD_KIND_I64.rawValue): return .int64(value.value.i64)
        case Int(AMQP_FIELD_KIND_U64.rawValue): return .int64(Int64(truncatingIfNeeded: value.value.u64))
        case Int(AMQP_FIELD_KIND_F32.rawValue): return .float(value.value.f32)
        case Int(AMQP_FIELD_KIND_F64.rawValue): return .double(value.value.f64)
        case Int(AMQP_FIELD_KIND_DECIMAL.rawValue):
            return .decimal(scale: value.value.decimal.decimals, value: value.value.decimal.value)
        case Int(AMQP_FIELD_KIND_UTF8.rawValue): return .string(string(value.value.bytes))
        case Int(AMQP_FIELD_KIND_BYTES.rawValue):
            let b = value.value.bytes
            guard b.len > 0, let base = b.bytes else { return .bytes([]) }
            return .bytes(Array(UnsafeRawBufferPointer(start: base, count: b.len)))
        case Int(AMQP_FIELD_KIND_TIMESTAMP.rawValue):
            return .timestamp(Date(timeIntervalSince1970: TimeInterval(value.value.u64)))
        case Int(AMQP_FIELD_KIND_TABLE.rawValue): return .table(decode(value.value.table))
        case Int(AMQP_FIELD_KIND_ARRAY.rawValue):
            let array = value.value.array
            guard array.num_entries > 0, let entries = array.entries else { return .array([]) }
            return .array((0..<Int(array.num_entries)).map { decode(entries[$0]) })
        default: return .void
        }
    }

    // MARK: Properties

    static func encode(_ properties: AMQPMessageProperties, arena: OpaquePointer) throws(AMQPError)
        -> amqp_basic_properties_t
    {
        var p = amqp_basic_properties_t()
        var flags: UInt32 = 0
        func set(_ value: String?, _ flag: Int32, _ field: WritableKeyPath<amqp_basic_properties_t, amqp_bytes_t>)
            throws(AMQPError)
        {
            guard let value else { return }
            p[keyPath: field] = try bytes(value, in: arena)
            flags |= UInt32(bitPattern: flag)
        }
        try set(properties.contentType, AMQP_BASIC_CONTENT_TYPE_FLAG, \.content_type)
        try set(properties.contentEncoding, AMQP_BASIC_CONTENT_ENCODING_FLAG, \.content_encoding)
        try set(properties.correlationID, AMQP_BASIC_CORRELATION_ID_FLAG, \.correlation_id)
        try set(properties.replyTo, AMQP_BASIC_REPLY_TO_FLAG, \.reply_to)
        try set(properties.expiration, AMQP_BASIC_EXPIRATION_FLAG, \.expiration)
        try set(properties.messageID, AMQP_BASIC_MESSAGE_ID_FLAG, \.message_id)
        try set(properties.type, AMQP_BASIC_TYPE_FLAG, \.type)
        try set(properties.userID, AMQP_BASIC_USER_ID_FLAG, \.user_id)
        try set(properties.appID, AMQP_BASIC_APP_ID_FLAG, \.app_id)
        if let headers = properties.headers {
            try encode(headers, into: &p.headers, arena: arena)
            flags |= UInt32(bitPattern: AMQP_BASIC_HEADERS_FLAG)
        }
        if let mode = properties.deliveryMode {
            p.delivery_mode = mode.rawValue
            flags |= UInt32(bitPattern: AMQP_BASIC_DELIVERY_MODE_FLAG)
        }
        if let priority = properties.priority {
            p.priority = priority
            flags |= UInt32(bitPattern: AMQP_BASIC_PRIORITY_FLAG)
        }
        if let timestamp = properties.timestamp {
            p.timestamp = UInt64(max(0, timestamp.timeIntervalSince1970.rounded(.down)))
            flags |= UInt32(bitPattern: AMQP_BASIC_TIMESTAMP_FLAG)
        }
        p._flags = flags
        return p
    }

    static func decode(_ p: amqp_basic_properties_t) -> AMQPMessageProperties {
        let flags = p._flags
        func has(_ flag: Int32) -> Bool { flags & UInt32(bitPattern: flag) != 0 }
        func text(_ flag: Int32, _ value: amqp_bytes_t) -> String? { has(flag) ? string(value) : nil }
        return AMQPMessageProperties(
            contentType: text(AMQP_BASIC_CONTENT_TYPE_FLAG, p.content_type),
            contentEncoding: text(AMQP_BASIC_CONTENT_ENCODING_FLAG, p.content_encoding),
            headers: has(AMQP_BASIC_HEADERS_FLAG) ? decode(p.headers) : nil,
            deliveryMode: has(AMQP_BASIC_DELIVERY_MODE_FLAG)
                ? AMQPMessageProperties.DeliveryMode(rawValue: p.delivery_mode) : nil,
            priority: has(AMQP_BASIC_PRIORITY_FLAG) ? p.priority : nil,
            correlationID: text(AMQP_BASIC_CORRELATION_ID_FLAG, p.correlation_id),
            replyTo: text(AMQP_BASIC_REPLY_TO_FLAG, p.reply_to),
            expiration: text(AMQP_BASIC_EXPIRATION_FLAG, p.expiration),
            messageID: text(AMQP_BASIC_MESSAGE_ID_FLAG, p.message_id),
            timestamp: has(AMQP_BASIC_TIMESTAMP_FLAG) ? Date(timeIntervalSince1970: TimeInterval(p.timestamp)) : nil,
            type: text(AMQP_BASIC_TYPE_FLAG, p.type),
            userID: text(AMQP_BASIC_USER_ID_FLAG, p.user_id),
            appID: text(AMQP_BASIC_APP_ID_FLAG, p.app_id)
        )
    }
}
