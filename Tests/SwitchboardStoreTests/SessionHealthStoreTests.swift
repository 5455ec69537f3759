import Foundation
import SwitchboardCore
import SwitchboardStore
import Testing

@Suite("Session health: statuses applied once, in order, alerts claimed once")
struct SessionHealthStoreTests {
    private let start = Date(timeIntervalSince1970: 1_795_000_000)

    @Test func aStatusIsAppliedOnceKeptInTheHistoryAndAlertedOnceEachWay() async throws {
        try await withStore { store in
            var connected = try session("acme-main", of: "acme", primary: true)
            connected.status = .connected
            try await store.addSession(connected, secrets: SessionSecrets(credentials: ["api_key": "k1"], webhookSecret: "w1"))
            let acme = try TenantID("acme")
            let main = try SessionID("acme-main")
            let down = try #require(try await store.applySessionStatus(.disconnected, of: main, tenant: acme, at: start,
                                                                      source: "webhook", reportID: "e1"))
            #expect(down.changed && down.from == .connected && down.to == .disconnected && !down.recovered)
            #expect(try await store.session(main)?.status == .disconnected)
            // A replay of the same report changes nothing.
            #expect(try await store.applySessionStatus(.disconnected, of: main, tenant: acme, at: start, source: "webhook",
                                                       reportID: "e1") == nil)
            // A report older than the status the session has joins the history only.
            let late = try #require(try await store.applySessionStatus(.connected, of: main, tenant: acme,
                                                                      at: start.addingTimeInterval(-5), source: "webhook",
                                                                      reportID: "e0"))
            #expect(!late.changed)
            #expect(try await store.session(main)?.status == .disconnected)
            // Another tenant cannot name this session.
            await #expect(throws: StoreError.self) {
                try await store.applySessionStatus(.connected, of: main, tenant: try TenantID("globex"), at: start,
                                                   source: "webhook", reportID: "x")
            }

            // Down long enough: claimed once, whoever asks; need_scan keeps the same down time.
            _ = try await store.applySessionStatus(.needScan, of: main, tenant: acme, at: start.addingTimeInterval(1),
                                                   source: "webhook", reportID: "e2")
            #expect(try await store.claimDownSessions(downSince: start, at: start).isEmpty)
            let claimed = try await store.claimDownSessions(downSince: start.addingTimeInterval(60), at: start)
            #expect(claimed == [DownSession(tenant: acme, session: main, status: .needScan, since: start)])
            #expect(try await store.claimDownSessions(downSince: start.addingTimeInterval(60), at: start).isEmpty)

            // Back: the "back" alert is owed once.
            let back = try #require(try await store.applySessionStatus(.connected, of: main, tenant: acme,
                                                                      at: start.addingTimeInterval(2), source: "webhook",
                                                                      reportID: "e3"))
            #expect(back.changed && back.recovered)
            let again = try #require(try await store.applySessionStatus(.connected, of: main, tenant: acme,
                                                                       at: start.addingTimeInterval(3), source: "poll",
                                                                       reportID: "e4"))
            #expect(!again.changed && !again.recovered)
            let history = try await store.sessionStatusHistory(main, limit: 10)
            #expect(history.map(\.status) == [.connected, .connected, .needScan, .disconnected, .connected])
            #expect(history.first?.source == "poll")
        }
    }
}
