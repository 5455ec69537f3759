import Foundation
import SwitchboardCore
import SwitchboardProviders
import Testing

/// When the receiver accepted the webhooks below (later than any timestamp in them).
private let receivedAt = Date(timeIntervalSince1970: 1_795_276_900)

private func parse(_ body: String, as provider: ProviderKind = .wasender, session: String = "acme-main",
                   sessionNumber: String? = nil, at date: Date = receivedAt,
                   routes: [String: SessionRoute] = [:]) throws -> ParsedWebhook
{
    let raw = RawWebhook(provider: provider, session: try SessionID(session), tenant: try TenantID("acme"),
                         receivedAt: date, body: Data(body.utf8))
    return try WebhookParser.parse(raw, sessionNumber: try sessionNumber.map(PhoneNumber.init)) { routes[$0] }
}

private func route(_ tenant: String, _ session: String) throws -> SessionRoute {
    SessionRoute(tenant: try TenantID(tenant), session: try SessionID(session))
}

/// The one event of a parse that must give exactly one.
private func only(_ parsed: ParsedWebhook, sourceLocation: SourceLocation = #_sourceLocation) throws -> NormalizedEvent {
    #expect(parsed.events.count == 1, "\(parsed)", sourceLocation: sourceLocation)
    return try #require(parsed.events.first, sourceLocation: sourceLocation)
}

@Suite("WebhookParser: WasenderAPI webhooks")
struct WasenderWebhookParserTests {
    @Test func aTextMessageBecomesMessageReceived() throws {
        let event = try only(parse("""
            {
              "event": "messages.received",
              "timestamp": 1795276800,
              "data": {
                "messages": {
                  "key": {
                    "id": "3EB0B430B6F8F1D0E053AC120E0A9E5C",
                    "fromMe": false,
                    "remoteJid": "14155550123@s.whatsapp.net",
                    "senderPn": "14155550123@s.whatsapp.net",
                    "cleanedSenderPn": "14155550123"
                  },
                  "messageBody": "Hello, how are you?",
                  "message": {"conversation": "Hello, how are you?"},
                  "pushName": "John Doe",
                  "messageTimestamp": 1795276790
                }
              }
            }
            """))
        #expect(event.type == .messageReceived)
        #expect(event.id == EventID.derive(["wasender", "acme-main", "received", "3EB0B430B6F8F1D0E053AC120E0A9E5C"]))
        #expect(event.tenant.rawValue == "acme")
        #expect(event.session?.rawValue == "acme-main")
        #expect(event.provider == .wasender)
        #expect(event.occurredAt == Date(timeIntervalSince1970: 1_795_276_790))
        #expect(event.receivedAt == receivedAt)
        #expect(event.status == nil && event.sessionStatus == nil)
        let message = try #require(event.message)
        #expect(message == NormalizedEvent.Message(
            providerID: "3EB0B430B6F8F1D0E053AC120E0A9E5C", from: "+14155550123", to: nil, type: "text",
            text: "Hello, how are you?", fromMe: false, chat: nil, contactName: "John Doe"))
    }

    @Test func textFallsBackToConversationThenExtendedText() throws {
        let conversation = try only(parse("""
            {"event":"messages.received","timestamp":1795276800,"data":{"messages":{
              "key":{"id":"A1","fromMe":false,"remoteJid":"14155550123@s.whatsapp.net"},
              "message":{"conversation":"from conversation"}}}}
            """))
        #expect(conversation.message?.text == "from conversation")
        #expect(conversation.message?.from == "+14155550123")
        let extended = try only(parse("""
            {"event":"messages.received","timestamp":1795276800,"data":{"messages":{
              "key":{"id":"A2","fromMe":false,"remoteJid":"14155550123:7@s.whatsapp.net"},
              "messageBody":"",
              "message":{"extendedTextMessage":{"text":"see https://example.com","matchedText":"https://example.com"}}}}}
            """))
        #expect(extended.message?.text == "see https://example.com")
        #expect(extended.message?.type == "text")
        // The device suffix is not part of the number.
        #expect(extended.message?.from == "+14155550123")
    }

    @Test func anImageWithACaption() throws {
        let event = try only(parse("""
            {
              "event": "messages.received",
              "timestamp": 1795276800,
              "data": {
                "messages": {
                  "key": {"id": "3EB0IMG1", "fromMe": false, "remoteJid": "14155550123@s.whatsapp.net",
                          "cleanedSenderPn": "14155550123"},
                  "pushName": "John Doe",
                  "messageTimestamp": 1795276795,
                  "messageBody": "",
                  "message": {
                    "imageMessage": {
                      "url": "https://mmg.whatsapp.net/o1/v/t62.7118-24/f1/m233/abc.enc",
                      "mimetype": "image/jpeg",
                      "caption": "Our new office",
                      "fileSha256": "n4D2...", "fileLength": "48213", "height": 1280, "width": 960,
                      "mediaKey": "Zb8...", "directPath": "/o1/v/t62.7118-24/f1/m233/abc.enc"
                    }
                  }
                }
              }
            }
            """))
        let message = try #require(event.message)
        #expect(message.type == "image")
        #expect(message.text == "Our new office")
        #expect(message.media == NormalizedEvent.Media(
            url: "https://mmg.whatsapp.net/o1/v/t62.7118-24/f1/m233/abc.enc", mimeType: "image/jpeg"))
        #expect(message.location == nil)
    }

    @Test func aDocumentKeepsItsFileNameAndAWrappedOneIsUnwrapped() throws {
        let plain = try only(parse("""
            {"event":"messages.received","timestamp":1795276800,"data":{"messages":{
              "key":{"id":"3EB0DOC1","fromMe":false,"remoteJid":"14155550123@s.whatsapp.net"},
              "messageTimestamp":"1795276799",
              "message":{"documentMessage":{"url":"https://mmg.whatsapp.net/d/f/doc.enc",
                "mimetype":"application/pdf","title":"invoice","fileName":"invoice-0042.pdf","pageCount":2}}}}}
            """))
        #expect(plain.message?.type == "document")
        #expect(plain.message?.media?.fileName == "invoice-0042.pdf")
        #expect(plain.message?.media?.mimeType == "application/pdf")
        #expect(plain.message?.text == nil)
        // A string messageTimestamp counts too.
        #expect(plain.occurredAt == Date(timeIntervalSince1970: 1_795_276_799))

        let wrapped = try only(parse("""
            {"event":"messages.received","timestamp":1795276800,"data":{"messages":{
              "key":{"id":"3EB0DOC2","fromMe":false,"remoteJid":"14155550123@s.whatsapp.net"},
              "message":{"documentWithCaptionMessage":{"message":{"documentMessage":{
                "url":"https://mmg.whatsapp.net/d/f/doc2.enc","mimetype":"application/pdf",
                "fileName":"contract.pdf","caption":"Please sign"}}}}}}}
            """))
        #expect(wrapped.message?.type == "document")
        #expect(wrapped.message?.media?.fileName == "contract.pdf")
        #expect(wrapped.message?.text == "Please sign")
    }

    @Test func aLocationAndAContactCard() throws {
        let location = try only(parse("""
            {"event":"messages.received","timestamp":1795276800,"data":{"messages":{
              "key":{"id":"3EB0LOC1","fromMe":false,"remoteJid":"14155550123@s.whatsapp.net"},
              "message":{"locationMessage":{"degreesLatitude":52.520008,"degreesLongitude":13.404954,
                "name":"Alexanderplatz","address":"10178 Berlin"}}}}}
            """))
        #expect(location.message?.type == "location")
        #expect(location.message?.location == NormalizedEvent.Location(
            latitude: 52.520008, longitude: 13.404954, name: "Alexanderplatz", address: "10178 Berlin"))
        #expect(location.message?.media == nil)

        let contact = try only(parse("""
            {"event":"messages.received","timestamp":1795276800,"data":{"messages":{
              "key":{"id":"3EB0VC1","fromMe":false,"remoteJid":"14155550123@s.whatsapp.net"},
              "message":{"contactMessage":{"displayName":"Jane Roe",
                "vcard":"BEGIN:VCARD\\nVERSION:3.0\\nFN:Jane Roe\\nTEL;type=CELL;waid=14155550177:+1 415 555 0177\\nEND:VCARD"}}}}}
            """))
        #expect(contact.message?.type == "contact")
        #expect(contact.message?.text == "Jane Roe")
    }

    @Test func upsertWithSeveralMessagesGivesOneEventEach() throws {
        let parsed = try parse("""
            {
              "event": "messages.upsert",
              "timestamp": 1795276800,
              "sessionId": "wa-session-77",
              "data": {
                "messages": [
                  {"key": {"id": "3EB0AAA1", "fromMe": false, "remoteJid": "14155550123@s.whatsapp.net"},
                   "pushName": "John Doe", "messageTimestamp": 1795276781, "message": {"conversation": "first"}},
                  {"key": {"id": "3EB0AAA2", "fromMe": false, "remoteJid": "14155550124@s.whatsapp.net"},
                   "pushName": "Ana", "messageTimestamp": "1795276782", "message": {"conversation": "second"}},
                  {"key": {"id": "3EB0AAA3", "fromMe": false, "remoteJid": "14155550125@c.us"},
                   "message": {"reactionMessage": {"key": {"id": "3EB0AAA1"}, "text": "👍"}}}
                ],
                "type": "notify"
              }
            }
            """)
        #expect(parsed.events.count == 3)
        #expect(Set(parsed.events.map(\.id)).count == 3)
        #expect(parsed.events.map { $0.message?.providerID } == ["3EB0AAA1", "3EB0AAA2", "3EB0AAA3"])
        #expect(parsed.events.map { $0.message?.from } == ["+14155550123", "+14155550124", "+14155550125"])
        #expect(parsed.events.map { $0.message?.text } == ["first", "second", "👍"])
        #expect(parsed.events[2].message?.type == "reaction")
        #expect(parsed.events.map(\.occurredAt) == [Date(timeIntervalSince1970: 1_795_276_781),
                                                    Date(timeIntervalSince1970: 1_795_276_782),
                                                    Date(timeIntervalSince1970: 1_795_276_800)])
    }

    @Test func singleAndArrayFormsAreBothAccepted() throws {
        let single = try parse("""
            {"event":"messages.upsert","timestamp":1795276800,"data":{"messages":
              {"key":{"id":"S1","fromMe":false,"remoteJid":"14155550123@s.whatsapp.net"},"message":{"conversation":"a"}}}}
            """)
        #expect(single.events.map { $0.message?.providerID } == ["S1"])
        let array = try parse("""
            {"event":"messages.received","timestamp":1795276800,"data":{"messages":[
              {"key":{"id":"R1","fromMe":false,"remoteJid":"14155550123@s.whatsapp.net"},"message":{"conversation":"a"}},
              {"key":{"id":"R2","fromMe":false,"remoteJid":"14155550123@s.whatsapp.net"},"message":{"conversation":"b"}}]}}
            """)
        #expect(array.events.map { $0.message?.providerID } == ["R1", "R2"])
        for name in ["messages-personal.received", "messages-group.received", "messages-newsletter.received"] {
            let parsed = try parse("""
                {"event":"\(name)","timestamp":1795276800,"data":{"messages":
                  {"key":{"id":"P1","fromMe":false,"remoteJid":"14155550123@s.whatsapp.net"},"messageBody":"x"}}}
                """)
            #expect(parsed.events.map(\.type) == [.messageReceived], "\(name)")
        }
    }

    @Test func aGroupMessageNamesTheGroupAndTheParticipant() throws {
        let event = try only(parse("""
            {"event":"messages-group.received","timestamp":1795276800,"data":{"messages":{
              "key":{"id":"3EB0GRP1","fromMe":false,"remoteJid":"120363041234567890@g.us",
                     "participant":"14155550199@s.whatsapp.net"},
              "pushName":"Maria","messageTimestamp":1795276790,
              "message":{"conversation":"Meeting at 5?"}}}}
            """))
        #expect(event.message?.chat == "120363041234567890@g.us")
        #expect(event.message?.from == "+14155550199")
        #expect(event.message?.contactName == "Maria")
        #expect(event.message?.to == nil)

        // A participant known only by its `@lid` is named by `participantPn`.
        let lid = try only(parse("""
            {"event":"messages.upsert","timestamp":1795276800,"data":{"messages":[{
              "key":{"id":"3EB0GRP2","fromMe":false,"remoteJid":"120363041234567890@g.us",
                     "participant":"203456789012345@lid","participantPn":"14155550198@s.whatsapp.net"},
              "message":{"conversation":"ok"}}]}}
            """))
        #expect(lid.message?.chat == "120363041234567890@g.us")
        #expect(lid.message?.from == "+14155550198")
    }

    @Test func aLidJidIsNoPhoneNumber() throws {
        let withPn = try only(parse("""
            {"event":"messages.received","timestamp":1795276800,"data":{"messages":{
              "key":{"id":"L1","fromMe":false,"remoteJid":"203456789012345@lid",
                     "senderPn":"14155550123@s.whatsapp.net"},"messageBody":"hi"}}}
            """))
        #expect(withPn.message?.from == "+14155550123")
        #expect(withPn.message?.chat == nil)
        let without = try only(parse("""
            {"event":"messages.received","timestamp":1795276800,"data":{"messages":{
              "key":{"id":"L2","fromMe":false,"remoteJid":"203456789012345@lid"},"messageBody":"hi"}}}
            """))
        #expect(without.message?.from == nil)
        #expect(without.message?.text == "hi")
    }

    /// With LID addressing `participant` is an `@lid` id; the number is only in
    /// `cleanedParticipantPn`, the field WasenderAPI recommends for group senders.
    @Test func aGroupSenderKnownOnlyByCleanedParticipantPnIsTheSender() throws {
        let event = try only(parse("""
            {"event":"messages-group.received","timestamp":1795276800,"data":{"messages":{
              "key":{"id":"3EB0GRP3","fromMe":false,"remoteJid":"120363041234567890@g.us",
                     "participant":"203456789012345@lid","cleanedParticipantPn":"14155550197"},
              "message":{"conversation":"who am I?"}}}}
            """))
        #expect(event.message?.chat == "120363041234567890@g.us")
        #expect(event.message?.from == "+14155550197")
    }

    /// `cleanedParticipantPn` wins over `participantPn`, which wins over a phone-number
    /// `participant`; an `@lid` participant alone names nobody.
    @Test func groupSenderFieldsInOrderOfPreference() throws {
        func sender(_ key: String) throws -> String? {
            try only(parse("""
                {"event":"messages.upsert","timestamp":1795276800,"data":{"messages":[{
                  "key":{"id":"3EB0GRP4","fromMe":false,"remoteJid":"120363041234567890@g.us",\(key)},
                  "message":{"conversation":"hi"}}]}}
                """)).message?.from
        }
        #expect(try sender(#""participant":"14155550101@s.whatsapp.net","participantPn":"14155550102@s.whatsapp.net","cleanedParticipantPn":"14155550103""#)
            == "+14155550103")
        #expect(try sender(#""participant":"14155550101@s.whatsapp.net","participantPn":"14155550102@s.whatsapp.net""#)
            == "+14155550102")
        #expect(try sender(#""participant":"14155550101@s.whatsapp.net""#) == "+14155550101")
        #expect(try sender(#""participant":"203456789012345@lid""#) == nil)
    }

    /// WasenderAPI never names the receiving number: it is the session's own, in a chat
    /// and in a group alike.
    @Test func aReceivedMessageIsToTheSessionsOwnNumber() throws {
        let direct = try only(parse("""
            {"event":"messages.received","timestamp":1795276800,"data":{"messages":{
              "key":{"id":"TO1","fromMe":false,"remoteJid":"14155550123@s.whatsapp.net",
                     "cleanedSenderPn":"14155550123"},"messageBody":"hi"}}}
            """, sessionNumber: "+14155550100"))
        #expect(direct.type == .messageReceived)
        #expect(direct.message?.from == "+14155550123")
        #expect(direct.message?.to == "+14155550100")
        let group = try only(parse("""
            {"event":"messages-group.received","timestamp":1795276800,"data":{"messages":{
              "key":{"id":"TO2","fromMe":false,"remoteJid":"120363041234567890@g.us",
                     "participant":"203456789012345@lid","cleanedParticipantPn":"14155550197"},"messageBody":"hi"}}}
            """, sessionNumber: "+14155550100"))
        #expect(group.message?.to == "+14155550100")
        // What the session sent itself keeps the chat partner as `to`.
        let own = try only(parse("""
            {"event":"messages.upsert","timestamp":1795276800,"data":{"messages":[{
              "key":{"id":"TO3","fromMe":true,"remoteJid":"14155550123@s.whatsapp.net"},"messageBody":"hello"}]}}
            """, sessionNumber: "+14155550100"))
        #expect(own.message?.to == "+14155550123")
    }

    @Test func aMessageTheSessionSentItselfIsFromMe() throws {
        let event = try only(parse("""
            {"event":"messages.upsert","timestamp":1795276800,"data":{"messages":[{
              "key":{"id":"3EB0ME01","fromMe":true,"remoteJid":"14155550123@s.whatsapp.net"},
              "messageTimestamp":1795276799,"messageBody":"sent from my phone",
              "message":{"extendedTextMessage":{"text":"sent from my phone"}}}]}}
            """))
        #expect(event.type == .messageReceived)
        #expect(event.message?.fromMe == true)
        // The chat partner is the recipient; our own number is not in the webhook.
        #expect(event.message?.to == "+14155550123")
        #expect(event.message?.from == nil)
        #expect(event.message?.text == "sent from my phone")
    }

    @Test(arguments: [(2, "sent"), (3, "delivered"), (4, "read"), (5, "played"), (0, "failed"), (1, "queued")])
    func messagesUpdateStatusCodes(_ code: Int, _ expected: String) throws {
        let event = try only(parse("""
            {
              "event": "messages.update",
              "timestamp": 1795276800,
              "data": {
                "key": {"remoteJid": "14155550123@s.whatsapp.net", "fromMe": true, "id": "3EB0STAT01"},
                "update": {"status": \(code)}
              }
            }
            """))
        #expect(event.type == .messageStatus)
        #expect(event.status == NormalizedEvent.Status(status: MessageState(rawValue: expected)!, messageID: nil, providerMessageID: "3EB0STAT01"))
        #expect(event.id == EventID.derive(["wasender", "3EB0STAT01", expected]))
        #expect(event.occurredAt == Date(timeIntervalSince1970: 1_795_276_800))
        #expect(event.receivedAt == receivedAt)
        #expect(event.session?.rawValue == "acme-main")
        #expect(event.message == nil)
    }

    @Test(arguments: [("DELIVERY_ACK", "delivered"), ("READ", "read"), ("PLAYED", "played"), ("SERVER_ACK", "sent"),
                      ("PENDING", "queued"), ("ERROR", "failed"), ("delivered", "delivered"), ("\"4\"", "read")])
    func statusNamesAreAcceptedToo(_ name: String, _ expected: String) throws {
        let value = name.hasPrefix("\"") ? name : "\"\(name)\""
        let event = try only(parse("""
            {"event":"messages.update","timestamp":1795276800,
             "data":{"key":{"remoteJid":"14155550123@s.whatsapp.net","fromMe":true,"id":"N1"},"update":{"status":\(value)}}}
            """))
        #expect(event.status?.status.rawValue == expected)
    }

    @Test func messagesUpdateAsAnArray() throws {
        let parsed = try parse("""
            {"event":"messages.update","timestamp":1795276800,"data":[
              {"key":{"remoteJid":"14155550123@s.whatsapp.net","fromMe":true,"id":"3EB0A1"},"update":{"status":3}},
              {"key":{"remoteJid":"14155550124@s.whatsapp.net","fromMe":true,"id":"3EB0A2"},"update":{"status":4}},
              {"key":{"remoteJid":"14155550125@s.whatsapp.net","fromMe":true,"id":"3EB0A3"},"update":{"status":42}}
            ]}
            """)
        #expect(parsed.events.map { $0.status?.providerMessageID } == ["3EB0A1", "3EB0A2"])
        #expect(parsed.events.map { $0.status?.status.rawValue } == ["delivered", "read"])
        #expect(Set(parsed.events.map(\.id)).count == 2)
        // The unknown code is left out, with a note.
        #expect(parsed.skipped.count == 1)
        #expect(parsed.skipped.first?.contains("42") == true)
    }

    @Test func msgIdIsTheProviderIdWhenPresent() throws {
        let event = try only(parse("""
            {"event":"messages.update","timestamp":1795276800,
             "data":{"msgId":100042,"key":{"remoteJid":"14155550123@s.whatsapp.net","fromMe":true,"id":"3EB0X"},
                     "update":{"status":3}}}
            """))
        #expect(event.status?.providerMessageID == "100042")
        #expect(event.status?.messageID == nil)
    }

    @Test func aStatusOfAReceivedMessageIsSkipped() throws {
        let parsed = try parse("""
            {"event":"messages.update","timestamp":1795276800,
             "data":{"key":{"remoteJid":"14155550123@s.whatsapp.net","fromMe":false,"id":"3EB0IN"},"update":{"status":4}}}
            """)
        #expect(parsed.events.isEmpty)
        #expect(parsed.skipped.count == 1)
    }

    @Test func messageSentIsASentStatus() throws {
        let event = try only(parse("""
            {"event":"message.sent","timestamp":1795276801,
             "data":{"key":{"remoteJid":"14155550123@s.whatsapp.net","fromMe":true,"id":"3EB0SENT"},
                     "message":{"conversation":"Your code is 123456"},"messageTimestamp":1795276801}}
            """))
        #expect(event.type == .messageStatus)
        #expect(event.status?.status == .sent)
        #expect(event.status?.providerMessageID == "3EB0SENT")
        #expect(event.occurredAt == Date(timeIntervalSince1970: 1_795_276_801))

        let byMsgID = try only(parse("""
            {"event":"message.sent","timestamp":1795276801,"data":{"msgId":"100043","jid":"+14155550123","status":"in_progress"}}
            """))
        #expect(byMsgID.status?.providerMessageID == "100043")
        #expect(byMsgID.status?.status == .sent)
    }

    @Test func sessionStatusInUpperCase() throws {
        let event = try only(parse("""
            {"event":"session.status","timestamp":1795276800,"sessionId":"wa-session-77","data":{"status":"NEED_SCAN"}}
            """))
        #expect(event.type == .sessionStatus)
        #expect(event.sessionStatus == .needScan)
        #expect(event.id == EventID.derive(["wasender", "acme-main", "session", "need_scan", "1795276800"]))
        #expect(event.occurredAt == Date(timeIntervalSince1970: 1_795_276_800))
        #expect(event.message == nil && event.status == nil)

        let asString = try only(parse(#"{"event":"session.status","timestamp":1795276860,"data":"connected"}"#))
        #expect(asString.sessionStatus == .connected)
        #expect(asString.id != event.id)

        // A state the gateway cannot read is refused (the normalizer dead-letters it), not dropped.
        let unknown = #expect(throws: WebhookParseError.self) {
            try parse(#"{"event":"session.status","timestamp":1795276860,"data":{"status":"SLEEPING"}}"#)
        }
        #expect(unknown == .unknownSessionStatus("SLEEPING"))
        #expect(unknown?.code == "unknown-session-status")
    }

    @Test(arguments: ["qrcode.updated", "contacts.upsert", "chats.update", "groups.upsert", "call", "poll.results"])
    func eventsTheGatewayDoesNotCarryAreSkipped(_ name: String) throws {
        let parsed = try parse("""
            {"event":"\(name)","timestamp":1795276800,"data":{"qrCode":"2@AbCdEf...,Xy==","sessionId":"wa-session-77"}}
            """)
        #expect(parsed.events.isEmpty)
        #expect(parsed.skipped.count == 1)
        #expect(parsed.skipped.first?.contains(name) == true)
    }

    @Test(arguments: ["", "not json", "<html>502 Bad Gateway</html>", "[]",
                      #"[{"event":"messages.received"}]"#, #""messages.received""#, "{}",
                      #"{"timestamp":1795276800,"data":{}}"#, #"{"event":42,"data":{}}"#, #"{"event":"","data":{}}"#,
                      #"{"event":"messages.received","data":{"#])
    func malformedBodiesThrow(_ body: String) throws {
        let error = #expect(throws: WebhookParseError.self) { try parse(body) }
        #expect(error?.code == "unparseable")
        #expect(error?.description.isEmpty == false)
    }

    /// JSON whose `data` is of another type than the event needs is no WasenderAPI
    /// webhook: it throws (so the normalizer dead-letters it) instead of being skipped.
    @Test(arguments: [
        #"{"event":"messages.received","timestamp":1795276800,"data":42}"#,
        #"{"event":"messages.upsert","timestamp":1795276800,"data":"hello"}"#,
        #"{"event":"messages.received","timestamp":1795276800,"data":[1,2]}"#,
        #"{"event":"messages.update","timestamp":1795276800,"data":true}"#,
        #"{"event":"message.sent","timestamp":1795276800,"data":"100043"}"#,
        #"{"event":"session.status","timestamp":1795276800,"data":7}"#,
        #"{"event":"messages.received","timestamp":1795276800}"#,
        #"{"event":"messages.update","timestamp":1795276800,"data":null}"#,
    ])
    func dataOfTheWrongTypeThrowsWithAReason(_ body: String) throws {
        let error = #expect(throws: WebhookParseError.self) { try parse(body) }
        #expect(error?.code == "unparseable")
        #expect(error?.description.contains("data") == true, "\(String(describing: error))")
    }

    /// An event the gateway does not carry is skipped whatever its data holds.
    @Test func anUncarriedEventIsSkippedWhateverItsData() throws {
        let parsed = try parse(#"{"event":"qrcode.updated","timestamp":1795276800,"data":42}"#)
        #expect(parsed.events.isEmpty && parsed.skipped.count == 1)
    }

    @Test func timestampsInMillisecondsAndTheFallbacks() throws {
        let milliseconds = try only(parse("""
            {"event":"messages.received","timestamp":1795276800123,"data":{"messages":{
              "key":{"id":"T1","fromMe":false,"remoteJid":"14155550123@s.whatsapp.net"},"messageBody":"x"}}}
            """))
        #expect(abs(milliseconds.occurredAt.timeIntervalSince1970 - 1_795_276_800.123) < 0.0005)
        let noTime = try only(parse("""
            {"event":"messages.received","data":{"messages":{
              "key":{"id":"T2","fromMe":false,"remoteJid":"14155550123@s.whatsapp.net"},"messageBody":"x"}}}
            """))
        #expect(noTime.occurredAt == receivedAt)
        let own = try only(parse("""
            {"event":"messages.received","timestamp":1795276800,"data":{"messages":{
              "key":{"id":"T3","fromMe":false,"remoteJid":"14155550123@s.whatsapp.net"},
              "messageTimestamp":1795276700000,"messageBody":"x"}}}
            """))
        #expect(own.occurredAt == Date(timeIntervalSince1970: 1_795_276_700))
    }

    @Test func oddTypesReadAsAbsentOrAreCoerced() throws {
        let parsed = try parse("""
            {"event":"messages.received","timestamp":"1795276800","data":{"messages":[
              null, 7, "x", [],
              {"key":{"id":12345,"fromMe":"false","remoteJid":"14155550123@s.whatsapp.net"},
               "pushName":{"first":"J"},"messageTimestamp":{"low":1795276790,"high":0,"unsigned":false},
               "message":{"conversation":["not","text"],"imageMessage":"nope"},"messageBody":"still here"},
              {"key":{"fromMe":false,"remoteJid":"14155550123@s.whatsapp.net"},"messageBody":"no id"}
            ]}}
            """)
        let event = try only(parsed)
        #expect(event.message?.providerID == "12345")
        #expect(event.message?.fromMe == false)
        #expect(event.message?.contactName == nil)
        #expect(event.message?.text == "still here")
        #expect(event.message?.type == "text")
        #expect(event.occurredAt == Date(timeIntervalSince1970: 1_795_276_790))
        // The message without an id is noted, not turned into an event.
        #expect(parsed.skipped.count == 1)
    }
}

@Suite("WebhookParser: what the simulator sends")
struct SimulatorWebhookParserTests {
    // Exactly the shapes `WebhookPayload` in SwitchboardSimulator encodes (field order as declared).

    @Test(arguments: [ProviderKind.simulator, .wasender])
    func wasenderFlavorStatus(_ provider: ProviderKind) throws {
        let event = try only(parse("""
            {"event":"messages.update","timestamp":1795276800,"sessionId":"acme-main","data":{"key":{"id":"100001","remoteJid":"+14155550123","fromMe":true},"update":{"status":3}}}
            """, as: provider))
        #expect(event.type == .messageStatus)
        #expect(event.provider == provider)
        #expect(event.status == NormalizedEvent.Status(status: .delivered, messageID: nil, providerMessageID: "100001"))
        #expect(event.id == EventID.derive([provider.rawValue, "100001", "delivered"]))
    }

    @Test func wasenderFlavorInbound() throws {
        let event = try only(parse("""
            {"event":"messages.received","timestamp":1795276800,"sessionId":"acme-main","data":{"messages":{"key":{"id":"sim-in-7","remoteJid":"14155550123@s.whatsapp.net","fromMe":false,"senderPn":"14155550123@s.whatsapp.net","cleanedSenderPn":"14155550123"},"messageTimestamp":1795276800,"pushName":"Ada","messageBody":"STOP","message":{"conversation":"STOP"}}}}
            """, as: .simulator))
        #expect(event.provider == .simulator)
        #expect(event.id == EventID.derive(["simulator", "acme-main", "received", "sim-in-7"]))
        #expect(event.message == NormalizedEvent.Message(
            providerID: "sim-in-7", from: "+14155550123", to: nil, type: "text", text: "STOP", fromMe: false,
            contactName: "Ada"))
        // Without a name the simulator leaves `pushName` out.
        let anonymous = try only(parse("""
            {"event":"messages.received","timestamp":1795276800,"sessionId":"acme-main","data":{"messages":{"key":{"id":"sim-in-8","remoteJid":"14155550123@s.whatsapp.net","fromMe":false,"senderPn":"14155550123@s.whatsapp.net","cleanedSenderPn":"14155550123"},"messageTimestamp":1795276800,"messageBody":"hi","message":{"conversation":"hi"}}}}
            """, as: .simulator))
        #expect(anonymous.message?.contactName == nil)
        #expect(anonymous.message?.text == "hi")
    }

    @Test func metaFlavorStatusAndInbound() throws {
        let routes = ["pn-acme-1": try route("acme", "acme-meta")]
        let status = try only(parse("""
            {"entry":[{"id":"WABA-pn-acme-1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"14155550100","phone_number_id":"pn-acme-1"},"statuses":[{"id":"wamid.SIM000001","status":"read","timestamp":"1795276800","recipient_id":"14155550123"}]}}]}],"object":"whatsapp_business_account"}
            """, as: .meta, routes: routes))
        #expect(status.provider == .meta)
        #expect(status.session?.rawValue == "acme-meta")
        #expect(status.status?.status == .read)
        #expect(status.status?.providerMessageID == "wamid.SIM000001")
        #expect(status.id == EventID.derive(["meta", "wamid.SIM000001", "read"]))

        let inbound = try only(parse("""
            {"entry":[{"id":"WABA-pn-acme-1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"","phone_number_id":"pn-acme-1"},"contacts":[{"profile":{"name":"14155550123"},"wa_id":"14155550123"}],"messages":[{"from":"14155550123","id":"wamid.SIMIN0001","timestamp":"1795276800","type":"text","text":{"body":"hello"}}]}}]}],"object":"whatsapp_business_account"}
            """, as: .meta, routes: routes))
        #expect(inbound.message == NormalizedEvent.Message(
            providerID: "wamid.SIMIN0001", from: "+14155550123", to: nil, type: "text", text: "hello",
            contactName: "14155550123"))
        #expect(inbound.id == EventID.derive(["meta", "acme-meta", "received", "wamid.SIMIN0001"]))
    }
}

@Suite("WebhookParser: Meta Cloud API webhooks")
struct MetaWebhookParserTests {
    let routes: [String: SessionRoute]

    init() throws {
        routes = ["106540352242922": try route("acme", "acme-main"), "209876543210987": try route("globex", "globex-us")]
    }

    @Test func aTextMessageWithItsContact() throws {
        let event = try only(parse("""
            {
              "object": "whatsapp_business_account",
              "entry": [{
                "id": "102290129340398",
                "changes": [{
                  "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
                    "contacts": [
                      {"profile": {"name": "Someone Else"}, "wa_id": "16505559999"},
                      {"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}
                    ],
                    "messages": [{
                      "from": "16505551234",
                      "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
                      "timestamp": "1795276790",
                      "text": {"body": "Does it come in another color?"},
                      "type": "text"
                    }]
                  },
                  "field": "messages"
                }]
              }]
            }
            """, as: .meta, routes: routes))
        #expect(event.type == .messageReceived)
        #expect(event.tenant.rawValue == "acme")
        #expect(event.session?.rawValue == "acme-main")
        #expect(event.provider == .meta)
        #expect(event.occurredAt == Date(timeIntervalSince1970: 1_795_276_790))
        #expect(event.receivedAt == receivedAt)
        #expect(event.id == EventID.derive(["meta", "acme-main", "received",
                                            "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="]))
        #expect(event.message == NormalizedEvent.Message(
            providerID: "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=", from: "+16505551234",
            to: "+15550783881", type: "text", text: "Does it come in another color?", contactName: "Sheena Nelson"))
    }

    @Test func anImageAndADocument() throws {
        let parsed = try parse("""
            {"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{
              "messaging_product":"whatsapp",
              "metadata":{"display_phone_number":"+1 555-078-3881","phone_number_id":"106540352242922"},
              "contacts":[{"profile":{"name":"Sheena Nelson"},"wa_id":"16505551234"}],
              "messages":[
                {"from":"16505551234","id":"wamid.IMG1","timestamp":"1795276791","type":"image",
                 "image":{"caption":"This is a caption","mime_type":"image/jpeg",
                          "sha256":"WO+z2aZ4t0xwTN2CsZUS8T/VpMhj2MedrNVQ7sa2ngc=","id":"1003383421387256"}},
                {"from":"16505551234","id":"wamid.DOC1","timestamp":"1795276792","type":"document",
                 "document":{"filename":"offer.pdf","mime_type":"application/pdf","sha256":"abc=","id":"1234567890123456"}}
              ]}}]}]}
            """, as: .meta, routes: routes)
        #expect(parsed.events.count == 2)
        let image = try #require(parsed.events.first?.message)
        #expect(image.type == "image")
        #expect(image.text == "This is a caption")
        #expect(image.media == NormalizedEvent.Media(id: "1003383421387256", mimeType: "image/jpeg"))
        #expect(image.to == "+15550783881")
        let document = try #require(parsed.events.last?.message)
        #expect(document.type == "document")
        #expect(document.text == nil)
        #expect(document.media == NormalizedEvent.Media(id: "1234567890123456", mimeType: "application/pdf",
                                                        fileName: "offer.pdf"))
    }

    @Test func otherMessageKinds() throws {
        let parsed = try parse("""
            {"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{
              "messaging_product":"whatsapp",
              "metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},
              "messages":[
                {"from":"16505551234","id":"wamid.LOC","timestamp":"1795276791","type":"location",
                 "location":{"latitude":37.4847,"longitude":-122.1473,"name":"Meta HQ","address":"1 Hacker Way, Menlo Park"}},
                {"from":"16505551234","id":"wamid.BTN","timestamp":"1795276792","type":"interactive",
                 "interactive":{"type":"button_reply","button_reply":{"id":"yes-1","title":"Yes, confirm"}}},
                {"from":"16505551234","id":"wamid.LST","timestamp":"1795276793","type":"interactive",
                 "interactive":{"type":"list_reply","list_reply":{"id":"row-2","title":"Tuesday","description":"10:00"}}},
                {"from":"16505551234","id":"wamid.QRB","timestamp":"1795276794","type":"button",
                 "context":{"from":"15550783881","id":"wamid.TPL"},"button":{"text":"Stop promotions","payload":"STOP"}},
                {"from":"16505551234","id":"wamid.RCT","timestamp":"1795276795","type":"reaction",
                 "reaction":{"message_id":"wamid.OUT1","emoji":"❤️"}},
                {"from":"16505551234","id":"wamid.VCF","timestamp":"1795276796","type":"contacts",
                 "contacts":[{"name":{"formatted_name":"Jane Roe","first_name":"Jane"},"phones":[{"phone":"+1 415 555 0177","wa_id":"14155550177","type":"CELL"}]}]},
                {"from":"16505551234","id":"wamid.UNS","timestamp":"1795276797","type":"unsupported",
                 "errors":[{"code":131051,"title":"Message type unknown","message":"Message type unknown",
                            "error_data":{"details":"Message type is currently not supported."}}]},
                {"from":"16505551234","id":"wamid.GRP","timestamp":"1795276798","type":"text","group_id":"120363041234567890",
                 "text":{"body":"hi group"}}
              ]}}]}]}
            """, as: .meta, routes: routes)
        let messages = parsed.events.compactMap(\.message)
        #expect(messages.map(\.type) == ["location", "interactive", "interactive", "button", "reaction", "contact",
                                         "unknown", "text"])
        #expect(messages.map(\.text) == [nil, "Yes, confirm", "Tuesday", "Stop promotions", "❤️", "Jane Roe", nil,
                                         "hi group"])
        #expect(messages[0].location == NormalizedEvent.Location(latitude: 37.4847, longitude: -122.1473,
                                                                 name: "Meta HQ", address: "1 Hacker Way, Menlo Park"))
        #expect(messages[7].chat == "120363041234567890")
        #expect(messages.allSatisfy { $0.chat == nil || $0.providerID == "wamid.GRP" })
    }

    @Test func severalMessagesChangesAndEntriesAreRoutedByTheirOwnNumber() throws {
        let parsed = try parse("""
            {"object":"whatsapp_business_account","entry":[
              {"id":"WABA-ACME","changes":[
                {"field":"messages","value":{"messaging_product":"whatsapp",
                  "metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},
                  "contacts":[{"profile":{"name":"Ann"},"wa_id":"16505550001"},{"profile":{"name":"Bob"},"wa_id":"16505550002"}],
                  "messages":[
                    {"from":"16505550001","id":"wamid.A1","timestamp":"1795276781","type":"text","text":{"body":"one"}},
                    {"from":"16505550002","id":"wamid.A2","timestamp":"1795276782","type":"text","text":{"body":"two"}}]}},
                {"field":"messages","value":{"messaging_product":"whatsapp",
                  "metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},
                  "statuses":[{"id":"wamid.OUT9","status":"delivered","timestamp":"1795276783","recipient_id":"16505550003"}]}}
              ]},
              {"id":"WABA-GLOBEX","changes":[
                {"field":"messages","value":{"messaging_product":"whatsapp",
                  "metadata":{"display_phone_number":"442071838750","phone_number_id":"209876543210987"},
                  "contacts":[{"profile":{"name":"Cleo"},"wa_id":"447700900123"}],
                  "messages":[{"from":"447700900123","id":"wamid.G1","timestamp":"1795276784","type":"text","text":{"body":"three"}}]}}
              ]}
            ]}
            """, as: .meta, routes: routes)
        #expect(parsed.skipped.isEmpty)
        #expect(parsed.events.count == 4)
        #expect(Set(parsed.events.map(\.id)).count == 4)
        #expect(parsed.events.map(\.tenant.rawValue) == ["acme", "acme", "acme", "globex"])
        #expect(parsed.events.map { $0.session?.rawValue } == ["acme-main", "acme-main", "acme-main", "globex-us"])
        #expect(parsed.events.map(\.type) == [.messageReceived, .messageReceived, .messageStatus, .messageReceived])
        #expect(parsed.events.map { $0.message?.contactName } == ["Ann", "Bob", nil, "Cleo"])
        #expect(parsed.events.map { $0.message?.to } == ["+15550783881", "+15550783881", nil, "+442071838750"])
        #expect(parsed.events[2].status?.providerMessageID == "wamid.OUT9")
        #expect(parsed.events[3].id == EventID.derive(["meta", "globex-us", "received", "wamid.G1"]))
    }

    @Test func statusesSentDeliveredReadAndFailed() throws {
        let parsed = try parse("""
            {"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{
              "messaging_product":"whatsapp",
              "metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},
              "statuses":[
                {"id":"wamid.OUT1","status":"sent","timestamp":"1795276701","recipient_id":"16505551234",
                 "conversation":{"id":"CONVERSATION_ID","expiration_timestamp":"1795363100","origin":{"type":"utility"}},
                 "pricing":{"billable":true,"pricing_model":"PMP","category":"utility"}},
                {"id":"wamid.OUT1","status":"delivered","timestamp":"1795276702","recipient_id":"16505551234"},
                {"id":"wamid.OUT1","status":"read","timestamp":"1795276703","recipient_id":"16505551234"},
                {"id":"wamid.OUT2","status":"failed","timestamp":"1795276704","recipient_id":"16505551235",
                 "errors":[{"code":131047,"title":"Re-engagement message","message":"Re-engagement message",
                   "error_data":{"details":"Message failed to send because more than 24 hours have passed since the customer last replied to this number."},
                   "href":"https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"}]},
                {"id":"wamid.OUT3","status":"deleted","timestamp":"1795276705","recipient_id":"16505551235"}
              ]}}]}]}
            """, as: .meta, routes: routes)
        #expect(parsed.events.map { $0.status?.status.rawValue } == ["sent", "delivered", "read", "failed"])
        #expect(parsed.events.allSatisfy { $0.type == .messageStatus && $0.message == nil })
        #expect(parsed.events.map(\.occurredAt) == (1...4).map { Date(timeIntervalSince1970: Double(1_795_276_700 + $0)) })
        #expect(Set(parsed.events.map(\.id)).count == 4)
        #expect(parsed.events[0].id == EventID.derive(["meta", "wamid.OUT1", "sent"]))
        let failed = try #require(parsed.events.last?.status)
        #expect(failed.providerMessageID == "wamid.OUT2")
        #expect(failed.errorCode == "131047")
        #expect(failed.errorDetail == "Re-engagement message: Message failed to send because more than 24 hours "
            + "have passed since the customer last replied to this number.")
        #expect(parsed.events[0].status?.errorCode == nil)
        // `deleted` is not a status the gateway models.
        #expect(parsed.skipped.count == 1)
    }

    @Test func anUnknownPhoneNumberIDIsSkippedAndTheRestKept() throws {
        let parsed = try parse("""
            {"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[
              {"field":"messages","value":{"messaging_product":"whatsapp",
                "metadata":{"display_phone_number":"15550000000","phone_number_id":"999999999999999"},
                "messages":[{"from":"16505551234","id":"wamid.X1","timestamp":"1795276790","type":"text","text":{"body":"lost"}}]}},
              {"field":"messages","value":{"messaging_product":"whatsapp",
                "metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},
                "messages":[{"from":"16505551234","id":"wamid.X2","timestamp":"1795276790","type":"text","text":{"body":"kept"}}]}}
            ]}]}
            """, as: .meta, routes: routes)
        #expect(parsed.events.map { $0.message?.providerID } == ["wamid.X2"])
        #expect(parsed.skipped.count == 1)
        #expect(parsed.skipped.first?.contains("999999999999999") == true)
    }

    @Test func changesOtherThanMessagesAreSkipped() throws {
        let parsed = try parse("""
            {"object":"whatsapp_business_account","entry":[{"id":"102290129340398","time":1795276800,"changes":[
              {"field":"message_template_status_update","value":{"event":"APPROVED","message_template_id":12345678,
                "message_template_name":"order_update","message_template_language":"en_US","reason":"NONE"}},
              {"field":"account_update","value":{"phone_number":"15550783881","event":"VERIFIED_ACCOUNT"}}
            ]}]}
            """, as: .meta, routes: routes)
        #expect(parsed.events.isEmpty)
        #expect(parsed.skipped.count == 2)
        #expect(parsed.skipped.first?.contains("message_template_status_update") == true)
    }

    @Test(arguments: [#"{"object":"page","entry":[]}"#, #"{"entry":[]}"#,
                      #"{"object":"whatsapp_business_account"}"#,
                      #"{"object":"whatsapp_business_account","entry":{"id":"1","changes":[]}}"#,
                      "[]", "", "nope", #"{"object":"whatsapp_business_account","entry":["#])
    func notAWhatsAppBusinessAccountNotificationThrows(_ body: String) throws {
        let error = #expect(throws: WebhookParseError.self) { try parse(body, as: .meta, routes: routes) }
        #expect(error?.code == "unparseable")
    }

    /// JSON of the notification's name but not its shape throws with a reason (so the
    /// normalizer dead-letters it) rather than giving no events and being dropped.
    @Test(arguments: [
        #"{"object":"whatsapp_business_account","entry":[42]}"#,
        #"{"object":"whatsapp_business_account","entry":[{"id":"1"}]}"#,
        #"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":"messages"}]}"#,
        #"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[7]}]}"#,
        #"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"value":{}}]}]}"#,
        #"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":"x"}]}]}"#,
        #"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messages":[]}}]}]}"#,
        #"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"106540352242922"},"messages":"hi"}}]}]}"#,
        #"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"106540352242922"},"statuses":[1]}}]}]}"#,
    ])
    func wrongShapedJSONThrowsWithAReason(_ body: String) throws {
        let error = #expect(throws: WebhookParseError.self) { try parse(body, as: .meta, routes: routes) }
        #expect(error?.code == "unparseable")
        #expect(error?.description.hasPrefix("Meta webhook") == true || error?.description.hasPrefix("Meta messages") == true,
                "\(String(describing: error))")
    }

    @Test func anEmptyEntryListIsNoEventsAndNoError() throws {
        let parsed = try parse(#"{"object":"whatsapp_business_account","entry":[]}"#, as: .meta, routes: routes)
        #expect(parsed.events.isEmpty && parsed.skipped.isEmpty)
    }
}

@Suite("WebhookParser: event ids")
struct WebhookEventIDTests {
    static let wasenderBody = """
        {"event":"messages.upsert","timestamp":1795276800,"data":{"messages":[
          {"key":{"id":"3EB0R1","fromMe":false,"remoteJid":"14155550123@s.whatsapp.net"},"message":{"conversation":"a"}},
          {"key":{"id":"3EB0R2","fromMe":false,"remoteJid":"14155550123@s.whatsapp.net"},"message":{"conversation":"b"}}]}}
        """
    static let metaBody = """
        {"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
          "metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},
          "messages":[{"from":"16505551234","id":"wamid.R1","timestamp":"1795276790","type":"text","text":{"body":"a"}}],
          "statuses":[{"id":"wamid.OUT1","status":"delivered","timestamp":"1795276791","recipient_id":"16505551234"}]}}]}]}
        """

    @Test func aReplayGivesTheSameIds() throws {
        let routes = ["106540352242922": try route("acme", "acme-main")]
        let later = receivedAt.addingTimeInterval(3600)
        for (body, provider) in [(Self.wasenderBody, ProviderKind.wasender), (Self.metaBody, .meta),
                                 (#"{"event":"session.status","timestamp":1795276800,"data":{"status":"connected"}}"#, .wasender)]
        {
            let first = try parse(body, as: provider, routes: routes)
            let replay = try parse(body, as: provider, at: later, routes: routes)
            #expect(!first.events.isEmpty)
            #expect(first.events.map(\.id) == replay.events.map(\.id))
            #expect(Set(first.events.map(\.id)).count == first.events.count)
            #expect(replay.events.allSatisfy { $0.receivedAt == later })
        }
    }

    @Test func theSameMessageIdInAnotherSessionIsAnotherEvent() throws {
        let a = try parse(Self.wasenderBody, session: "acme-main")
        let b = try parse(Self.wasenderBody, session: "acme-support")
        #expect(Set(a.events.map(\.id)).isDisjoint(with: b.events.map(\.id)))
    }

    @Test(arguments: [ProviderKind.wasender, .simulator, .meta])
    func aProviderSentHasTheDispatchersId(_ provider: ProviderKind) throws {
        let providerID = provider == .meta ? "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA" : "100017"
        let body = provider == .meta ? """
            {"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
              "metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},
              "statuses":[{"id":"\(providerID)","status":"sent","timestamp":"1795276790","recipient_id":"16505551234"}]}}]}]}
            """ : """
            {"event":"messages.update","timestamp":1795276790,
             "data":{"key":{"id":"\(providerID)","remoteJid":"14155550123@s.whatsapp.net","fromMe":true},"update":{"status":2}}}
            """
        let event = try only(parse(body, as: provider, routes: ["106540352242922": try route("acme", "acme-main")]))
        let dispatchers = NormalizedEvent.messageStatus(
            .init(status: .sent, messageID: "order-17", providerMessageID: providerID), tenant: try TenantID("acme"),
            session: try SessionID("acme-main"), provider: provider, at: Date())
        #expect(event.id == dispatchers.id)
        #expect(event.status?.messageID == nil)
        #expect(event.occurredAt == Date(timeIntervalSince1970: 1_795_276_790))
        #expect(event.receivedAt == receivedAt)
    }
}

@Suite("WebhookParser: hostile input")
struct WebhookParserRobustnessTests {
    /// A small deterministic generator (SplitMix64), so a failure can be replayed.
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test func deeplyNestedJSONThrowsInsteadOfCrashing() throws {
        let depth = 100_000
        for provider in [ProviderKind.wasender, .meta] {
            let arrays = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
            #expect(throws: WebhookParseError.self) { try parse(arrays, as: provider) }
            let objects = #"{"event":"messages.received","object":"whatsapp_business_account","data":"#
                + String(repeating: #"{"a":"#, count: depth) + "1" + String(repeating: "}", count: depth) + "}"
            // Either refused or read with nothing in it: it must not crash.
            _ = try? parse(objects, as: provider)
        }
    }

    @Test func mutatedBodiesNeverCrash() throws {
        let routes = ["106540352242922": try route("acme", "acme-main")]
        let seeds: [(String, ProviderKind)] = [(WebhookEventIDTests.wasenderBody, .wasender),
                                               (WebhookEventIDTests.metaBody, .meta)]
        var generator = Generator(state: 0x5EED)
        let alphabet = Array(#"{}[]",:0123456789.-eE"\ntfalsu"#.utf8)
        var parsed = 0
        for (seed, provider) in seeds {
            let bytes = Array(seed.utf8)
            for _ in 0..<2000 {
                var mutated = bytes
                for _ in 0..<Int.random(in: 1...4, using: &generator) {
                    let at = Int.random(in: 0..<mutated.count, using: &generator)
                    switch Int.random(in: 0..<3, using: &generator) {
                    case 0: mutated[at] = alphabet.randomElement(using: &generator)!
                    case 1: mutated.remove(at: at)
                    default: mutated.insert(alphabet.randomElement(using: &generator)!, at: at)
                    }
                }
                let raw = RawWebhook(provider: provider, session: try SessionID("acme-main"),
                                     tenant: try TenantID("acme"), receivedAt: receivedAt, body: Data(mutated))
                if (try? WebhookParser.parse(raw, sessionNumber: nil, route: { routes[$0] })) != nil { parsed += 1 }
            }
        }
        // Some mutations still parse (a changed digit), most are refused; none crashed.
        #expect(parsed > 0)
    }
}
