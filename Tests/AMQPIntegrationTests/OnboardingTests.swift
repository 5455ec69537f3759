import Foundation
import SwitchboardAMQP
import SwitchboardApp
import SwitchboardCore
import SwitchboardRegistry
import SwitchboardSimulator
import SwitchboardStore
import Testing

/// Issue 25: onboarding thousands of tenants. A batch creates each item on its own; a
/// change reaches the dispatcher as a delta on `sb.control` (these gateways never reload
/// everything: their periodic reload is an hour away); deleting releases what a tenant held.
@Suite("Onboarding at scale: batches, changes as deltas, nothing left behind")
struct OnboardingTests {
    @Test func aBatchCreatesEachItemOnItsOwnAndSendingItAgainCreatesNothingTwice() async throws {
        try await TestAPI.with { api in
            _ = try await api.makeTenant("acme")
            let batch = """
                {"tenants":[
                  {"id":"alpha","name":"Alpha","session_rate":5,"sessions":[
                    {"id":"alpha-main","provider":"simulator","phone_number":"+14155550100","status":"connected"},
                    {"id":"alpha-2","provider":"simulator","phone_number":"+14155550101","primary":true,
                     "webhook_secret":"alpha-secret-0123456789"}]},
                  {"id":"acme","name":"Acme again"},
                  {"id":"beta","name":"Beta","bulk_share":0.2,"sessions":[
                    {"id":"beta-main","provider":"simulator","phone_number":"not a number"}]},
                  {"id":"gamma","name":"Gamma","sessions":[
                    {"id":"gamma-main","provider":"simulator","phone_number":"+14155550102"},
                    {"id":"gamma-main","provider":"simulator","phone_number":"+14155550103"}]},
                  {"id":"delta","name":"Delta","sessions":[
                    {"id":"acme-main","provider":"simulator","phone_number":"+14155550104"}]},
                  {"id":"epsilon","name":"Epsilon","backlog_quota":50},
                  {"id":"alpha","name":"Alpha twice"},
                  {"id":"Bad Id","name":"Bad"}
                ]}
                """
            let answer = try await api.request(.POST, "/v1/tenants/batch", key: api.adminToken, json: batch)
            #expect(answer.status == 200, "\(answer.text)")
            let results = try #require(answer.json["results"] as? [[String: Any]])
            #expect(results.map { $0["id"] as? String } == ["alpha", "acme", "beta", "gamma", "delta", "epsilon", "alpha",
                                                            "Bad Id"])
            #expect(results.map { $0["status"] as? Int } == [201, 409, 422, 409, 409, 201, 409, 422], "\(answer.text)")
            #expect(answer.json["created"] as? Int == 2)
            #expect(answer.json["failed"] as? Int == 6)
            // A failed item names what is wrong, with the path inside the item.
            let beta = try #require(results[2]["problem"] as? [String: Any])
            let betaErrors = try #require(beta["errors"] as? [[String: Any]])
            #expect(betaErrors.first?["field"] as? String == "sessions[0].phone_number")
            #expect((results[4]["problem"] as? [String: Any])?["detail"] as? String == "session acme-main already exists")
            #expect((results[1]["problem"] as? [String: Any])?["type"] as? String == "urn:switchboard:problem:tenant-exists")
            #expect((results[6]["problem"] as? [String: Any])?["type"] as? String == "urn:switchboard:problem:exists")
            // The created ones: recorded with their sessions (the one marked primary is), provisioned.
            let alphaSessions = try #require(results[0]["sessions"] as? [[String: Any]])
            #expect(alphaSessions.map { $0["primary"] as? Bool } == [false, true])
            #expect(alphaSessions[0]["webhook_secret"] is String)
            #expect(alphaSessions[1]["webhook_secret"] == nil)
            #expect(try await api.store.primarySession(of: TenantID("alpha"))?.id.rawValue == "alpha-2")
            #expect(try await api.store.tenant(TenantID("acme"))?.name == "Acme")
            #expect(try await api.store.tenant(TenantID("beta")) == nil)
            #expect(try await api.store.tenant(TenantID("gamma")) == nil)
            #expect(try await api.store.tenant(TenantID("delta")) == nil)
            #expect(try await api.depth(of: "alpha") == 0)
            #expect(try await api.depth(of: "epsilon") == 0)
            await #expect(throws: AMQPError.self) { _ = try await api.depth(of: "gamma") }

            // Sending it again (a resumed import) creates nothing twice and changes nothing.
            let again = try await api.request(.POST, "/v1/tenants/batch", key: api.adminToken, json: batch)
            #expect(again.json["created"] as? Int == 0, "\(again.text)")
            let statuses = (again.json["results"] as? [[String: Any]])?.map { $0["status"] as? Int }
            #expect(statuses == [409, 409, 422, 409, 409, 409, 409, 422])

            // The batch as a whole: bounded, admin only.
            let many = (0...1_000).map { #"{"id":"t\#($0)","name":"T"}"# }.joined(separator: ",")
            let tooMany = try await api.request(.POST, "/v1/tenants/batch", key: api.adminToken,
                                                json: #"{"tenants":[\#(many)]}"#)
            #expect(tooMany.status == 422, "\(tooMany.text.prefix(300))")
            #expect(try await api.request(.POST, "/v1/tenants/batch", key: api.adminToken, json: #"{"tenants":[]}"#)
                .status == 422)
            #expect(try await api.request(.POST, "/v1/tenants/batch", key: api.adminToken, json: #"{"tenants":{}}"#)
                .status == 400)
            let tenantKey = try await api.makeTenant("zeta")
            #expect(try await api.request(.POST, "/v1/tenants/batch", key: tenantKey, json: batch).status == 403)
        }
    }

    @Test func anImportRunAgainSkipsWhatItCreatedAndReportsWhatItCouldNot() async throws {
        try await TestAPI.with { api in
            var rows = ["id,name,session_id,provider,phone_number,status,credential.api_key"]
            for n in 0..<25 {
                rows.append("imp\(n),Imported \(n),imp\(n)-main,simulator,+1415555\(String(format: "%04d", n)),connected,k\(n)")
            }
            rows.append("imp-bad,Bad number,imp-bad-main,simulator,12345,,")
            let tenants = try TenantImportFile.parse(rows.joined(separator: "\n"), format: .csv)
            let importer = TenantImporter(baseURL: "http://127.0.0.1:\(api.port)", key: api.adminToken, batchSize: 10)
            var seen: [TenantImporter.Progress] = []
            // Interrupted after the first batch…
            let (first, _) = try await importer.run(Array(tenants.prefix(10))) { seen.append($0) }
            #expect(first.created == 10)
            // …and run again over the whole file.
            let (again, failures) = try await importer.run(tenants) { seen.append($0) }
            #expect(again.created == 15)
            #expect(again.skipped == 10)
            #expect(again.failed == 1)
            #expect(failures.map(\.tenant) == ["imp-bad"])
            #expect(failures.first?.status == 422)
            #expect(seen.map(\.done) == [10, 10, 20, 26])
            #expect(try await api.store.tenants().count == 25)
            #expect(try await api.store.sessions(of: TenantID("imp24")).map(\.status) == [.connected])
            #expect(try await api.depth(of: "imp24") == 0)
            // A key that is not an admin's stops the import at once.
            let tenantKey = try await api.makeTenant("someone")
            await #expect(throws: TenantImporter.Stopped.self) {
                _ = try await TenantImporter(baseURL: "http://127.0.0.1:\(api.port)", key: tenantKey).run(tenants)
            }
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func aTenantAddedPausedAndResumedThroughTheAPIIsFollowedAtOnce() async throws {
        try await withOnboardingGateway { api, admin, simulator in
            let key = try await onboard("acme", api: api, admin: admin, simulator: simulator)
            let clock = ContinuousClock()
            let posted = clock.now
            let first = try await TestAPI.request(port: api, .POST, "/v1/messages", key: key,
                                                  json: #"{"to":"+14155550123","text":"welcome"}"#)
            #expect(first.status == 202, "\(first.text)")
            #expect(await eventually(timeout: .seconds(5)) { simulator.state.messages(session: "acme-main").count == 1 })
            #expect(clock.now - posted < .seconds(2), "sent \(clock.now - posted) after the tenant was created")

            // A disconnected session pauses its tenant at once…
            let paused = try await TestAPI.request(port: api, .PATCH, "/v1/sessions/acme-main", key: admin,
                                                   json: #"{"status":"disconnected"}"#)
            #expect(paused.status == 200, "\(paused.text)")
            try await Task.sleep(for: .milliseconds(500))
            let waiting = try await TestAPI.request(port: api, .POST, "/v1/messages", key: key,
                                                    json: #"{"to":"+14155550123","text":"while paused"}"#)
            #expect(waiting.status == 202)
            try await Task.sleep(for: .seconds(2))
            #expect(simulator.state.messages(session: "acme-main").count == 1)
            // …and connected again resumes it.
            _ = try await TestAPI.request(port: api, .PATCH, "/v1/sessions/acme-main", key: admin,
                                          json: #"{"status":"connected"}"#)
            #expect(await eventually(timeout: .seconds(5)) { simulator.state.messages(session: "acme-main").count == 2 })
        }
    }

    /// Each cycle creates a tenant with a connected session (so the dispatcher opens a
    /// consumer for it) and deletes it; every hundredth also sends a message first.
    @Test(.timeLimit(.minutes(5)))
    func aThousandCreateDeleteCyclesLeaveNoQueueConsumerOrChannelBehind() async throws {
        try await withOnboardingGateway { api, admin, simulator, vhost in
            _ = try await onboard("anchor", api: api, admin: admin, simulator: simulator)
            // The anchor's consumer and the dispatcher's control queue's.
            let baseline = try await brokerObjects(vhost)
            #expect(baseline.consumers == 2, "\(baseline)")
            for cycle in 0..<1_000 {
                let id = "cycle\(cycle)"
                let created = try await TestAPI.request(port: api, .POST, "/v1/tenants/batch", key: admin, json: """
                    {"tenants":[{"id":"\(id)","name":"Cycle","session_rate":50,"sessions":[
                      {"id":"\(id)-main","provider":"simulator","phone_number":"+14155550100","status":"connected",
                       "credentials":{"api_key":"key-\(id)"}}]}]}
                    """)
                try #require(created.json["created"] as? Int == 1, "\(created.text)")
                if cycle % 100 == 0 {
                    try simulator.state.register(SimulatedSession(id: "\(id)-main", flavor: .wasender,
                                                                  apiKey: "key-\(id)", ratePerSecond: nil))
                    let key = try await TestAPI.request(port: api, .POST, "/v1/tenants/\(id)/keys", key: admin, json: "{}")
                    let token = try #require(key.json["token"] as? String)
                    let sent = try await TestAPI.request(port: api, .POST, "/v1/messages", key: token,
                                                         json: #"{"to":"+14155550123","text":"cycle \#(cycle)"}"#)
                    #expect(sent.status == 202)
                    let delivered = await eventually(timeout: .seconds(5)) {
                        simulator.state.messages(session: "\(id)-main").count == 1
                    }
                    #expect(delivered, "cycle \(cycle): not sent")
                }
                let deleted = try await TestAPI.request(port: api, .DELETE, "/v1/tenants/\(id)?force=true", key: admin)
                try #require(deleted.status == 204, "\(deleted.text)")
            }
            var last = try await brokerObjects(vhost)
            // Channels close a moment after their consumers are cancelled.
            let settled = try await eventually(timeout: .seconds(10)) {
                last = try await brokerObjects(vhost)
                return last == baseline
            }
            #expect(settled, "before \(baseline), after \(last)")
        }
    }

    // MARK: Fixtures

    /// What a gateway holds on the broker: queues, consumers, connections, channels.
    struct BrokerObjects: Equatable, CustomStringConvertible {
        var queues: Int
        var consumers: Int
        var connections: Int
        var channels: Int

        var description: String {
            "\(queues) queues, \(consumers) consumers, \(connections) connections, \(channels) channels"
        }
    }

    func brokerObjects(_ vhost: String) async throws -> BrokerObjects {
        let queues = try await TestBroker.ctl("list_queues", "-p", vhost, "name", "consumers")
        let connections = try await TestBroker.ctl("list_connections", "vhost", "channels")
            .filter { $0["vhost"] as? String == vhost }
        return BrokerObjects(queues: queues.count, consumers: queues.reduce(0) { $0 + ($1["consumers"] as? Int ?? 0) },
                             connections: connections.count,
                             channels: connections.reduce(0) { $0 + ($1["channels"] as? Int ?? 0) })
    }

    /// The api and the dispatcher over a scratch vhost, the dispatcher's periodic reload an
    /// hour away: only control events can tell it of a change.
    func withOnboardingGateway(_ body: (_ api: Int, _ admin: String, _ simulator: EmbeddedSimulator) async throws -> Void)
        async throws
    {
        try await withOnboardingGateway { api, admin, simulator, _ in try await body(api, admin, simulator) }
    }

    func withOnboardingGateway(
        _ body: (_ api: Int, _ admin: String, _ simulator: EmbeddedSimulator, _ vhost: String) async throws -> Void
    ) async throws {
        try await ScratchVirtualHost.with { scratch in
            try await TestGateway.withDirectory { directory in
                let simulator = try await EmbeddedSimulator.start(logger: TestBroker.logger)
                defer { Task { try? await simulator.stop() } }
                let configuration = try TestGateway.configuration([.api, .dispatcher], scratch: scratch,
                                                                  directory: directory) {
                    $0.simulatorBaseURL = simulator.baseURL + "/api"
                    $0.dispatcher = .init(refreshInterval: .seconds(3600))
                }
                try await TestGateway.with(configuration) { gateway in
                    let admin = try await gateway.store.createKey(scope: .admin, label: "test").token
                    try await body(try await gateway.port(of: .api), admin, simulator, scratch.name)
                }
            }
        }
    }

    /// A tenant with a connected simulator session, through the api; returns a tenant key.
    func onboard(_ id: String, api: Int, admin: String, simulator: EmbeddedSimulator) async throws -> String {
        try simulator.state.register(SimulatedSession(id: "\(id)-main", flavor: .wasender, apiKey: "key-\(id)",
                                                      ratePerSecond: nil))
        let tenant = try await TestAPI.request(port: api, .POST, "/v1/tenants", key: admin,
                                               json: #"{"id":"\#(id)","name":"\#(id)","session_rate":20}"#)
        #expect(tenant.status == 201, "\(tenant.text)")
        let session = try await TestAPI.request(port: api, .POST, "/v1/tenants/\(id)/sessions", key: admin, json: """
            {"id":"\(id)-main","provider":"simulator","phone_number":"+14155550100","status":"connected",
             "credentials":{"api_key":"key-\(id)"}}
            """)
        #expect(session.status == 201, "\(session.text)")
        let key = try await TestAPI.request(port: api, .POST, "/v1/tenants/\(id)/keys", key: admin, json: "{}")
        return try #require(key.json["token"] as? String)
    }
}
