import Foundation
import SwitchboardAMQP
import SwitchboardBroker
import SwitchboardCore
@testable import SwitchboardMonitor
import SwitchboardSimulator
import SwitchboardStore
import Testing

/// The monitor against the real receiver, normalizer, dispatcher, broker and simulator.
@Suite("The monitor: session statuses from webhooks pause and resume sending")
struct MonitorTests {
    private func statusWebhook(_ status: String, at seconds: Int, _ inbound: TestInbound) async throws {
        let body = Data("""
            {"event":"session.status","timestamp":\(seconds),"sessionId":"acme-main","data":{"status":"\(status)"}}
            """.utf8)
        let answer = try await inbound.post("/webhooks/simulator/acme-main", body: body,
                                            headers: Signer.standard(body, secret: TestInbound.secret("acme")))
        #expect(answer.status == 200)
    }

    @Test(.timeLimit(.minutes(4)))
    func aSessionThatDisconnectsStopsSendingAlertsOnceAndSendsTheRestExactlyOnceWhenBack() async throws {
        try await TestInbound.with(monitor: true) { inbound in
            let acme = try await inbound.addTenant("acme", limits: TenantLimits(sessionRate: 1000, bulkShare: 1))
            // The provider's message statuses are not needed here (15,000 webhooks): only
            // the session's own, posted below.
            try inbound.simulator.state.register(SimulatedSession(id: "acme-main", flavor: .simulator, apiKey: "key-acme"))
            let sent = { inbound.simulator.state.messages(session: "acme-main").count }
            let campaign = 5_000
            let publishing = Task {
                for index in 0..<campaign {
                    let envelope = OutboundEnvelope(id: MessageID.make(), tenant: acme, messageClass: .bulk,
                                                    to: try PhoneNumber("+1415555\(String(format: "%04d", index))"),
                                                    text: "campaign \(index)")
                    try await inbound.scratch.connection.publish(try envelope.wireBody(), exchange: "sb.outbound",
                                                                 routingKey: envelope.routingKey,
                                                                 properties: envelope.amqpProperties())
                }
            }
            #expect(await eventually(timeout: .seconds(60)) { sent() >= 500 })
            let now = Int(Date().timeIntervalSince1970)
            try await statusWebhook("disconnected", at: now, inbound)
            #expect(try await eventually { try await inbound.store.session(try SessionID("acme-main"))?.status == .disconnected })
            // Sending stops within 2 s of the status, and stays stopped.
            try await Task.sleep(for: .seconds(2))
            let stopped = sent()
            try await Task.sleep(for: .seconds(1))
            #expect(sent() == stopped)
            #expect(stopped < campaign)
            // Down past the threshold (0.5 s here): one alert.
            var events: [NormalizedEvent] = []
            #expect(try await eventually {
                events += try await inbound.drainEvents()
                return events.contains { $0.sessionAlert?.state == .down }
            })
            try await publishing.value

            try await statusWebhook("connected", at: now + 1, inbound)
            #expect(await eventually(timeout: .seconds(90)) { sent() == campaign })
            try await Task.sleep(for: .milliseconds(500))
            let texts = inbound.simulator.state.messages(session: "acme-main").compactMap(\.text)
            #expect(texts.count == campaign && Set(texts).count == campaign)
            events += try await inbound.drainEvents()
            #expect(events.filter { $0.sessionAlert?.state == .down }.count == 1)
            #expect(events.filter { $0.sessionAlert?.state == .back }.count == 1)
            #expect(events.contains { $0.type == .sessionStatus && $0.sessionStatus == .disconnected })
            let history = try await inbound.store.sessionStatusHistory(try SessionID("acme-main"), limit: 10)
            #expect(history.map(\.status) == [.connected, .disconnected])
            #expect(history.allSatisfy { $0.source == "webhook" })
            #expect(try await inbound.scratch.depth("sb.dead") == 0)
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func aStatusForASessionTheTenantDoesNotHaveIsDeadLetteredAndAReplayChangesNothing() async throws {
        try await TestInbound.with(monitor: true) { inbound in
            let acme = try await inbound.addTenant("acme")
            _ = try await inbound.addTenant("globex", number: "+14155550101")
            func status(_ session: String, _ value: SessionStatus, id: String) throws -> NormalizedEvent {
                NormalizedEvent(id: id, type: .sessionStatus, tenant: acme, session: try SessionID(session),
                                provider: .simulator, occurredAt: Date(), receivedAt: Date(), sessionStatus: value)
            }
            // globex's session named in an acme event, and a session nobody has.
            try await inbound.scratch.connection.publish(try status("globex-main", .loggedOut, id: "evt_a"),
                                                         over: inbound.scratch.topology.roles)
            try await inbound.scratch.connection.publish(try status("acme-ghost", .loggedOut, id: "evt_b"),
                                                         over: inbound.scratch.topology.roles)
            // And a provider's status nobody knows, through the receiver.
            let body = Data(#"{"event":"session.status","timestamp":1795276800,"data":{"status":"SLEEPING"}}"#.utf8)
            let answer = try await inbound.post("/webhooks/simulator/acme-main", body: body,
                                                headers: Signer.standard(body, secret: TestInbound.secret("acme")))
            #expect(answer.status == 200)
            #expect(await inbound.scratch.waitForDepth("sb.dead", 3))
            var keys: [String] = []
            while let dead = try await inbound.scratch.connection.get(queue: "sb.dead", autoAck: true) { keys.append(dead.routingKey) }
            #expect(keys.sorted() == ["acme.unknown-session", "acme.unknown-session", "acme.unknown-session-status"])
            #expect(try await inbound.store.session(try SessionID("globex-main"))?.status == .connected)

            // The same event twice: applied once.
            let once = try status("acme-main", .needScan, id: "evt_c")
            try await inbound.scratch.connection.publish(once, over: inbound.scratch.topology.roles)
            try await inbound.scratch.connection.publish(once, over: inbound.scratch.topology.roles)
            #expect(try await eventually { try await inbound.store.session(try SessionID("acme-main"))?.status == .needScan })
            try await Task.sleep(for: .milliseconds(500))
            #expect(try await inbound.store.sessionStatusHistory(try SessionID("acme-main"), limit: 10).map(\.status) == [.needScan])
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func theProvidersOwnErrorOnSendPausesTheSessionAndNoMessageIsLostOrRetried() async throws {
        try await TestInbound.with(monitor: true) { inbound in
            let acme = try await inbound.addTenant("acme")
            // No webhooks from this session: only its answers to sends say it is down.
            try inbound.simulator.state.register(SimulatedSession(id: "acme-main", flavor: .simulator, apiKey: "key-acme"))
            try inbound.simulator.state.setStatus("disconnected", session: "acme-main")
            for index in 0..<20 {
                let envelope = OutboundEnvelope(id: MessageID.make(), tenant: acme, messageClass: .bulk,
                                                to: try PhoneNumber("+1415555\(String(format: "%04d", index))"),
                                                text: "while down \(index)")
                try await inbound.scratch.connection.publish(try envelope.wireBody(), exchange: "sb.outbound",
                                                             routingKey: envelope.routingKey,
                                                             properties: envelope.amqpProperties())
            }
            #expect(try await eventually { try await inbound.store.session(try SessionID("acme-main"))?.status == .disconnected })
            let history = try await inbound.store.sessionStatusHistory(try SessionID("acme-main"), limit: 10)
            #expect(history.first?.status == .disconnected)
            try await Task.sleep(for: .seconds(1))
            #expect(inbound.simulator.state.messages(session: "acme-main").isEmpty)
            #expect(try await inbound.scratch.depth("sb.dead") == 0)

            // Back (the provider's webhook says so): every message goes, once, on its first attempt.
            try inbound.simulator.state.setStatus("connected", session: "acme-main")
            try await statusWebhook("connected", at: Int(Date().timeIntervalSince1970) + 1, inbound)
            #expect(await eventually(timeout: .seconds(30)) { inbound.simulator.state.messages(session: "acme-main").count == 20 })
            try await Task.sleep(for: .milliseconds(500))
            let texts = inbound.simulator.state.messages(session: "acme-main").compactMap(\.text)
            #expect(texts.count == 20 && Set(texts).count == 20)
            #expect(try await inbound.scratch.depth("sb.dead") == 0)
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func aStatusSetAtTheSimulatorReachesTheRegistryThroughItsWebhook() async throws {
        try await TestInbound.with(monitor: true) { inbound in
            _ = try await inbound.addTenant("acme")
            try inbound.simulator.state.setStatus("need_scan", session: "acme-main")
            #expect(try await eventually { try await inbound.store.session(try SessionID("acme-main"))?.status == .needScan })
            try inbound.simulator.state.setStatus("logged_out", session: "acme-main")
            #expect(try await eventually { try await inbound.store.session(try SessionID("acme-main"))?.status == .loggedOut })
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func aPollFindsWhatNoWebhookSaidAndAPollThatTimesOutChangesNothing() async throws {
        try await TestInbound.with(monitor: true, pollInterval: .seconds(1)) { inbound in
            _ = try await inbound.addTenant("acme")
            _ = try await inbound.addTenant("globex", number: "+14155550101")
            // Down at the provider, no webhook: the poll finds it, and subscribers hear it.
            try inbound.simulator.state.register(SimulatedSession(id: "acme-main", flavor: .simulator, apiKey: "key-acme"))
            try inbound.simulator.state.setStatus("logged_out", session: "acme-main")
            // globex's provider answers its polls too late (the monitor waits 5 s): no change.
            try inbound.simulator.state.register(SimulatedSession(
                id: "globex-main", flavor: .simulator, apiKey: "key-globex", behaviour: SimulatorBehaviour(latencyMs: 8_000)))
            try inbound.simulator.state.setStatus("disconnected", session: "globex-main")
            #expect(try await eventually(timeout: .seconds(10)) {
                try await inbound.store.session(try SessionID("acme-main"))?.status == .loggedOut
            })
            let history = try await inbound.store.sessionStatusHistory(try SessionID("acme-main"), limit: 5)
            #expect(history.first?.source == "poll")
            #expect(try await eventually {
                try await inbound.drainEvents().contains { $0.type == .sessionStatus && $0.sessionStatus == .loggedOut }
            })
            try await Task.sleep(for: .seconds(6))
            #expect(try await inbound.store.session(try SessionID("globex-main"))?.status == .connected)

            // A Meta number: its status, quality rating and limit tier from its phone-number object.
            let metaco = try TenantID("metaco")
            _ = try await inbound.registry.create(Tenant(id: metaco, name: "Meta Co"))
            try await inbound.store.addSession(
                Session(id: try SessionID("metaco-main"), tenant: metaco, provider: .meta,
                        phoneNumber: try PhoneNumber("+14155550177"), status: .connected, isPrimary: true),
                secrets: SessionSecrets(credentials: ["access_token": "tok-meta", "phone_number_id": "pn-meta",
                                                      "base_url": inbound.simulator.baseURL],
                                        webhookSecret: "app-secret-0123456789"))
            try inbound.simulator.state.register(SimulatedSession(id: "metaco-main", flavor: .meta, phoneNumberID: "pn-meta",
                                                                  accessToken: "tok-meta", phoneNumber: "+14155550177"))
            try inbound.simulator.state.setStatus("disconnected", session: "metaco-main")
            #expect(try await eventually(timeout: .seconds(10)) {
                try await inbound.store.session(try SessionID("metaco-main"))?.status == .disconnected
            })
            #expect(try await eventually {
                let health = try await inbound.store.sessionHealth().first { $0.session.rawValue == "metaco-main" }
                return health?.qualityRating == "RED" && health?.messagingLimitTier == "TIER_1K"
            })
        }
    }

    @Test func pollsAreSpreadOverTheInterval() {
        for (count, seconds) in [(5_000, 60), (1_000, 60), (7, 60), (59, 1)] {
            var perSecond = [Int](repeating: 0, count: seconds)
            for index in 0..<count { perSecond[SessionPoller.slot(index: index, count: count, seconds: seconds)] += 1 }
            // Never more than the expected share (rounded up), nobody left out.
            let share = (count + seconds - 1) / seconds
            #expect(perSecond.max()! <= share, "\(perSecond)")
            #expect(perSecond.reduce(0, +) == count)
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func theHealthViewShowsEachSessionsStateAndLastSendAndTheInstancesHeard() async throws {
        try await TestInbound.with(monitor: true) { inbound in
            let acme = try await inbound.addTenant("acme")
            let envelope = OutboundEnvelope(id: MessageID.make(), tenant: acme, messageClass: .transactional,
                                            to: try PhoneNumber("+14155550123"), text: "before the drop")
            try await inbound.scratch.connection.publish(try envelope.wireBody(), exchange: "sb.outbound",
                                                         routingKey: envelope.routingKey, properties: envelope.amqpProperties())
            #expect(await eventually { inbound.simulator.state.messages(session: "acme-main").count == 1 })
            try await statusWebhook("need_scan", at: Int(Date().timeIntervalSince1970), inbound)
            #expect(try await eventually { try await inbound.store.session(try SessionID("acme-main"))?.status == .needScan })

            let admin = try await inbound.store.createKey(scope: .admin, label: "ops").token
            var answer = try await TestAPI.request(port: inbound.apiPort, .GET, "/v1/health", key: admin)
            #expect(try await eventually {
                answer = try await TestAPI.request(port: inbound.apiPort, .GET, "/v1/health", key: admin)
                return !((answer.json["instances"] as? [[String: Any]]) ?? []).isEmpty
            })
            #expect(answer.status == 200, "\(answer.text)")
            let session = try #require(((answer.json["sessions"] as? [[String: Any]]) ?? []).first { $0["session"] as? String == "acme-main" })
            #expect(session["status"] as? String == "need_scan")
            #expect(session["last_sent_at"] is String && session["status_changed_at"] is String && session["down_since"] is String)
            let instances = (answer.json["instances"] as? [[String: Any]]) ?? []
            #expect(instances.contains { ($0["services"] as? [String])?.contains("monitor") == true })
            let tenantAnswer = try await inbound.withAPI(tenant: acme) { port, key in
                try await TestAPI.request(port: port, .GET, "/v1/health", key: key)
            }
            #expect(tenantAnswer.status == 403)
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func aSessionIsDisconnectedReconnectedByQRCodeAndTheRegistryFollows() async throws {
        try await TestInbound.with(monitor: true) { inbound in
            let acme = try await inbound.addTenant("acme")
            let globex = try await inbound.addTenant("globex", number: "+14155550101")
            _ = try await inbound.addTenant("metaco", provider: .meta, phoneNumberID: "pn-metaco", number: "+14155550102")
            let status = { try await inbound.store.session(try SessionID("acme-main"))?.status }
            try await inbound.withAPI(tenants: [acme, globex]) { port, keys in
                let acmeKey = keys[0]
                let down = try await TestAPI.request(port: port, .POST, "/v1/sessions/acme-main/disconnect", key: acmeKey)
                #expect(down.status == 200 && down.json["status"] as? String == "disconnected", "\(down.text)")
                #expect(try await eventually { try await status() == .disconnected })

                let connect = try await TestAPI.request(port: port, .POST, "/v1/sessions/acme-main/connect", key: acmeKey)
                #expect(connect.status == 200 && connect.json["status"] as? String == "need_scan", "\(connect.text)")
                let code = try #require(connect.json["qr_code"] as? String)
                #expect(code.hasPrefix("2@"))
                #expect(try await eventually { try await status() == .needScan })
                let qr = try await TestAPI.request(port: port, .GET, "/v1/sessions/acme-main/qr", key: acmeKey)
                #expect(qr.status == 200 && qr.json["qr_code"] as? String == code)

                try inbound.simulator.state.scan(session: "acme-main")        // the phone scans it
                #expect(try await eventually { try await status() == .connected })
                #expect(try await TestAPI.request(port: port, .GET, "/v1/sessions/acme-main/qr", key: acmeKey).status == 409)

                // Another tenant's key learns nothing; a Meta number has no QR code.
                #expect(try await TestAPI.request(port: port, .POST, "/v1/sessions/acme-main/connect", key: keys[1]).status == 404)
            }
            let admin = try await inbound.store.createKey(scope: .admin, label: "ops").token
            let meta = try await TestAPI.request(port: inbound.apiPort, .POST, "/v1/sessions/metaco-main/connect", key: admin)
            #expect(meta.status == 409 && meta.isProblem, "\(meta.text)")
            let history = try await inbound.store.sessionStatusHistory(try SessionID("acme-main"), limit: 10)
            #expect(history.map(\.status) == [.connected, .needScan, .disconnected])
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func twoMonitorsApplyEachChangeOnceAndAlertOnce() async throws {
        try await TestInbound.with(monitor: true) { inbound in
            let acme = try await inbound.addTenant("acme")
            // A second monitor on the same queue, store and broker, as a second host runs one.
            let second = SessionMonitor(
                configuration: .init(alertAfter: .milliseconds(500), alertCheckInterval: .milliseconds(50), pollInterval: .zero),
                connection: inbound.scratch.connection, topology: inbound.scratch.topology, store: inbound.store,
                sessions: inbound.store, instances: inbound.store, providers: nil, logger: TestBroker.logger)
            let running = Task { try await second.run() }
            defer { running.cancel() }
            try await Task.sleep(for: .milliseconds(300))
            let now = Date()
            for (status, offset) in [(SessionStatus.disconnected, 0.0), (.disconnected, 0.0), (.needScan, 0.1)] {
                let event = NormalizedEvent(id: "evt_\(status.rawValue)_\(offset)", type: .sessionStatus, tenant: acme,
                                            session: try SessionID("acme-main"), provider: .simulator,
                                            occurredAt: now.addingTimeInterval(offset), receivedAt: now,
                                            sessionStatus: status)
                for _ in 0..<3 { try await inbound.scratch.connection.publish(event, over: inbound.scratch.topology.roles) }
            }
            #expect(try await eventually { try await inbound.store.session(try SessionID("acme-main"))?.status == .needScan })
            var events: [NormalizedEvent] = []
            #expect(try await eventually {
                events += try await inbound.drainEvents()
                return events.contains { $0.sessionAlert?.state == .down }
            })
            try await statusWebhook("connected", at: Int(now.timeIntervalSince1970) + 5, inbound)
            #expect(try await eventually {
                events += try await inbound.drainEvents()
                return events.contains { $0.sessionAlert?.state == .back }
            })
            try await Task.sleep(for: .milliseconds(700))
            events += try await inbound.drainEvents()
            #expect(events.filter { $0.sessionAlert?.state == .down }.count == 1)
            #expect(events.filter { $0.sessionAlert?.state == .back }.count == 1)
            let history = try await inbound.store.sessionStatusHistory(try SessionID("acme-main"), limit: 10)
            #expect(history.map(\.status) == [.connected, .needScan, .disconnected])
        }
    }
}

