import Foundation
import SwitchboardAMQP
import SwitchboardCore
import SwitchboardDeadLetters
import SwitchboardStore
import Testing

private let roles = try! Topology.load(
    from: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Topology/topology.yaml").path).roles

private let now = Date(timeIntervalSince1970: 1_795_000_000)

private func read(source: String = "sb.dead", exchange: String = "sb.dlx", key: String,
                  headers: AMQPTable, messageID: String? = "m1", body: String) -> ArchivedDeadLetter {
    var properties = AMQPMessageProperties.persistent()
    properties.headers = headers
    properties.messageID = messageID
    return DeadLetterReading(roles: roles).archived(id: "dl1", source: source, exchange: exchange, routingKey: key,
                                                    properties: properties, body: Data(body.utf8), at: now)
}

@Suite("Reading a dead letter, whoever parked it")
struct DeadLetterReadingTests {
    @Test func aSendTheDispatcherGaveUpOnKeepsItsReasonCodeSessionAndWayBack() {
        let letter = read(key: "acme.http-401", headers: [
            "sb-tenant": .string("acme"), "sb-error-code": .string("http-401"), "sb-error-detail": .string("unknown key"),
            "sb-attempts": .int32(1), "sb-first-failed-at": .string("2026-11-29T10:00:00.000Z"),
            "sb-last-failed-at": .string("2026-11-29T10:00:01.000Z"), "sb-original-routing-key": .string("acme.bulk"),
            "sb-original-exchange": .string("sb.outbound"), "sb-session": .string("acme-main"),
            "sb-provider": .string("simulator"),
        ], body: #"{"id":"m1","tenant":"acme","to":"+14155550123"}"#)
        #expect(letter.tenant == "acme")
        #expect(letter.reason == "http-401")
        #expect(letter.errorCode == "http-401")
        #expect(letter.detail == "unknown key")
        #expect(letter.session == "acme-main")
        #expect(letter.provider == "simulator")
        #expect(letter.originalExchange == "sb.outbound")
        #expect(letter.originalRoutingKey == "acme.bulk")
        #expect(letter.attempts == 1)
        #expect(letter.firstFailedAt == WireJSON.parseDate("2026-11-29T10:00:00.000Z"))
        #expect(letter.lastFailedAt == WireJSON.parseDate("2026-11-29T10:00:01.000Z"))
        #expect(letter.messageID == "m1")
    }

    @Test func aMessageTheBrokerRejectedIsReadFromItsDeathHistory() {
        let death: AMQPTable = [
            "reason": .string("rejected"), "queue": .string("sb.outbound.acme"), "exchange": .string("sb.outbound"),
            "routing-keys": .array([.string("acme.transactional")]), "count": .int64(1),
            "time": .timestamp(Date(timeIntervalSince1970: 1_794_999_000)),
        ]
        let letter = read(exchange: "sb.dlx", key: "acme.transactional", headers: ["x-death": .array([.table(death)])],
                          messageID: nil, body: #"{"id":"m9","tenant":"acme","session":"acme-2"}"#)
        #expect(letter.reason == "rejected")
        #expect(letter.errorCode == nil)
        #expect(letter.tenant == "acme")
        #expect(letter.originalExchange == "sb.outbound")
        #expect(letter.originalRoutingKey == "acme.transactional")
        #expect(letter.messageID == "m9")
        #expect(letter.session == "acme-2")
        #expect(letter.firstFailedAt == Date(timeIntervalSince1970: 1_794_999_000))
        #expect(letter.detail?.contains("sb.outbound.acme") == true)
    }

    @Test func anUnroutableMessageNamesItsMissingTenantAndGoesBackToTheOutboundDoor() {
        let letter = read(source: "sb.unroutable", exchange: "sb.outbound", key: "ghost.bulk", headers: [:],
                          body: "not even json")
        #expect(letter.reason == "unroutable")
        #expect(letter.tenant == "ghost")
        #expect(letter.originalExchange == "sb.outbound")
        #expect(letter.originalRoutingKey == "ghost.bulk")
        #expect(letter.body == Data("not even json".utf8))
    }

    @Test func aRedeliveryHasTheSameFingerprintAndAnotherFailureDoesNot() {
        let headers: AMQPTable = ["sb-error-code": .string("expired"), "sb-last-failed-at": .string("2026-11-29T10:00:00Z")]
        let first = read(key: "acme.expired", headers: headers, body: "{}")
        let again = read(key: "acme.expired", headers: headers, body: "{}")
        var later = headers
        later["sb-last-failed-at"] = .string("2026-11-29T11:00:00Z")
        let other = read(key: "acme.expired", headers: later, body: "{}")
        #expect(first.fingerprint == again.fingerprint)
        #expect(first.fingerprint != other.fingerprint)
        #expect(first.fingerprint != read(key: "acme.expired", headers: headers, body: "{ }").fingerprint)
    }

    @Test func aReplayStripsTheFailureCountsItselfAndAsksTheDispatcherToCheckTheStore() throws {
        let letter = read(key: "acme.http-401", headers: [
            "sb-tenant": .string("acme"), "sb-error-code": .string("http-401"), "sb-attempt": .int32(3),
            "sb-original-routing-key": .string("acme.bulk"), "sb-original-exchange": .string("sb.outbound"),
            "x-death": .array([]), "sb-replays": .int32(1), "custom": .string("kept"),
        ], body: #"{"id":"m1","tenant":"acme","to":"+14155550123","session":"acme-main"}"#)
        let message = try DeadLetterReplayer.message(for: letter, roles: roles)
        #expect(message.exchange == "sb.outbound")
        #expect(message.routingKey == "acme.bulk")
        let headers = message.properties.headers ?? [:]
        #expect(headers["sb-error-code"] == nil)
        #expect(headers["x-death"] == nil)
        #expect(headers["sb-original-routing-key"] == nil)
        #expect(headers["sb-attempt"]?.intValue == 1)
        #expect(headers["sb-replays"]?.intValue == 2)
        #expect(headers["sb-replayed-from"]?.stringValue == "dl1")
        #expect(headers["sb-republished"] != nil)
        #expect(headers["custom"]?.stringValue == "kept")
        #expect(message.properties.messageID == "m1")
        #expect(message.properties.deliveryMode == .persistent)
        #expect(message.body == letter.body)

        let redirected = try DeadLetterReplayer.message(for: letter, roles: roles, session: "acme-backup")
        let envelope = try JSONDecoder().decode([String: String].self, from: redirected.body)
        #expect(envelope["session"] == "acme-backup")
        #expect(envelope["to"] == "+14155550123")
    }

    @Test func anEventAConsumerParkedHasNoWayBack() {
        let letter = read(key: "acme.malformed", headers: [
            "sb-error-code": .string("malformed"), "sb-original-exchange": .string("sb.events"),
            "sb-original-routing-key": .string("message.received"),
        ], body: "{}")
        #expect(throws: ReplayError.self) { try DeadLetterReplayer.message(for: letter, roles: roles) }
    }

    @Test func aMergePatchReplacesRemovesAndMergesNestedObjects() {
        let original = JSONValue.object(["to": .string("+1"), "text": .string("hi"),
                                         "media": .object(["url": .string("a"), "caption": .string("c")])])
        let patched = original.merging(patch: .object(["to": .string("+2"), "text": .null,
                                                       "media": .object(["url": .string("b")])]))
        #expect(patched == .object(["to": .string("+2"),
                                    "media": .object(["url": .string("b"), "caption": .string("c")])]))
    }
}
