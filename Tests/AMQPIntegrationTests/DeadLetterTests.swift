import Crypto
import Foundation
import SwitchboardAMQP
import SwitchboardBroker
@testable import SwitchboardBench
import SwitchboardCore
import SwitchboardSimulator
import SwitchboardStore
import Testing

/// The dead-letters service, API and archive against the real broker, store, receiver,
/// dispatcher and simulator.
@Suite("Dead letters: archive, groups, replay, edit, isolation")
struct DeadLetterTests {
    private func publish(_ envelope: OutboundEnvelope, _ inbound: TestInbound, key: String? = nil) async throws {
        try await inbound.scratch.connection.publish(try envelope.wireBody(), exchange: "sb.outbound",
                                                     routingKey: key ?? envelope.routingKey,
                                                     properties: envelope.amqpProperties())
    }

    private func envelope(_ tenant: TenantID, to: String = "+14155550123", text: String = "hello",
                          session: String? = nil, expiresAt: Date? = nil, campaign: String? = nil) throws -> OutboundEnvelope {
        var envelope = OutboundEnvelope(id: MessageID.make(), tenant: tenant, messageClass: .bulk, to: try PhoneNumber(to),
                                        text: text, expiresAt: expiresAt)
        envelope.session = try session.map(SessionID.init)
        envelope.campaign = campaign
        return envelope
    }

    private func archived(_ inbound: TestInbound, _ filter: DeadLetterFilter = DeadLetterFilter(states: []),
                          count: Int) async throws -> Bool {
        try await eventually(timeout: .seconds(30)) { try await inbound.store.countDeadLetters(matching: filter) >= count }
    }

    @Test(.timeLimit(.minutes(2)))
    func everyKindOfFailureIsArchivedWithItsReasonAndGroupsCountThem() async throws {
        try await TestInbound.with(deadLetters: true) { inbound in
            let acme = try await inbound.addTenant("acme")
            try inbound.reregister("acme", behaviour: SimulatorBehaviour(invalidNumberPrefixes: ["+1999"]))
            try await publish(try envelope(acme, to: "+19995550000"), inbound)                      // the provider refuses
            try await publish(try envelope(acme, expiresAt: Date().addingTimeInterval(-1)), inbound)  // too late
            try await publish(try envelope(acme, session: "acme-nope"), inbound)                    // no such session
            try await inbound.scratch.publish("not an envelope", key: "acme.bulk")                  // malformed
            try await publish(try envelope(try TenantID("ghost")), inbound)                         // no such tenant
            let junk = Data("{not json".utf8)
            let answer = try await inbound.post("/webhooks/simulator/acme-main", body: junk,
                                                headers: Signer.standard(junk, secret: TestInbound.secret("acme")))
            #expect(answer.status == 200)
            #expect(try await archived(inbound, count: 6))
            #expect(await inbound.scratch.waitForDepth("sb.dead", 0))
            #expect(await inbound.scratch.waitForDepth("sb.unroutable", 0))

            let admin = try await inbound.store.createKey(scope: .admin, label: "ops").token
            let groups = try await TestAPI.request(port: inbound.apiPort, .GET, "/v1/dead-letters/groups?tenant=acme", key: admin)
            #expect(groups.status == 200, "\(groups.text)")
            let rows = (groups.json["groups"] as? [[String: Any]]) ?? []
            #expect(Dictionary(uniqueKeysWithValues: rows.map { ($0["reason"] as? String ?? "?", $0["count"] as? Int ?? 0) })
                == ["invalid-recipient": 1, "expired": 1, "unknown-session": 1, "malformed": 1, "unparseable": 1])
            let everyone = try await TestAPI.request(port: inbound.apiPort, .GET, "/v1/dead-letters/groups", key: admin)
            #expect(((everyone.json["groups"] as? [[String: Any]]) ?? []).contains {
                $0["tenant"] as? String == "ghost" && $0["reason"] as? String == "unroutable"
            })

            // The unparseable webhook is kept as the bytes that came, with where it came from.
            let list = try await TestAPI.request(port: inbound.apiPort, .GET, "/v1/dead-letters?tenant=acme&reason=unparseable",
                                                 key: admin)
            let id = try #require(((list.json["dead_letters"] as? [[String: Any]])?.first)?["id"] as? String)
            let detail = try await TestAPI.request(port: inbound.apiPort, .GET, "/v1/dead-letters/\(id)", key: admin)
            #expect(detail.status == 200)
            #expect(detail.json["body_text"] as? String == "{not json")
            #expect((detail.json["headers"] as? [String: Any])?["sb-provider"] as? String == "simulator")
            #expect((detail.json["dead_letter"] as? [String: Any])?["original_exchange"] as? String == "sb.inbound")
            // Replayed, a raw webhook goes back to the normalizer, which parks it again
            // (still unparseable): a new dead letter that counts its replay.
            let replay = try await TestAPI.request(port: inbound.apiPort, .POST, "/v1/dead-letters/replay", key: admin,
                                                   json: #"{"ids":["\#(id)"]}"#)
            #expect(replay.status == 202 && replay.json["count"] as? Int == 1, "\(replay.text)")
            #expect(try await archived(inbound, DeadLetterFilter(tenant: "acme", reason: "unparseable"), count: 1))
            #expect(try await eventually {
                let again = try await inbound.store.deadLetters(matching: DeadLetterFilter(tenant: "acme", reason: "unparseable"),
                                                                after: nil, limit: 5)
                return again.contains { String(decoding: $0.headers, as: UTF8.self).contains(#""sb-replays":1"#) }
                    && again.allSatisfy { $0.body == junk }
            })
            #expect(try await inbound.store.deadLetter(id)?.state == .replayed)

            // Enough of one group in the window raises one alert for subscribers.
            for _ in 0..<3 { try await publish(try envelope(acme, session: "acme-nope"), inbound) }
            #expect(try await eventually {
                try await inbound.drainEvents().contains { $0.type == .deadLetterAlert && $0.deadLetterAlert?.reason == "unknown-session" }
            })
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func aMisconfiguredSessionsCampaignIsFixedAndReplayedAndEveryMessageGoesOnce() async throws {
        try await TestInbound.with(deadLetters: true) { inbound in
            let acme = try await inbound.addTenant("acme")
            try inbound.reregister("acme", apiKey: "key-wrong")     // every send is a 401 now
            let ids = try await inbound.withAPI(tenant: acme) { port, key in
                var ids: [String] = []
                for index in 0..<20 {
                    let answer = try await TestAPI.request(port: port, .POST, "/v1/messages", key: key, json: """
                        {"to":"+1415555\(String(format: "%04d", index))","text":"spring sale \(index)","class":"bulk","campaign":"spring"}
                        """)
                    #expect(answer.status == 202, "\(answer.text)")
                    ids.append(try #require(answer.json["id"] as? String))
                }
                return ids
            }
            #expect(try await archived(inbound, DeadLetterFilter(tenant: "acme", reason: "http-401"), count: 20))
            #expect(inbound.simulator.state.messages(session: "acme-main").isEmpty)

            try inbound.reregister("acme")                            // fixed
            try await inbound.withAPI(tenant: acme) { port, key in
                let replay = try await TestAPI.request(port: port, .POST, "/v1/dead-letters/replay", key: key,
                                                       json: #"{"filter":{"reason":"http-401"}}"#)
                #expect(replay.status == 202, "\(replay.text)")
                #expect(replay.json["count"] as? Int == 20)
                let job = try #require((replay.json["job"] as? [String: Any])?["id"] as? String)
                #expect(try await eventually(timeout: .seconds(30)) {
                    let state = try await TestAPI.request(port: port, .GET, "/v1/dead-letters/jobs/\(job)", key: key)
                    return state.json["state"] as? String == "done" && state.json["replayed"] as? Int == 20
                })
                // Again: nothing waits any more, so nothing is replayed twice.
                let again = try await TestAPI.request(port: port, .POST, "/v1/dead-letters/replay", key: key,
                                                      json: #"{"filter":{"reason":"http-401"}}"#)
                #expect(again.json["count"] as? Int == 0)
                let audit = try await TestAPI.request(port: port, .GET, "/v1/audit", key: key)
                let entries = (audit.json["entries"] as? [[String: Any]]) ?? []
                #expect(entries.count == 2)
                #expect(entries.allSatisfy { $0["action"] as? String == "dead-letters.replay" && $0["tenant"] as? String == "acme" })
            }
            #expect(try await eventually(timeout: .seconds(30)) {
                inbound.simulator.state.messages(session: "acme-main").count == 20
            })
            try await Task.sleep(for: .milliseconds(500))
            let sent = inbound.simulator.state.messages(session: "acme-main")
            #expect(sent.count == 20)
            #expect(Set(sent.map(\.text)).count == 20)
            for id in ids {
                #expect(try await eventually { try await inbound.store.message(id, of: acme)?.state.isSentOrFurther == true })
            }
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func aTenantSeesAndTouchesOnlyItsOwnAndBrokenEditsListEveryField() async throws {
        try await TestInbound.with(deadLetters: true) { inbound in
            let acme = try await inbound.addTenant("acme")
            let globex = try await inbound.addTenant("globex", number: "+14155550101")
            let lost = try envelope(acme, session: "acme-nope")
            try await publish(lost, inbound)
            try await publish(try envelope(globex, session: "globex-nope"), inbound)
            #expect(try await archived(inbound, count: 2))
            let acmeLetter = try #require(try await inbound.store.deadLetters(
                matching: DeadLetterFilter(tenant: "acme"), after: nil, limit: 1).first)

            try await inbound.withAPI(tenants: [acme, globex]) { port, keys in
                let (acmeKey, globexKey) = (keys[0], keys[1])
                let path = "/v1/dead-letters/\(acmeLetter.id)"
                #expect(try await TestAPI.request(port: port, .GET, path, key: globexKey).status == 404)
                #expect(try await TestAPI.request(port: port, .GET, "/v1/dead-letters?tenant=acme", key: globexKey).status == 404)
                let theirs = try await TestAPI.request(port: port, .GET, "/v1/dead-letters", key: globexKey)
                #expect(((theirs.json["dead_letters"] as? [[String: Any]]) ?? []).map { $0["tenant"] as? String } == ["globex"])
                for action in ["replay", "discard"] {
                    let answer = try await TestAPI.request(port: port, .POST, "/v1/dead-letters/\(action)", key: globexKey,
                                                           json: #"{"ids":["\#(acmeLetter.id)","no-such-id"]}"#)
                    #expect([200, 202].contains(answer.status), "\(answer.text)")
                    #expect(answer.json["count"] as? Int == 0)
                    let outcomes = ((answer.json["results"] as? [[String: Any]]) ?? []).map { $0["outcome"] as? String }
                    #expect(outcomes == ["not-found", "not-found"])
                }
                #expect(try await TestAPI.request(port: port, .POST, "\(path)/edit", key: globexKey,
                                                  json: #"{"patch":{"session":null}}"#).status == 404)
                #expect(try await inbound.store.deadLetter(acmeLetter.id)?.state == .archived)
                let audit = try await TestAPI.request(port: port, .GET, "/v1/audit", key: globexKey)
                #expect(((audit.json["entries"] as? [[String: Any]]) ?? []).allSatisfy { $0["tenant"] as? String == "globex" })
                #expect(try await TestAPI.request(port: port, .GET, "/v1/audit?tenant=acme", key: globexKey).status == 404)

                // A broken edit names every broken field and changes nothing.
                let broken = try await TestAPI.request(port: port, .POST, "\(path)/edit", key: acmeKey,
                                                       json: #"{"patch":{"to":"+1","text":"","session":"globex-main"}}"#)
                #expect(broken.status == 422, "\(broken.text)")
                let fields = Set(((broken.json["errors"] as? [[String: Any]]) ?? []).compactMap { $0["field"] as? String })
                #expect(fields.isSuperset(of: ["to", "text", "session"]), "\(broken.text)")
                #expect(try await TestAPI.request(port: port, .POST, "/v1/dead-letters/replay", key: acmeKey,
                                                  json: #"{"ids":[],"filter":{}}"#).status == 422)
                #expect(try await TestAPI.request(port: port, .POST, "/v1/dead-letters/replay", key: acmeKey,
                                                  json: #"{"filter":{}}"#).status == 422)
                // The fix: no session named, so the tenant's primary sends it.
                let fixed = try await TestAPI.request(port: port, .POST, "\(path)/edit", key: acmeKey,
                                                      json: #"{"patch":{"session":null,"text":"found you"}}"#)
                #expect(fixed.status == 200, "\(fixed.text)")
                #expect((fixed.json["dead_letter"] as? [String: Any])?["state"] as? String == "replayed")
                #expect(try await eventually { inbound.simulator.state.messages(session: "acme-main").map(\.text) == ["found you"] })
                let twice = try await TestAPI.request(port: port, .POST, "\(path)/edit", key: acmeKey,
                                                      json: #"{"patch":{"text":"again"}}"#)
                #expect(twice.status == 409)
            }
            #expect(try await eventually { try await inbound.store.message(lost.id, of: acme)?.state.isSentOrFurther == true })
        }
    }
}

/// `switchboard dead-letters …` (this build's executable) on the same store and broker.
@Suite("switchboard dead-letters, the command line")
struct DeadLetterCommandTests {
    @Test(.timeLimit(.minutes(2)))
    func groupsListAndReplayAFixedGroupFromTheShell() async throws {
        try await TestInbound.with(deadLetters: true) { inbound in
            let acme = try await inbound.addTenant("acme")
            var ids: [String] = []
            for index in 0..<3 {
                var envelope = OutboundEnvelope(id: MessageID.make(), tenant: acme, messageClass: .bulk,
                                                to: try PhoneNumber("+1415555010\(index)"), text: "backup \(index)")
                envelope.session = try SessionID("acme-backup")                   // not there yet
                ids.append(envelope.id)
                try await inbound.scratch.connection.publish(try envelope.wireBody(), exchange: "sb.outbound",
                                                             routingKey: envelope.routingKey,
                                                             properties: envelope.amqpProperties())
            }
            #expect(try await eventually {
                try await inbound.store.countDeadLetters(matching: DeadLetterFilter(tenant: "acme")) == 3
            })
            var environment = ProcessInfo.processInfo.environment
            environment["SWITCHBOARD_DATABASE"] = inbound.databaseSetting
            environment["SWITCHBOARD_MASTER_KEY"] = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0).base64EncodedString() }
            var amqp = try TestBroker.configuration("cli")
            amqp.virtualHost = inbound.scratch.name
            environment["SWITCHBOARD_AMQP_URL"] = GatewayBenchmark.url(of: amqp)
            environment["SWITCHBOARD_TOPOLOGY"] = TestTopology.path
            environment["SWITCHBOARD_LOG_LEVEL"] = "error"
            func cli(_ arguments: String...) async throws -> String {
                try await runProgram(GatewayBenchTests.executable, ["dead-letters"] + arguments, environment: environment)
            }
            let groups = try JSONDecoder().decode([[String: JSONValueForTests]].self,
                                                  from: Data(try await cli("groups", "--json").utf8))
            #expect(groups.count == 1)
            #expect(groups.first?["reason"] == .string("unknown-session"))
            #expect(groups.first?["count"] == .number(3))
            let list = try JSONDecoder().decode([[String: JSONValueForTests]].self,
                                                from: Data(try await cli("list", "--tenant", "acme", "--json").utf8))
            #expect(Set(list.compactMap { if case .string(let id)? = $0["message_id"] { id } else { nil } }) == Set(ids))
            let table = try await cli("list", "--tenant", "acme")
            #expect(table.hasPrefix("id ") && table.contains("unknown-session"), "\(table)")

            // Fixed: the session exists now. The group is replayed from the shell.
            try await inbound.store.addSession(
                Session(id: try SessionID("acme-backup"), tenant: acme, provider: .simulator,
                        phoneNumber: try PhoneNumber("+14155550199"), status: .connected),
                secrets: SessionSecrets(credentials: ["api_key": "key-acme-backup"], webhookSecret: TestInbound.secret("acme")))
            try inbound.simulator.state.register(SimulatedSession(id: "acme-backup", flavor: .simulator,
                                                                  apiKey: "key-acme-backup"))
            // As the api does when it adds a session: the dispatcher reads the tenant again at once.
            await ControlAnnouncer(publisher: inbound.scratch.connection, exchange: "sb.control", logger: TestBroker.logger)
                .announce(ControlEvent(.sessionChanged, tenant: acme, session: try SessionID("acme-backup")))
            let replayed = try await cli("replay", "--tenant", "acme", "--reason", "unknown-session")
            #expect(replayed.contains("3 replayed") || replayed.contains("taken by the dead-letters service"), "\(replayed)")
            #expect(try await eventually { inbound.simulator.state.messages(session: "acme-backup").count == 3 })
            #expect(try await inbound.store.countDeadLetters(matching: DeadLetterFilter(tenant: "acme")) == 0)
            let audit = try await inbound.store.auditEntries(tenant: nil, before: nil, limit: 10)
            #expect(audit.first?.actorID.hasPrefix("cli:") == true)
            #expect(audit.first?.count == 3)
        }
    }
}

/// Enough of JSON to read the command's output.
enum JSONValueForTests: Decodable, Equatable {
    case string(String), number(Double), bool(Bool), null, other

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else {
            self = .other
        }
    }
}

extension MessageState {
    /// Accepted by the provider (or further).
    var isSentOrFurther: Bool { [.sent, .delivered, .read, .played].contains(self) }
}
