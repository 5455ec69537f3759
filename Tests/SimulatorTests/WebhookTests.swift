import Crypto
import Foundation
import SwitchboardSimulator
import Testing

@Suite("Status and inbound webhooks")
struct WebhookTests {
    /// A session of `flavor` whose webhooks go to `/hook/<hook>` of the receiver.
    static func sessionJSON(_ flavor: SimulatedSession.Flavor, id: String, url: String, secret: String,
                            delays: String = #"{"sent":0,"delivered":20,"read":40}"#) -> String {
        let credentials = flavor == .meta
            ? #""phone_number_id":"1065-\#(id)","access_token":"token-\#(id)""#
            : #""api_key":"key-\#(id)""#
        return """
            {"flavor":"\(flavor.rawValue)",\(credentials),"webhook_url":"\(url)","webhook_secret":"\(secret)",
             "phone_number":"+14155550100","business_account_id":"102290129340398",
             "behaviour":{"status_delays_ms":\(delays)}}
            """
    }

    static func secret(for flavor: SimulatedSession.Flavor) -> String {
        switch flavor {
        case .wasender: "wasender-webhook-secret"
        case .meta: "meta-app-secret"
        case .simulator: "whsec_" + Data((0..<24).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        }
    }

    /// Sends one message through the endpoint of the flavor; returns the provider id.
    static func send(_ simulator: EmbeddedSimulator, flavor: SimulatedSession.Flavor, id: String) async throws -> String {
        if flavor == .meta {
            let response = try await simulator.metaSend(phoneNumberID: "1065-\(id)", token: "token-\(id)", to: "+14155550123")
            #expect(response.status == 200)
            return try #require((response.json["messages"] as? [[String: Any]])?.first?["id"] as? String)
        }
        let response = try await simulator.wasenderSend(key: "key-\(id)", to: "+14155550123")
        #expect(response.status == 200)
        return String(try #require((response.json["data"] as? [String: Any])?["msgId"] as? Int))
    }

    /// Checks the signature headers of `hook` independently of the simulator's code.
    static func verifySignature(_ hook: ReceivedWebhook, flavor: SimulatedSession.Flavor, secret: String) throws {
        switch flavor {
        case .wasender:
            #expect(hook.headers["x-webhook-signature"] == secret)
        case .meta:
            #expect(hook.headers["x-hub-signature-256"] == expectedMetaSignature(body: hook.body, secret: secret))
        case .simulator:
            let id = try #require(hook.headers["webhook-id"])
            let timestamp = try #require(hook.headers["webhook-timestamp"])
            #expect(abs((Double(timestamp) ?? 0) - Date().timeIntervalSince1970) < 10)
            #expect(hook.headers["webhook-signature"]
                == expectedStandardSignature(id: id, timestamp: timestamp, body: hook.body, secret: secret))
        }
    }

    @Test("sent, delivered and read arrive in order, in the flavor's shape and signature",
          arguments: SimulatedSession.Flavor.allCases)
    func statuses(flavor: SimulatedSession.Flavor) async throws {
        try await WebhookReceiver.with { receiver in
            try await withSimulator { simulator in
                let secret = Self.secret(for: flavor)
                try await simulator.register("s1", Self.sessionJSON(
                    flavor, id: "s1", url: receiver.url(flavor.rawValue), secret: secret))
                let messageID = try await Self.send(simulator, flavor: flavor, id: "s1")
                let hooks = try await receiver.wait(for: 3, at: flavor.rawValue)
                #expect(hooks.count == 3)

                var statuses: [String] = []
                for hook in hooks {
                    try Self.verifySignature(hook, flavor: flavor, secret: secret)
                    let json = hook.json
                    if flavor == .meta {
                        #expect(json["object"] as? String == "whatsapp_business_account")
                        let entry = try #require((json["entry"] as? [[String: Any]])?.first)
                        #expect(entry["id"] as? String == "102290129340398")
                        let change = try #require((entry["changes"] as? [[String: Any]])?.first)
                        #expect(change["field"] as? String == "messages")
                        let value = try #require(change["value"] as? [String: Any])
                        #expect(value["messaging_product"] as? String == "whatsapp")
                        let metadata = try #require(value["metadata"] as? [String: Any])
                        #expect(metadata["phone_number_id"] as? String == "1065-s1")
                        #expect(metadata["display_phone_number"] as? String == "14155550100")
                        let status = try #require((value["statuses"] as? [[String: Any]])?.first)
                        #expect(status["id"] as? String == messageID)
                        #expect(status["recipient_id"] as? String == "14155550123")
                        #expect(Int(status["timestamp"] as? String ?? "") != nil)
                        statuses.append(status["status"] as? String ?? "?")
                    } else {
                        #expect(json["event"] as? String == "messages.update")
                        #expect(json["sessionId"] as? String == "s1")
                        #expect(json["timestamp"] as? Int != nil)
                        let data = try #require(json["data"] as? [String: Any])
                        let key = try #require(data["key"] as? [String: Any])
                        #expect(key["id"] as? String == messageID)
                        #expect(key["remoteJid"] as? String == "+14155550123")
                        #expect(key["fromMe"] as? Bool == true)
                        let code = (data["update"] as? [String: Any])?["status"] as? Int
                        statuses.append([2: "sent", 3: "delivered", 4: "read"][code ?? 0] ?? "?")
                    }
                }
                #expect(statuses == ["sent", "delivered", "read"])
                if flavor == .simulator {
                    #expect(Set(hooks.compactMap { $0.headers["webhook-id"] }).count == 3)
                }
                try await eventually("the deliveries counted") {
                    simulator.state.stats(session: "s1").webhooksDelivered == 3 ? true : nil
                }
            }
        }
    }

    @Test("POST /_sim/inbound sends a received message from the contact in the flavor's shape",
          arguments: SimulatedSession.Flavor.allCases)
    func inbound(flavor: SimulatedSession.Flavor) async throws {
        try await WebhookReceiver.with { receiver in
            try await withSimulator { simulator in
                // The simulator flavor with a plain (not `whsec_`) secret: its UTF-8 bytes are the key.
                let secret = flavor == .simulator ? "plain-standard-secret" : Self.secret(for: flavor)
                let hook = "inbound-\(flavor.rawValue)"
                try await simulator.register("i1", Self.sessionJSON(
                    flavor, id: "i1", url: receiver.url(hook), secret: secret, delays: "{}"))
                let response = try await request(.POST, "\(simulator.admin)/inbound",
                                                 json: #"{"session":"i1","from":"+14155550999","text":"hi there","name":"Ada"}"#)
                #expect(response.status == 200)
                let messageID = try #require(response.json["id"] as? String)
                let received = try #require(try await receiver.wait(for: 1, at: hook).first)
                try Self.verifySignature(received, flavor: flavor, secret: secret)
                let json = received.json
                if flavor == .meta {
                    #expect(messageID.hasPrefix("wamid."))
                    let entry = try #require((json["entry"] as? [[String: Any]])?.first)
                    let value = try #require(((entry["changes"] as? [[String: Any]])?.first)?["value"] as? [String: Any])
                    #expect((value["metadata"] as? [String: Any])?["phone_number_id"] as? String == "1065-i1")
                    let message = try #require((value["messages"] as? [[String: Any]])?.first)
                    #expect(message["from"] as? String == "14155550999")
                    #expect(message["id"] as? String == messageID)
                    #expect(message["type"] as? String == "text")
                    #expect((message["text"] as? [String: Any])?["body"] as? String == "hi there")
                    let contact = try #require((value["contacts"] as? [[String: Any]])?.first)
                    #expect(contact["wa_id"] as? String == "14155550999")
                    #expect((contact["profile"] as? [String: Any])?["name"] as? String == "Ada")
                } else {
                    #expect(json["event"] as? String == "messages.received")
                    #expect(json["sessionId"] as? String == "i1")
                    let message = try #require((json["data"] as? [String: Any])?["messages"] as? [String: Any])
                    let key = try #require(message["key"] as? [String: Any])
                    #expect(key["id"] as? String == messageID)
                    #expect(key["fromMe"] as? Bool == false)
                    #expect(key["remoteJid"] as? String == "14155550999@s.whatsapp.net")
                    #expect(key["cleanedSenderPn"] as? String == "14155550999")
                    #expect(message["messageBody"] as? String == "hi there")
                    #expect((message["message"] as? [String: Any])?["conversation"] as? String == "hi there")
                }
                // Nothing was sent, so nothing is recorded; a session without a webhook URL is refused.
                #expect(try await simulator.recorded().isEmpty)
                try await simulator.register("quiet", #"{"flavor":"wasender","api_key":"key-quiet"}"#)
                let refused = try await request(.POST, "\(simulator.admin)/inbound",
                                                json: #"{"session":"quiet","from":"+14155550999","text":"x"}"#)
                #expect(refused.status == 422)
            }
        }
    }

    @Test("a failed webhook is retried with the same id; one never answered 2xx is counted as failed")
    func retries() async throws {
        try await WebhookReceiver.with { receiver in
            try await withSimulator { simulator in
                let secret = "whsec_" + Data(repeating: 7, count: 24).base64EncodedString()
                try await simulator.register("f1", Self.sessionJSON(
                    .simulator, id: "f1", url: receiver.url("flaky-f1"), secret: secret, delays: #"{"sent":0}"#))
                try await simulator.register("d1", Self.sessionJSON(
                    .wasender, id: "d1", url: receiver.url("down-d1"), secret: "s", delays: #"{"sent":0}"#))
                _ = try await Self.send(simulator, flavor: .simulator, id: "f1")
                _ = try await Self.send(simulator, flavor: .wasender, id: "d1")

                let flaky = try await receiver.wait(for: 2, at: "flaky-f1")
                #expect(flaky[0].headers["webhook-id"] == flaky[1].headers["webhook-id"])
                for hook in flaky { try Self.verifySignature(hook, flavor: .simulator, secret: secret) }
                try await eventually("the flaky delivery counted") {
                    simulator.state.stats(session: "f1").webhooksDelivered == 1 ? true : nil
                }
                // Three attempts (the test configuration), then it is given up.
                try await eventually("the failed delivery counted") {
                    simulator.state.stats(session: "d1").webhooksFailed == 1 ? true : nil
                }
                #expect(receiver.webhooks("down-d1").count == 3)
                #expect(simulator.state.stats(session: "d1").webhooksDelivered == 0)
            }
        }
    }

    @Test("stop() returns promptly with webhooks still scheduled, and sends none of them")
    func stopCancelsPending() async throws {
        try await WebhookReceiver.with { receiver in
            let simulator = try await EmbeddedSimulator.start(
                SimulatorServer.Configuration(port: 0), logger: testLogger)
            try await simulator.register("p1", Self.sessionJSON(
                .wasender, id: "p1", url: receiver.url("pending"), secret: "s", delays: #"{"sent":10000}"#))
            _ = try await Self.send(simulator, flavor: .wasender, id: "p1")
            let clock = ContinuousClock()
            let started = clock.now
            try await simulator.stop()
            #expect(clock.now - started < .seconds(2))
            #expect(receiver.webhooks("pending").isEmpty)
            // The state outlives the server; without its sender, inbound is refused.
            #expect(throws: SimulatorError.self) {
                try simulator.state.inbound(session: "p1", from: "+14155550999", text: "x")
            }
        }
    }
}
