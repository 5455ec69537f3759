import Foundation
import SwitchboardCore
import SwitchboardStore
import Testing

@Suite("Session health: statuses applied in order, changes in the history, alerts claimed once")
struct SessionHealthStoreTests {
    private let start = Date(timeIntervalSince1970: 1_795_000_000)

    @Test(arguments: StoreBackend.underTest) func aStatusChangesTheSessionOnceKeepsItsHistoryAndIsAlertedOnceEachWay(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            var connected = try session("acme-main", of: "acme", primary: true)
            connected.status = .connected
            try await store.addSession(connected, secrets: SessionSecrets(credentials: ["api_key": "k1"], webhookSecret: "w1"))
            let acme = try TenantID("acme")
            let main = try SessionID("acme-main")
            func apply(_ status: SessionStatus, at offset: Double, source: String = "webhook", id: String)
                async throws -> SessionStatusChange
            {
                try await store.applySessionStatus(status, of: main, tenant: acme, at: start.addingTimeInterval(offset),
                                                   source: source, reportID: id)
            }
            let down = try await apply(.disconnected, at: 0, id: "e1")
            #expect(down.changed && down.from == .connected && down.to == .disconnected && !down.recovered)
            #expect(try await store.session(main)?.status == .disconnected)
            // A replay (or a second monitor) changes nothing.
            #expect(try await apply(.disconnected, at: 0, id: "e1").changed == false)
            // A report older than the status the session has changes nothing.
            #expect(try await apply(.connected, at: -5, id: "e0").changed == false)
            #expect(try await store.session(main)?.status == .disconnected)
            // Another tenant cannot name this session.
            await #expect(throws: StoreError.self) {
                try await store.applySessionStatus(.connected, of: main, tenant: try TenantID("globex"), at: start,
                                                   source: "webhook", reportID: "x")
            }

            // Down long enough: claimed once, whoever asks; need_scan keeps the same down time.
            _ = try await apply(.needScan, at: 1, id: "e2")
            #expect(try await store.claimDownSessions(downSince: start, at: start).isEmpty)
            let claimed = try await store.claimDownSessions(downSince: start.addingTimeInterval(60), at: start)
            #expect(claimed == [DownSession(tenant: acme, session: main, status: .needScan, since: start)])
            #expect(try await store.claimDownSessions(downSince: start.addingTimeInterval(60), at: start).isEmpty)

            // Back: the "back" alert is owed once.
            let back = try await apply(.connected, at: 2, id: "e3")
            #expect(back.changed && back.recovered)
            let again = try await apply(.connected, at: 3, source: "poll", id: "p1")
            #expect(!again.changed && !again.recovered)
            let history = try await store.sessionStatusHistory(main, limit: 10)
            #expect(history.map(\.status) == [.connected, .needScan, .disconnected])
            #expect(history.map(\.source) == ["webhook", "webhook", "webhook"])
        }
    }
}
