import Foundation
import SwitchboardCore
import SwitchboardSimulator
import Testing

@Suite("WasenderAPI-shaped sends")
struct WasenderSendTests {
    static let session = #"{"flavor":"wasender","api_key":"key-w1"}"#

    @Test("a send is accepted with an increasing msgId and recorded")
    func acceptedAndRecorded() async throws {
        try await withSimulator { simulator in
            try await simulator.register("w1", Self.session)
            let first = try await simulator.wasenderSend(key: "key-w1", to: "+14155550123", text: "hi")
            #expect(first.status == 200)
            #expect(first.json["success"] as? Bool == true)
            let data = try #require(first.json["data"] as? [String: Any])
            let msgID = try #require(data["msgId"] as? Int)
            #expect(data["jid"] as? String == "+14155550123")
            #expect(data["status"] as? String == "in_progress")

            let second = try await request(.POST, simulator.baseURL + "/api/send-message", bearer: "key-w1",
                                           json: #"{"to":"+14155550124","text":"see","imageUrl":"https://x/y.png"}"#)
            let secondID = try #require((second.json["data"] as? [String: Any])?["msgId"] as? Int)
            #expect(secondID > msgID)

            let recorded = try await simulator.recorded(session: "w1")
            #expect(recorded.count == 2)
            let message = try #require(recorded.first)
            #expect(message["id"] as? String == String(msgID))
            #expect(message["session"] as? String == "w1")
            #expect(message["flavor"] as? String == "wasender")
            #expect(message["to"] as? String == "+14155550123")
            #expect(message["type"] as? String == "text")
            #expect(message["text"] as? String == "hi")
            let acceptedAt = try #require(message["accepted_at"] as? String)
            #expect(acceptedAt.wholeMatch(of: /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z/) != nil)
            #expect(recorded.last?["type"] as? String == "image")
            #expect(recorded.last?["media_url"] as? String == "https://x/y.png")

            // `since` filters by acceptance time; the direct API agrees with the route.
            #expect(try await simulator.recorded(session: "w1", since: WireJSON.format(Date() + 3600)).isEmpty)
            #expect(try await simulator.recorded(session: "w1", since: acceptedAt).count == 2)
            #expect(simulator.state.messages(session: "w1").map(\.id) == [String(msgID), String(secondID)])
            #expect(try await simulator.stats("w1")["accepted"] as? Int == 2)
        }
    }

    @Test("an unknown key is 401 Unauthenticated")
    func unknownKey() async throws {
        try await withSimulator { simulator in
            try await simulator.register("w1", Self.session)
            let response = try await simulator.wasenderSend(key: "nope", to: "+14155550123")
            #expect(response.status == 401)
            #expect(response.json["success"] as? Bool == false)
            #expect(response.json["message"] as? String == "Unauthenticated.")
            let missing = try await request(.POST, simulator.baseURL + "/api/send-message", json: "{}")
            #expect(missing.status == 401)
            #expect(simulator.state.stats().unauthorized == 2)
        }
    }

    @Test("an invalid-number prefix or a malformed recipient is 422 on `to`")
    func invalidRecipient() async throws {
        try await withSimulator { simulator in
            try await simulator.register("w1", Self.session)
            try simulator.state.configure(SimulatorBehaviour(invalidNumberPrefixes: ["+1999"]))
            let invalid = try await simulator.wasenderSend(key: "key-w1", to: "+19995550123")
            #expect(invalid.status == 422)
            #expect(invalid.json["success"] as? Bool == false)
            #expect(((invalid.json["errors"] as? [String: Any])?["to"] as? [String])?.isEmpty == false)
            let malformed = try await simulator.wasenderSend(key: "key-w1", to: "0123")
            #expect(malformed.status == 422)
            let missing = try await request(.POST, simulator.baseURL + "/api/send-message", bearer: "key-w1",
                                            json: #"{"text":"no recipient"}"#)
            #expect(missing.status == 422)
            #expect((missing.json["errors"] as? [String: Any])?["to"] != nil)
            #expect(try await simulator.stats("w1")["invalid"] as? Int == 3)
            #expect(try await simulator.recorded(session: "w1").isEmpty)
        }
    }

    @Test("during an outage every send is 503")
    func outage() async throws {
        try await withSimulator { simulator in
            try await simulator.register("w1", Self.session)
            let from = WireJSON.format(Date() - 60), until = WireJSON.format(Date() + 60)
            let configured = try await request(.PUT, "\(simulator.admin)/behaviour",
                                               json: #"{"outages":[{"from":"\#(from)","until":"\#(until)"}]}"#)
            #expect(configured.status == 200)
            let response = try await simulator.wasenderSend(key: "key-w1", to: "+14155550123")
            #expect(response.status == 503)
            #expect(response.json["success"] as? Bool == false)
            #expect(try await simulator.stats("w1")["errors"] as? Int == 1)

            // An outage in the past no longer applies.
            try simulator.state.configure(SimulatorBehaviour(outages: [Outage(from: Date() - 120, until: Date() - 60)]))
            #expect(try await simulator.wasenderSend(key: "key-w1", to: "+14155550123").status == 200)
        }
    }

    @Test("an error rate of 1 answers every send with a 500")
    func errorRate() async throws {
        try await withSimulator { simulator in
            try await simulator.register("w1", #"{"flavor":"wasender","api_key":"key-w1","behaviour":{"error_rate":1}}"#)
            for _ in 0..<3 {
                let response = try await simulator.wasenderSend(key: "key-w1", to: "+14155550123")
                #expect(response.status == 500)
                #expect(response.json["success"] as? Bool == false)
            }
            #expect(try await simulator.stats("w1")["errors"] as? Int == 3)
            #expect(try await simulator.recorded().isEmpty)
        }
    }

    @Test("GET /api/status reports the session's status, settable through admin")
    func status() async throws {
        try await withSimulator { simulator in
            try await simulator.register("w1", Self.session)
            let connected = try await request(.GET, simulator.baseURL + "/api/status", bearer: "key-w1")
            #expect(connected.status == 200)
            #expect(connected.json["status"] as? String == "connected")
            let set = try await request(.PUT, "\(simulator.admin)/sessions/w1/status", json: #"{"status":"need_scan"}"#)
            #expect(set.status == 200)
            let changed = try await request(.GET, simulator.baseURL + "/api/status", bearer: "key-w1")
            #expect(changed.json["status"] as? String == "need_scan")
            #expect(try await request(.GET, simulator.baseURL + "/api/status", bearer: "other").status == 401)
        }
    }

    @Test("a send waits at least the configured latency")
    func latency() async throws {
        try await withSimulator { simulator in
            try await simulator.register(
                "w1", #"{"flavor":"wasender","api_key":"key-w1","behaviour":{"latency_ms":100,"jitter_ms":20}}"#)
            let clock = ContinuousClock()
            let started = clock.now
            let response = try await simulator.wasenderSend(key: "key-w1", to: "+14155550123")
            let elapsed = clock.now - started
            #expect(response.status == 200)
            #expect(elapsed >= .milliseconds(100))
            #expect(elapsed < .seconds(2))
        }
    }
}

@Suite("Meta-Cloud-API-shaped sends")
struct MetaSendTests {
    static let session = #"{"flavor":"meta","phone_number_id":"1065","access_token":"EAAG-m1"}"#

    @Test("a send is accepted with a wamid and the contact's wa_id")
    func accepted() async throws {
        try await withSimulator { simulator in
            try await simulator.register("m1", Self.session)
            let response = try await simulator.metaSend(phoneNumberID: "1065", token: "EAAG-m1", to: "+14155550123")
            #expect(response.status == 200)
            #expect(response.json["messaging_product"] as? String == "whatsapp")
            let contact = try #require((response.json["contacts"] as? [[String: Any]])?.first)
            #expect(contact["input"] as? String == "+14155550123")
            #expect(contact["wa_id"] as? String == "14155550123")
            let id = try #require((response.json["messages"] as? [[String: Any]])?.first?["id"] as? String)
            #expect(id.hasPrefix("wamid."))

            let template = try await request(.POST, "\(simulator.baseURL)/v21.0/1065/messages", bearer: "EAAG-m1", json: """
                {"messaging_product":"whatsapp","to":"14155550124","type":"template",
                 "template":{"name":"otp","language":{"code":"en_US"},"components":[{"type":"body","parameters":[]}]}}
                """)
            #expect(template.status == 200)
            let otherID = (template.json["messages"] as? [[String: Any]])?.first?["id"] as? String
            #expect(otherID != id)

            let recorded = try await simulator.recorded(session: "m1")
            #expect(recorded.map { $0["id"] as? String } == [id, otherID])
            #expect(recorded.map { $0["type"] as? String } == ["text", "template"])
            #expect(recorded.last?["template"] as? String == "otp")
            #expect(recorded.first?["flavor"] as? String == "meta")
        }
    }

    @Test("a wrong token or phone number id is 401 with code 190")
    func unauthorized() async throws {
        try await withSimulator { simulator in
            try await simulator.register("m1", Self.session)
            for (number, token) in [("1065", "wrong"), ("9999", "EAAG-m1")] {
                let response = try await simulator.metaSend(phoneNumberID: number, token: token, to: "+14155550123")
                #expect(response.status == 401)
                let error = try #require(response.json["error"] as? [String: Any])
                #expect(error["code"] as? Int == 190)
                #expect(error["type"] as? String == "OAuthException")
                #expect(error["fbtrace_id"] is String)
            }
        }
    }

    @Test("an invalid recipient is 400 with code 131026")
    func invalidRecipient() async throws {
        try await withSimulator { simulator in
            try await simulator.register("m1", Self.session)
            try simulator.state.configure(SimulatorBehaviour(invalidNumberPrefixes: ["1999"]))
            for to in ["+19995550123", "12ab"] {
                let response = try await simulator.metaSend(phoneNumberID: "1065", token: "EAAG-m1", to: to)
                #expect(response.status == 400)
                let error = try #require(response.json["error"] as? [String: Any])
                #expect(error["code"] as? Int == 131026)
                #expect((error["error_data"] as? [String: Any])?["details"] is String)
            }
            // A missing text body is a parameter error, not a recipient one.
            let noBody = try await request(.POST, "\(simulator.baseURL)/v21.0/1065/messages", bearer: "EAAG-m1",
                                           json: #"{"messaging_product":"whatsapp","to":"14155550123","type":"text"}"#)
            #expect(noBody.status == 400)
            #expect((noBody.json["error"] as? [String: Any])?["code"] as? Int == 100)
        }
    }

    @Test("over the rate limit a send is 429 with code 130429 and Retry-After")
    func rateLimited() async throws {
        try await withSimulator { simulator in
            try await simulator.register("m1", """
                {"flavor":"meta","phone_number_id":"1065","access_token":"EAAG-m1","rate_per_second":1,
                 "behaviour":{"rate_limit_retry_after_seconds":7}}
                """)
            let first = try await simulator.metaSend(phoneNumberID: "1065", token: "EAAG-m1", to: "+14155550123")
            #expect(first.status == 200)
            let second = try await simulator.metaSend(phoneNumberID: "1065", token: "EAAG-m1", to: "+14155550123")
            #expect(second.status == 429)
            #expect((second.json["error"] as? [String: Any])?["code"] as? Int == 130429)
            #expect(second.headers.first(name: "Retry-After") == "7")
            #expect(try await simulator.stats("m1")["rate_limited"] as? Int == 1)
        }
    }

    @Test("during an outage a send is 503 with code 2; an error rate of 1 is 500 with code 1 or 2")
    func failures() async throws {
        try await withSimulator { simulator in
            try await simulator.register("m1", Self.session)
            try simulator.state.configure(SimulatorBehaviour(outages: [Outage(until: Date() + 60)]))
            let outage = try await simulator.metaSend(phoneNumberID: "1065", token: "EAAG-m1", to: "+14155550123")
            #expect(outage.status == 503)
            #expect((outage.json["error"] as? [String: Any])?["code"] as? Int == 2)
            try simulator.state.configure(SimulatorBehaviour(errorRate: 1))
            let failed = try await simulator.metaSend(phoneNumberID: "1065", token: "EAAG-m1", to: "+14155550123")
            #expect(failed.status == 500)
            #expect([1, 2].contains((failed.json["error"] as? [String: Any])?["code"] as? Int ?? 0))
        }
    }
}
