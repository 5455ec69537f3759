import CAMQPShim
import CRabbitMQ
import Foundation
import Testing
@testable import SwitchboardAMQP

/// Encodes into librabbitmq's C structures in an arena and decodes back: pure memory,
/// no connection.
@Suite("Field tables and properties on the wire")
struct WireCodecTests {
    private func roundTrip(_ table: AMQPTable) throws -> AMQPTable {
        let arena = CAMQPShim_arena_create()!
        defer { CAMQPShim_arena_destroy(arena) }
        var encoded = amqp_table_t()
        try WireCodec.encode(table, into: &encoded, arena: arena)
        return WireCodec.decode(encoded)
    }

    @Test func nestedTablesAndArraysSurvive() throws {
        let xDeath: AMQPFieldValue = [
            ["count": .int64(2), "reason": "rejected", "queue": "sb.outbound.acme", "routing-keys": ["acme.bulk"],
             "time": .timestamp(Date(timeIntervalSince1970: 1_790_000_000))],
        ]
        let table: AMQPTable = [
            "sb-attempt": .int32(3), "sb-tenant": "acme", "flag": true, "ratio": .double(0.25), "tiny": .int8(-4),
            "short": .int16(300), "big": .int64(Int64.max), "nothing": .void, "raw": .bytes([0, 1, 255]),
            "price": .decimal(scale: 2, value: 1999), "x-death": xDeath, "empty": .table([:]), "none": .array([]),
            "unicode": "héllo → ✓",
        ]
        #expect(try roundTrip(table) == table)
    }

    @Test func emptyTableIsEmpty() throws {
        #expect(try roundTrip([:]).isEmpty)
    }

    @Test func propertiesSurvive() throws {
        let arena = CAMQPShim_arena_create()!
        defer { CAMQPShim_arena_destroy(arena) }
        let properties = AMQPMessageProperties(
            contentType: "application/json", contentEncoding: "identity", headers: ["sb-tenant": "acme"],
            deliveryMode: .persistent, priority: 9, correlationID: "c-1", replyTo: "amq.rabbitmq.reply-to",
            expiration: "60000", messageID: "01JF0000", timestamp: Date(timeIntervalSince1970: 1_790_000_123),
            type: "outbound", userID: "guest", appID: "switchboard")
        let encoded = try WireCodec.encode(properties, arena: arena)
        #expect(WireCodec.decode(encoded) == properties)
        let bare = try WireCodec.encode(AMQPMessageProperties(), arena: arena)
        #expect(bare._flags == 0)
        #expect(WireCodec.decode(bare) == AMQPMessageProperties())
    }

    /// A name the arena could not copy must fail the method, never reach the broker as
    /// empty bytes (which AMQP reads as "the last queue declared on this channel").
    @Test func aFailedCopyThrowsInsteadOfNamingTheLastQueue() {
        let failingCopy: (UnsafeRawPointer?, Int) -> amqp_bytes_t = { _, count in
            amqp_bytes_t(len: count, bytes: nil)
        }
        #expect {
            _ = try WireCodec.bytes("sb.outbound.acme", copiedBy: failingCopy)
        } throws: { error in
            (error as? AMQPError)?.code == .protocolError
        }
    }

    /// The empty string is a real name (the default exchange, a server-named queue).
    @Test func theEmptyStringIsTheEmptyName() throws {
        let arena = CAMQPShim_arena_create()!
        defer { CAMQPShim_arena_destroy(arena) }
        let empty = try WireCodec.bytes("", in: arena)
        #expect(empty.len == 0)
        let name = try WireCodec.bytes("sb.dead", in: arena)
        #expect(WireCodec.string(name) == "sb.dead")
    }
}
