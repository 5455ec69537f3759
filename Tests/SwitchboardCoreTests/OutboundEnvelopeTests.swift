import Foundation
import SwitchboardCore
import Testing

@Suite("The outbound envelope")
struct OutboundEnvelopeTests {
    let now = Date(timeIntervalSince1970: 1_795_000_000)

    private func decode(_ json: String) throws -> OutboundEnvelope {
        try WireJSON.decoder().decode(OutboundEnvelope.self, from: Data(json.utf8))
    }

    @Test func theArchitectureExampleDecodesAndIsValid() throws {
        let envelope = try decode("""
            {"id":"01JF00000000000000000000AB","tenant":"acme","session":"acme-main","class":"transactional",
             "to":"+14155550123","type":"text","text":"Your code is 123456",
             "media":null,"template":null,"campaign":null,"expires_at":"2026-11-21T16:05:00Z",
             "metadata":{"order":"A-17"}}
            """)
        #expect(envelope.messageClass == .transactional)
        #expect(envelope.messageClass.priority == 9)
        #expect(envelope.routingKey == "acme.transactional")
        #expect(envelope.session?.rawValue == "acme-main")
        #expect(envelope.metadata == ["order": "A-17"])
        #expect(envelope.problems(now: Date(timeIntervalSince1970: 1_795_000_000)).isEmpty)
    }

    @Test func wrongTypesAndBadNumbersDoNotDecode() {
        #expect(throws: (any Error).self) { try decode(#"{"id":"a","tenant":"acme","class":"bulk","to":14155550123,"type":"text","text":"x"}"#) }
        #expect(throws: (any Error).self) { try decode(#"{"id":"a","tenant":"acme","class":"bulk","to":"555-0123","type":"text","text":"x"}"#) }
        #expect(throws: (any Error).self) { try decode(#"{"id":"a","tenant":"acme","class":"urgent","to":"+14155550123","type":"text","text":"x"}"#) }
        #expect(throws: (any Error).self) { try decode(#"{"id":"a","tenant":"ACME","class":"bulk","to":"+14155550123","type":"text","text":"x"}"#) }
    }

    @Test func everyBrokenRuleIsReportedWithItsField() throws {
        var envelope = OutboundEnvelope(id: "has space", tenant: try TenantID("acme"), to: try PhoneNumber("+14155550123"),
                                        type: .text, text: String(repeating: "x", count: 4097),
                                        location: MessageLocation(latitude: 1, longitude: 2),
                                        expiresAt: now.addingTimeInterval(-1))
        let fields = Set(envelope.problems(now: now).map(\.field))
        #expect(fields == ["id", "text", "expires_at", "location"])
        envelope.text = String(repeating: "x", count: 4096)
        envelope.id = "order-17"
        envelope.location = nil
        envelope.expiresAt = now.addingTimeInterval(60)
        #expect(envelope.problems(now: now).isEmpty)
    }

    @Test(arguments: MessageType.allCases)
    func eachTypeNeedsItsFields(_ type: MessageType) throws {
        let bare = OutboundEnvelope(id: "m1", tenant: try TenantID("acme"), to: try PhoneNumber("+14155550123"), type: type)
        let field: String = switch type {
        case .text: "text"
        case .image, .document, .audio, .video: "media"
        case .location: "location"
        case .template: "template"
        }
        #expect(bare.problems(now: now).map(\.field) == [field])
        var complete = bare
        switch type {
        case .text: complete.text = "hi"
        case .image, .document, .audio, .video: complete.media = MessageMedia(url: "https://cdn.example/x", filename: "x.pdf")
        case .location: complete.location = MessageLocation(latitude: 52.5, longitude: 13.4, name: "Office")
        case .template: complete.template = MessageTemplate(name: "otp", language: "en_US", parameters: ["123456"])
        }
        #expect(complete.problems(now: now).isEmpty)
    }

    /// `validate` is what the api and the dispatcher both call: it throws every broken
    /// field at once, campaign included (once a rule of the api alone).
    @Test func validateThrowsEveryBrokenFieldAtOnce() throws {
        var envelope = OutboundEnvelope(id: "has space", tenant: try TenantID("acme"), to: try PhoneNumber("+14155550123"),
                                        type: .text, text: String(repeating: "x", count: 5000),
                                        template: MessageTemplate(name: "otp", language: "en"),
                                        campaign: String(repeating: "c", count: 129))
        let violations = #expect(throws: EnvelopeViolations.self) { try envelope.validate(now: now) }
        #expect(violations?.fields == ["id", "text", "template", "campaign"])
        let description = violations?.description ?? ""
        for field in ["id:", "text: is longer than 4096 characters", "template:", "campaign: must be 1–128 characters"] {
            #expect(description.contains(field), "\(description)")
        }
        envelope.campaign = ""
        #expect(throws: EnvelopeViolations(problems: [
            EnvelopeProblem(field: "id", detail: "must be 1–128 of A-Z a-z 0-9 . _ : -"),
            EnvelopeProblem(field: "text", detail: "is longer than 4096 characters"),
            EnvelopeProblem(field: "template", detail: "only a template message has one"),
            EnvelopeProblem(field: "campaign", detail: "must be 1–128 characters"),
        ])) { try envelope.validate(now: now) }
        envelope = OutboundEnvelope(id: "order-17", tenant: try TenantID("acme"), to: try PhoneNumber("+14155550123"),
                                    text: String(repeating: "x", count: 4096), campaign: "spring")
        try envelope.validate(now: now)
    }

    @Test func mediaURLsAndCoordinatesAreChecked() throws {
        var image = OutboundEnvelope(id: "m1", tenant: try TenantID("acme"), to: try PhoneNumber("+14155550123"),
                                     type: .image, media: MessageMedia(url: "file:///etc/passwd"))
        #expect(image.problems(now: now).map(\.field) == ["media.url"])
        image.media = MessageMedia(url: "https://cdn.example/a.png")
        image.text = String(repeating: "c", count: 1025)
        #expect(image.problems(now: now).map(\.field) == ["text"])
        let pin = OutboundEnvelope(id: "m2", tenant: try TenantID("acme"), to: try PhoneNumber("+14155550123"),
                                   type: .location, location: MessageLocation(latitude: 91, longitude: -181))
        #expect(Set(pin.problems(now: now).map(\.field)) == ["location.latitude", "location.longitude"])
    }

    @Test func encodingUsesTheWireNames() throws {
        let envelope = OutboundEnvelope(id: "m1", tenant: try TenantID("acme"), messageClass: .bulk,
                                        to: try PhoneNumber("+14155550123"), text: "hi", expiresAt: now)
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let json = try #require(try JSONSerialization.jsonObject(with: encoder.encode(envelope)) as? [String: Any])
        #expect(json["class"] as? String == "bulk")
        #expect(json["expires_at"] as? String == "2026-11-18T11:06:40Z")
        #expect(json["to"] as? String == "+14155550123")
    }
}

@Suite("Message ids")
struct MessageIDTests {
    @Test func areULIDsThatSortByTime() {
        let early = MessageID.make(at: Date(timeIntervalSince1970: 1_700_000_000))
        let late = MessageID.make(at: Date(timeIntervalSince1970: 1_700_000_001))
        #expect(early.count == 26)
        #expect(early < late)
        #expect(MessageID.isValid(early))
        #expect(Set((0..<1000).map { _ in MessageID.make() }).count == 1000)
        // The time part is the ULID spec's encoding of the milliseconds.
        #expect(MessageID.make(at: Date(timeIntervalSince1970: 0)).hasPrefix("0000000000"))
    }

    @Test func publisherChosenIdsAreChecked() {
        #expect(MessageID.isValid("order-17:retry_2.a"))
        #expect(!MessageID.isValid(""))
        #expect(!MessageID.isValid("with space"))
        #expect(!MessageID.isValid(String(repeating: "a", count: 129)))
        #expect(!MessageID.isValid("ünïcode"))
    }
}
