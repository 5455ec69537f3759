import Foundation
import SwitchboardCore
import SwitchboardSimulator
import Testing

@Suite("The provider simulator: admin routes and state")
struct SimulatorTests {
    @Test("sessions are registered, listed with their status, replaced, refused on conflicts and deleted")
    func sessions() async throws {
        try await withSimulator { simulator in
            try await simulator.register("a", #"{"flavor":"wasender","api_key":"key-a","rate_per_second":5}"#)
            try await simulator.register("b", #"{"id":"b","flavor":"meta","phone_number_id":"77","access_token":"t"}"#)

            let listed = try await request(.GET, "\(simulator.admin)/sessions")
            let sessions = try #require(listed.json["sessions"] as? [[String: Any]])
            #expect(sessions.map { $0["id"] as? String } == ["a", "b"])
            #expect(sessions[0]["api_key"] as? String == "key-a")
            #expect(sessions[0]["rate_per_second"] as? Double == 5)
            #expect(sessions[0]["status"] as? String == "connected")
            #expect(sessions[1]["phone_number_id"] as? String == "77")

            let mismatched = try await request(.PUT, "\(simulator.admin)/sessions/c",
                                               json: #"{"id":"other","flavor":"wasender","api_key":"key-c"}"#)
            #expect(mismatched.status == 422)
            let conflict = try await request(.PUT, "\(simulator.admin)/sessions/c",
                                             json: #"{"flavor":"wasender","api_key":"key-a"}"#)
            #expect(conflict.status == 409)
            let malformed = try await request(.PUT, "\(simulator.admin)/sessions/c", json: #"{"flavor":"#)
            #expect(malformed.status == 400)

            // Replacing keeps the id and takes the new key.
            try await simulator.register("a", #"{"flavor":"wasender","api_key":"key-a2"}"#)
            #expect(try await simulator.wasenderSend(key: "key-a", to: "+14155550123").status == 401)
            #expect(try await simulator.wasenderSend(key: "key-a2", to: "+14155550123").status == 200)

            #expect(try await request(.DELETE, "\(simulator.admin)/sessions/a").status == 204)
            #expect(try await request(.DELETE, "\(simulator.admin)/sessions/a").status == 404)
            #expect(try await simulator.wasenderSend(key: "key-a2", to: "+14155550123").status == 401)
            #expect(simulator.state.sessions().map(\.id) == ["b"])
        }
    }

    @Test("behaviour is validated and set for all sessions or one; DELETE /_sim/messages resets the record")
    func behaviourAndReset() async throws {
        try await withSimulator { simulator in
            try await simulator.register("a", #"{"flavor":"wasender","api_key":"key-a"}"#)
            let invalid = try await request(.PUT, "\(simulator.admin)/behaviour", json: #"{"error_rate":2}"#)
            #expect(invalid.status == 422)
            let set = try await request(.PUT, "\(simulator.admin)/behaviour",
                                        json: #"{"latency_ms":5,"status_delays_ms":{"sent":0}}"#)
            #expect(set.status == 200)
            #expect(simulator.state.defaults.latencyMs == 5)
            #expect(simulator.state.defaults.statusDelaysMs == StatusDelays(sent: 0))
            #expect(simulator.state.defaults.errorRate == 0)

            let own = try await request(.PUT, "\(simulator.admin)/sessions/a/behaviour", json: #"{"error_rate":1}"#)
            #expect(own.status == 200)
            #expect(try await simulator.wasenderSend(key: "key-a", to: "+14155550123").status == 500)
            #expect(try await request(.DELETE, "\(simulator.admin)/sessions/a/behaviour").status == 204)
            #expect(try await simulator.wasenderSend(key: "key-a", to: "+14155550123").status == 200)
            #expect(try await request(.PUT, "\(simulator.admin)/sessions/zz/behaviour", json: "{}").status == 404)

            let before = try await simulator.stats("a")
            #expect(before["accepted"] as? Int == 1)
            #expect(before["errors"] as? Int == 1)
            #expect(before["first_accepted_at"] is String)
            #expect(try await request(.DELETE, "\(simulator.admin)/messages").status == 204)
            #expect(try await simulator.recorded().isEmpty)
            let after = try await simulator.stats("a")
            #expect(after["accepted"] as? Int == 0)
            #expect(after["errors"] as? Int == 0)
            #expect(try await request(.GET, "\(simulator.admin)/messages?since=yesterday").status == 400)
        }
    }

    @Test("sessions and behaviour use snake_case JSON, and every behaviour field is optional")
    func coding() throws {
        let session = SimulatedSession(
            id: "s", flavor: .meta, phoneNumberID: "1", accessToken: "t", webhookURL: "http://127.0.0.1:1/h",
            webhookSecret: "x", ratePerSecond: 80,
            behaviour: SimulatorBehaviour(latencyMs: 3, invalidNumberPrefixes: ["+1999"],
                                          outages: [Outage(from: Date(timeIntervalSince1970: 0),
                                                           until: Date(timeIntervalSince1970: 60))]))
        let data = try WireJSON.sharedEncoder.encode(session)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(Set(object.keys).isSuperset(of: ["phone_number_id", "access_token", "webhook_url", "webhook_secret",
                                                 "rate_per_second", "api_key", "behaviour"]))
        let behaviour = try #require(object["behaviour"] as? [String: Any])
        #expect(behaviour["latency_ms"] as? Int == 3)
        #expect(behaviour["invalid_number_prefixes"] as? [String] == ["+1999"])
        #expect((behaviour["status_delays_ms"] as? [String: Any])?["delivered"] as? Int == 50)
        #expect(try WireJSON.sharedDecoder.decode(SimulatedSession.self, from: data) == session)

        let defaults = try WireJSON.sharedDecoder.decode(SimulatorBehaviour.self, from: Data("{}".utf8))
        #expect(defaults == SimulatorBehaviour())
        #expect(defaults.statusDelaysMs == .standard)
        #expect(defaults.rateLimitRetryAfterSeconds == 1)
    }

    @Test("the state refuses what cannot work")
    func validation() throws {
        let state = SimulatorState()
        #expect(throws: SimulatorError.invalid("a meta session needs phone_number_id and access_token")) {
            try state.register(SimulatedSession(id: "m", flavor: .meta))
        }
        #expect(throws: SimulatorError.self) {
            try state.register(SimulatedSession(id: "w", flavor: .wasender, apiKey: "k", webhookURL: "ftp://x"))
        }
        #expect(throws: SimulatorError.self) { try state.configure(SimulatorBehaviour(latencyMs: -1)) }
        #expect(throws: SimulatorError.unknownSession("nope")) { try state.setStatus("connected", session: "nope") }
        try state.register(SimulatedSession(id: "w", flavor: .wasender, apiKey: "k"))
        #expect(state.stats().sessions["w"] == SessionStats())
        #expect(state.status(session: "w") == "connected")
    }
}
