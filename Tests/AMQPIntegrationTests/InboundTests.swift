import Crypto
import Foundation
import SwitchboardAMQP
import SwitchboardBroker
import SwitchboardCore
import SwitchboardHTTP
import SwitchboardNormalizer
import SwitchboardSimulator
import SwitchboardStore
import SwitchboardWebhooks
import Testing

/// Signs webhooks the way each provider does, for posting to the receiver.
enum Signer {
    static func standard(_ body: Data, secret: String, id: String = "msg_\(UUID().uuidString)",
                         at date: Date = Date()) -> [(String, String)] {
        let timestamp = String(Int(date.timeIntervalSince1970))
        var signed = Data("\(id).\(timestamp).".utf8)
        signed.append(body)
        let mac = HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: Data(secret.utf8)))
        return [("webhook-id", id), ("webhook-timestamp", timestamp),
                ("webhook-signature", "v1," + Data(mac).base64EncodedString())]
    }

    static func meta(_ body: Data, appSecret: String) -> [(String, String)] {
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data(appSecret.utf8)))
        return [("X-Hub-Signature-256", "sha256=" + mac.map { String(format: "%02x", $0) }.joined())]
    }
}

/// A WasenderAPI `messages.upsert` with `count` text messages from one contact.
func wasenderUpsert(session: String, from digits: String, texts: [String], firstID: Int = 1) -> Data {
    let messages = texts.enumerated().map { index, text in
        #"{"key":{"id":"IN\#(firstID + index)","fromMe":false,"remoteJid":"\#(digits)@s.whatsapp.net","cleanedSenderPn":"\#(digits)"},"messageTimestamp":1795000000,"pushName":"Ann","message":{"conversation":"\#(text)"}}"#
    }.joined(separator: ",")
    return Data(#"{"event":"messages.upsert","timestamp":1795000000,"sessionId":"\#(session)","data":{"messages":[\#(messages)]}}"#.utf8)
}

func metaText(phoneNumberID: String, from digits: String, id: String, text: String) -> Data {
    Data(#"""
    {"object":"whatsapp_business_account","entry":[{"id":"WABA1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"14155550100","phone_number_id":"\#(phoneNumberID)"},"contacts":[{"profile":{"name":"Bo"},"wa_id":"\#(digits)"}],"messages":[{"from":"\#(digits)","id":"\#(id)","timestamp":"1795000000","type":"text","text":{"body":"\#(text)"}}]}}]}]}
    """#.utf8)
}

@Suite("Inbound: the webhooks receiver, the normalizer and the message log against a real broker")
struct InboundTests {
    @Test(.timeLimit(.minutes(2)))
    func aBadSignatureAStaleTimestampAnUnknownSessionOrABigBodyIsRefusedAndNothingIsPublished() async throws {
        try await TestInbound.with(pipeline: false) { inbound in
            try await inbound.addTenant("wasco", provider: .wasender)
            try await inbound.addTenant("metaco", provider: .meta, phoneNumberID: "PNID-1")
            try await inbound.addTenant("simco")
            let wasenderBody = wasenderUpsert(session: "wasco-main", from: "14155550999", texts: ["hi"])
            let wasenderPath = "/webhooks/wasender/wasco-main"

            var refusals: [(String, TestResponse, Int)] = []
            refusals.append(("no signature", try await inbound.post(wasenderPath, body: wasenderBody, headers: []), 401))
            refusals.append(("wrong secret", try await inbound.post(
                wasenderPath, body: wasenderBody, headers: [("X-Webhook-Signature", "not-the-secret")]), 401))
            refusals.append(("another session's secret", try await inbound.post(
                wasenderPath, body: wasenderBody, headers: [("X-Webhook-Signature", TestInbound.secret("simco"))]), 401))
            refusals.append(("unknown session", try await inbound.post(
                "/webhooks/wasender/nobody-main", body: wasenderBody,
                headers: [("X-Webhook-Signature", TestInbound.secret("wasco"))]), 404))
            refusals.append(("wrong provider's route", try await inbound.post(
                "/webhooks/wasender/simco-main", body: wasenderBody,
                headers: [("X-Webhook-Signature", TestInbound.secret("simco"))]), 404))
            var big = Data(#"{"event":"messages.upsert","data":""#.utf8)
            big.append(Data(repeating: UInt8(ascii: "a"), count: 1 << 20))
            big.append(Data(#""}"#.utf8))
            refusals.append(("over 1 MiB", try await inbound.post(
                wasenderPath, body: big, headers: [("X-Webhook-Signature", TestInbound.secret("wasco"))]), 413))

            let simulatorBody = wasenderUpsert(session: "simco-main", from: "14155550999", texts: ["hi"])
            let simulatorPath = "/webhooks/simulator/simco-main"
            refusals.append(("stale timestamp", try await inbound.post(simulatorPath, body: simulatorBody, headers: Signer.standard(
                simulatorBody, secret: TestInbound.secret("simco"), at: Date().addingTimeInterval(-600))), 401))
            refusals.append(("standard signature with a wrong secret", try await inbound.post(
                simulatorPath, body: simulatorBody, headers: Signer.standard(simulatorBody, secret: "wrong")), 401))
            refusals.append(("standard headers missing", try await inbound.post(
                simulatorPath, body: simulatorBody, headers: [("webhook-id", "x")]), 401))

            let metaBody = metaText(phoneNumberID: "PNID-1", from: "14155550999", id: "wamid.A1", text: "hi")
            refusals.append(("meta wrong app secret", try await inbound.post(
                "/webhooks/meta", body: metaBody, headers: Signer.meta(metaBody, appSecret: "wrong")), 401))
            refusals.append(("meta no signature", try await inbound.post("/webhooks/meta", body: metaBody, headers: []), 401))
            let unknownNumber = metaText(phoneNumberID: "PNID-404", from: "14155550999", id: "wamid.A2", text: "hi")
            refusals.append(("meta unknown number", try await inbound.post(
                "/webhooks/meta", body: unknownNumber,
                headers: Signer.meta(unknownNumber, appSecret: TestInbound.secret("metaco"))), 404))
            for (name, answer, status) in refusals {
                #expect(answer.status == status, "\(name): \(answer.status) \(answer.text.prefix(200))")
                #expect(answer.isProblem, "\(name): \(answer.contentType) \(answer.text.prefix(200))")
            }
            #expect(try await inbound.scratch.depth("sb.inbound.raw") == 0)

            // The same bodies, properly signed, are stored: exactly these three.
            let accepted = [
                try await inbound.post(wasenderPath, body: wasenderBody,
                                       headers: [("X-Webhook-Signature", TestInbound.secret("wasco"))]),
                try await inbound.post(simulatorPath, body: simulatorBody,
                                       headers: Signer.standard(simulatorBody, secret: TestInbound.secret("simco"))),
                try await inbound.post("/webhooks/meta", body: metaBody,
                                       headers: Signer.meta(metaBody, appSecret: TestInbound.secret("metaco"))),
            ]
            #expect(accepted.map(\.status) == [200, 200, 200], "\(accepted.map(\.text))")
            #expect(await inbound.scratch.waitForDepth("sb.inbound.raw", 3))
            var stored: [String: AMQPDelivery] = [:]
            while let raw = try await inbound.scratch.connection.get(queue: "sb.inbound.raw", autoAck: true) {
                stored[raw.headers[InboundHeader.provider]?.stringValue ?? "?"] = raw
            }
            let wasender = try #require(stored["wasender"])
            #expect(wasender.body == wasenderBody)
            #expect(wasender.headers[InboundHeader.tenant]?.stringValue == "wasco")
            #expect(wasender.headers[InboundHeader.session]?.stringValue == "wasco-main")
            #expect(wasender.headers[InboundHeader.receivedAt]?.intValue != nil)
            #expect(try #require(stored["meta"]).headers[InboundHeader.tenant]?.stringValue == "metaco")
            #expect(try #require(stored["simulator"]).body == simulatorBody)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func metaSubscriptionCheckAnswersTheChallengeOnlyForTheVerifyToken() async throws {
        try await TestInbound.with(pipeline: false) { inbound in
            let good = try await TestAPI.request(
                port: inbound.receiverPort, .GET,
                "/webhooks/meta?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444")
            #expect(good.status == 200)
            #expect(good.text == "1158201444")
            let bad = try await TestAPI.request(
                port: inbound.receiverPort, .GET,
                "/webhooks/meta?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1158201444")
            #expect(bad.status == 403)
            #expect(bad.isProblem)
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func theSameWebhookDeliveredFiveTimesYieldsOneEventPerItem() async throws {
        try await TestInbound.with { inbound in
            let simco = try await inbound.addTenant("simco")
            let body = wasenderUpsert(session: "simco-main", from: "14155550999", texts: ["one", "two", "three"])
            // Five deliveries of one webhook, at once, each signed afresh as a provider's retry is.
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<5 {
                    group.addTask {
                        try await inbound.post("/webhooks/simulator/simco-main", body: body,
                                               headers: Signer.standard(body, secret: TestInbound.secret("simco"))).status
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses == [200, 200, 200, 200, 200])
            var events: [NormalizedEvent] = []
            #expect(try await eventually {
                events += try await inbound.drainEvents()
                guard events.count >= 3 else { return false }
                return try await inbound.scratch.depth("sb.inbound.raw") == 0
            })
            try await Task.sleep(for: .milliseconds(500))
            events += try await inbound.drainEvents()
            #expect(events.count == 3, "\(events.map(\.id))")
            #expect(Set(events.map(\.id)).count == 3)
            #expect(Set(events.compactMap(\.message?.text)) == ["one", "two", "three"])
            #expect(events.allSatisfy { $0.type == .messageReceived && $0.tenant == simco && $0.message?.from == "+14155550999" })
            // WasenderAPI-shaped bodies do not name the receiving number: it is the session's own.
            #expect(events.allSatisfy { $0.message?.to == "+14155550100" }, "\(events.map { $0.message?.to })")
            // The logger recorded each once.
            #expect(try await eventually {
                try await inbound.store.contactMessages(try PhoneNumber("+14155550999"), of: simco, before: nil, limit: 50)
                    .count == 3
            })
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func anUnparseableWebhookIsDeadLetteredWithItsBodyIntactAndTheRestFlows() async throws {
        try await TestInbound.with { inbound in
            try await inbound.addTenant("simco")
            let garbage = Data("{\"event\": \"messages.upsert\", \"data\": [unclosed".utf8)
            let answer = try await inbound.post("/webhooks/simulator/simco-main", body: garbage,
                                                headers: Signer.standard(garbage, secret: TestInbound.secret("simco")))
            #expect(answer.status == 200)
            #expect(await inbound.scratch.waitForDepth("sb.dead", 1))
            let dead = try #require(try await inbound.scratch.connection.get(queue: "sb.dead", autoAck: true))
            #expect(dead.body == garbage)
            #expect(dead.routingKey == "simco.unparseable")
            #expect(dead.headers[OutboundHeader.errorCode]?.stringValue == "unparseable")
            #expect(dead.headers[OutboundHeader.errorDetail]?.stringValue?.isEmpty == false)
            #expect(dead.headers[InboundHeader.session]?.stringValue == "simco-main")
            // The next webhook is normalized as usual.
            let good = wasenderUpsert(session: "simco-main", from: "14155550999", texts: ["after"])
            _ = try await inbound.post("/webhooks/simulator/simco-main", body: good,
                                       headers: Signer.standard(good, secret: TestInbound.secret("simco")))
            var events: [NormalizedEvent] = []
            #expect(try await eventually {
                events += try await inbound.drainEvents()
                return events.contains { $0.message?.text == "after" }
            })
        }
    }

    /// Signed JSON that is not a Meta notification, whether or not it names a
    /// phone_number_id, is dead-lettered with its bytes and a reason (it was answered 200
    /// and dropped before), and the next webhook flows.
    @Test(.timeLimit(.minutes(2)))
    func aWrongShapedMetaBodyIsDeadLetteredWithItsBodyIntact() async throws {
        try await TestInbound.with { inbound in
            try await inbound.addTenant("metaco", provider: .meta, phoneNumberID: "PNID-1")
            let routable = Data(#"""
                {"object":"whatsapp_business_account","entry":[{"id":"WABA1","changes":[{"field":"messages","value":{"metadata":{"display_phone_number":"14155550100","phone_number_id":"PNID-1"},"messages":"not a list"}}]}]}
                """#.utf8)
            let unroutable = Data(#"{"hello":"world","entry":7}"#.utf8)
            for body in [routable, unroutable] {
                let answer = try await inbound.post("/webhooks/meta", body: body,
                                                    headers: Signer.meta(body, appSecret: TestInbound.secret("metaco")))
                #expect(answer.status == 200, "\(answer.text)")
            }
            #expect(await inbound.scratch.waitForDepth("sb.dead", 2))
            var dead: [AMQPDelivery] = []
            while let letter = try await inbound.scratch.connection.get(queue: "sb.dead", autoAck: true) {
                dead.append(letter)
            }
            #expect(Set(dead.map(\.body)) == [routable, unroutable])
            for letter in dead {
                #expect(letter.routingKey == "metaco.unparseable")
                #expect(letter.headers[OutboundHeader.errorCode]?.stringValue == "unparseable")
                let detail = letter.headers[OutboundHeader.errorDetail]?.stringValue ?? ""
                #expect(detail.hasPrefix("Meta "), "\(detail)")
                #expect(letter.headers[InboundHeader.session]?.stringValue == "metaco-main")
            }
            // A notification with nothing for the gateway is still answered and dropped.
            let templateUpdate = Data(#"""
                {"object":"whatsapp_business_account","entry":[{"id":"WABA1","changes":[{"field":"message_template_status_update","value":{"event":"APPROVED"}}]}]}
                """#.utf8)
            let answer = try await inbound.post("/webhooks/meta", body: templateUpdate,
                                                headers: Signer.meta(templateUpdate, appSecret: TestInbound.secret("metaco")))
            #expect(answer.status == 200)
            // The next webhook is normalized as usual.
            let good = metaText(phoneNumberID: "PNID-1", from: "14155550999", id: "wamid.AFTER", text: "after")
            _ = try await inbound.post("/webhooks/meta", body: good,
                                       headers: Signer.meta(good, appSecret: TestInbound.secret("metaco")))
            var events: [NormalizedEvent] = []
            #expect(try await eventually {
                events += try await inbound.drainEvents()
                return events.contains { $0.message?.text == "after" }
            })
            #expect(try await inbound.scratch.depth("sb.dead") == 0)
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func anOutboundMessageEndsReadWithItsHistoryOnceTheSimulatorsWebhooksCome() async throws {
        try await TestInbound.with { inbound in
            let simco = try await inbound.addTenant("simco")
            let envelope = OutboundEnvelope(id: MessageID.make(), tenant: simco, messageClass: .transactional,
                                            to: try PhoneNumber("+14155550123"), text: "your code is 1234")
            try await inbound.scratch.connection.publish(try envelope.wireBody(), exchange: "sb.outbound",
                                                         routingKey: envelope.routingKey,
                                                         properties: envelope.amqpProperties())
            #expect(try await eventually { try await inbound.store.message(envelope.id, of: simco)?.state == .read })
            let stored = try #require(try await inbound.store.message(envelope.id, of: simco))
            let providerID = try #require(inbound.simulator.state.messages(session: "simco-main").first?.id)
            #expect(stored.providerMessageID == providerID)
            #expect(stored.text == "your code is 1234")
            #expect(stored.history.map(\.state) == [.sent, .delivered, .read], "\(stored.history)")
            // As a publisher reads it.
            try await inbound.withAPI(tenant: simco) { port, key in
                let answer = try await TestAPI.request(port: port, .GET, "/v1/messages/\(envelope.id)", key: key)
                #expect(answer.status == 200, "\(answer.text)")
                #expect(answer.json["state"] as? String == "read")
                #expect(answer.json["provider_message_id"] as? String == providerID)
                let history = (answer.json["history"] as? [[String: Any]])?.compactMap { $0["state"] as? String }
                #expect(history == ["sent", "delivered", "read"])
            }
            // Subscribers saw the provider's statuses joined to our id.
            var events: [NormalizedEvent] = []
            #expect(try await eventually {
                events += try await inbound.drainEvents()
                return events.filter { $0.type == .messageStatus }.map { $0.status?.status } .contains(.read)
            })
            let read = try #require(events.first { $0.status?.status == .read })
            #expect(read.status?.messageID == envelope.id)
            #expect(read.status?.providerMessageID == providerID)
            // The provider's `sent` and the dispatcher's `sent` are one event (same id): one `sent` went out.
            #expect(events.filter { $0.status?.status == .sent }.count == 1, "\(events.map { ($0.id, $0.status?.status) })")
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func aProviderStatusIsWrittenOnceAndPublishedAgainOnlyWhenItsWebhookIsRedelivered() async throws {
        try await TestInbound.with(pipeline: false) { inbound in
            let simco = try await inbound.addTenant("simco")
            let envelope = OutboundEnvelope(id: MessageID.make(), tenant: simco, messageClass: .transactional,
                                            to: try PhoneNumber("+14155550123"), text: "hi")
            try await inbound.store.recordSent(envelope, session: try SessionID("simco-main"),
                                               providerMessageID: "3EB0D1", at: Date())
            let body = Data("""
                {"event":"messages.update","timestamp":1795276800,
                 "data":{"key":{"remoteJid":"14155550123@s.whatsapp.net","fromMe":true,"id":"3EB0D1"},"update":{"status":3}}}
                """.utf8)
            for _ in 0..<3 {
                let answer = try await inbound.post("/webhooks/simulator/simco-main", body: body,
                                                    headers: Signer.standard(body, secret: TestInbound.secret("simco")))
                #expect(answer.status == 200)
            }
            #expect(await inbound.scratch.waitForDepth("sb.inbound.raw", 3))
            let normalizer = Normalizer(connection: inbound.scratch.connection, topology: inbound.scratch.topology,
                                        directory: SessionDirectory(store: inbound.store, logger: TestBroker.logger),
                                        dedupe: inbound.store, messageLog: inbound.store, logger: TestBroker.logger)
            let raw = "sb.inbound.raw"
            // The first copy moves the message on and publishes the status with our id.
            let first = try #require(try await inbound.scratch.connection.get(queue: raw))
            #expect(await normalizer.handle(first) == .normalized(published: 1, duplicates: 0))
            // A provider's retry of the same webhook changes nothing and publishes nothing.
            let second = try #require(try await inbound.scratch.connection.get(queue: raw))
            #expect(await normalizer.handle(second) == .normalized(published: 0, duplicates: 1))
            // A copy the broker redelivers (its first handling may have died after the write,
            // before its event was confirmed) publishes the event again, under the same id.
            let third = try #require(try await inbound.scratch.connection.get(queue: raw))
            try await third.nack(requeue: true)
            let redelivered = try #require(try await inbound.scratch.connection.get(queue: raw))
            #expect(redelivered.redelivered)
            #expect(await normalizer.handle(redelivered) == .normalized(published: 1, duplicates: 0))

            let events = try await inbound.drainEvents()
            #expect(events.count == 2)
            #expect(Set(events.map(\.id)).count == 1)
            #expect(events.allSatisfy { $0.status?.status == .delivered && $0.status?.messageID == envelope.id })
            let stored = try #require(try await inbound.store.message(envelope.id, of: simco))
            #expect(stored.state == .delivered)
            #expect(stored.history.map(\.state) == [.sent, .delivered])
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func aContactsReplyThroughTheSimulatorLandsInTheContactsLog() async throws {
        try await TestInbound.with { inbound in
            let simco = try await inbound.addTenant("simco")
            let other = try await inbound.addTenant("otherco")
            _ = try inbound.simulator.state.inbound(session: "simco-main", from: "+14155550777", text: "is it open today?",
                                                    name: "Cy")
            let contact = try PhoneNumber("+14155550777")
            #expect(try await eventually {
                try await inbound.store.contactMessages(contact, of: simco, before: nil, limit: 10).count == 1
            })
            let logged = try #require(try await inbound.store.contactMessages(contact, of: simco, before: nil, limit: 10).first)
            #expect(logged.direction == .inbound)
            #expect(logged.text == "is it open today?")
            #expect(try await inbound.store.contactMessages(contact, of: other, before: nil, limit: 10).isEmpty)
            // Through the API, with each tenant's key: one sees the reply, the other nothing.
            try await inbound.withAPI(tenant: simco) { port, key in
                let thread = try await TestAPI.request(port: port, .GET, "/v1/contacts/%2B14155550777/messages", key: key)
                #expect(thread.status == 200, "\(thread.text)")
                let messages = thread.json["messages"] as? [[String: Any]] ?? []
                #expect(messages.count == 1)
                #expect(messages.first?["direction"] as? String == "inbound")
                #expect(messages.first?["text"] as? String == "is it open today?")
                let bad = try await TestAPI.request(port: port, .GET, "/v1/contacts/not-a-number/messages", key: key)
                #expect(bad.status == 422)
                #expect(bad.isProblem)
            }
            try await inbound.withAPI(tenant: other) { port, key in
                let thread = try await TestAPI.request(port: port, .GET, "/v1/contacts/14155550777/messages", key: key)
                #expect(thread.status == 200)
                #expect((thread.json["messages"] as? [Any])?.isEmpty == true)
            }
        }
    }
}
