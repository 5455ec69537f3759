import Crypto
import Foundation
import SwitchboardCore
import SwitchboardStore
import Testing

@Suite("Messages and idempotency claims on SQLite and on PostgreSQL")
struct MessageStoreTests {
    private let now = Date(timeIntervalSince1970: 1_795_000_000)

    private func claim(_ id: String, key: String? = nil, body: String = "hello", tenant: String = "acme",
                       at date: Date? = nil) throws -> MessageClaim {
        MessageClaim(tenant: try TenantID(tenant), id: id, idempotencyKey: key ?? id,
                     requestHash: Data(SHA256.hash(data: Data(body.utf8))), session: try SessionID("\(tenant)-main"),
                     messageClass: .bulk, to: try PhoneNumber("+14155550123"), type: .text, campaign: "spring",
                     expiresAt: nil, createdAt: date ?? now)
    }

    @Test(arguments: StoreBackend.underTest) func aClaimTellsANewKeyFromARetryFromAReusedKey(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let acme = try TenantID("acme")
            #expect(try await store.claim(try claim("m1", key: "k1"), staleAfter: .seconds(60)) == .claimed)
            // Before the confirm: the same request is in progress.
            guard case .inProgress = try await store.claim(try claim("m2", key: "k1"), staleAfter: .seconds(60)) else {
                Issue.record("expected in progress")
                return
            }
            await store.markQueued("m1", of: acme, at: now)
            guard case .accepted(let first) = try await store.claim(try claim("m3", key: "k1"), staleAfter: .seconds(60))
            else {
                Issue.record("expected the first answer")
                return
            }
            #expect(first.id == "m1")
            #expect(first.state == .queued)
            #expect(first.history.map(\.state) == [.queued])
            guard case .keyReused = try await store.claim(try claim("m4", key: "k1", body: "other"), staleAfter: .seconds(60))
            else {
                Issue.record("expected a reused key")
                return
            }
            // The id is taken by m1 even under another key; another tenant may use both.
            #expect(try await store.claim(try claim("m1", key: "k2"), staleAfter: .seconds(60)) == .idTaken)
            #expect(try await store.claim(try claim("m1", key: "k1", tenant: "globex"), staleAfter: .seconds(60)) == .claimed)
            #expect(try await store.message("m1", of: try TenantID("globex"))?.state == .accepting)
        }
    }

    @Test(arguments: StoreBackend.underTest) func anUnconfirmedOrAbandonedClaimIsResumedAndAReleasedOneIsFree(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let acme = try TenantID("acme")
            _ = try await store.claim(try claim("m1"), staleAfter: .seconds(60))
            try await store.markUnconfirmed("m1", of: acme)
            guard case .resumed(let held) = try await store.claim(try claim("m1"), staleAfter: .seconds(60)) else {
                Issue.record("expected resumed")
                return
            }
            #expect(held.state == .unconfirmed)
            await store.markQueued("m1", of: acme, at: now)
            #expect(try await store.message("m1", of: acme)?.state == .queued)

            // An `accepting` claim older than the stale time: its instance died mid-publish.
            _ = try await store.claim(try claim("m2"), staleAfter: .seconds(60))
            guard case .inProgress = try await store.claim(try claim("m2", at: now.addingTimeInterval(30)),
                                                           staleAfter: .seconds(60)) else {
                Issue.record("expected in progress within the stale time")
                return
            }
            guard case .resumed = try await store.claim(try claim("m2", at: now.addingTimeInterval(61)),
                                                        staleAfter: .seconds(60)) else {
                Issue.record("expected resumed after the stale time")
                return
            }

            _ = try await store.claim(try claim("m3"), staleAfter: .seconds(60))
            try await store.releaseClaim("m3", of: acme)
            #expect(try await store.message("m3", of: acme) == nil)
            #expect(try await store.claim(try claim("m3"), staleAfter: .seconds(60)) == .claimed)
            // A queued message is never released.
            try await store.releaseClaim("m1", of: acme)
            #expect(try await store.message("m1", of: acme) != nil)
        }
    }

    @Test(arguments: StoreBackend.underTest) func concurrentClaimsShareCommitsAndOneFailureDoesNotUndoTheOthers(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            // 400 claims at once, 50 of them colliding on ids claimed under other keys.
            let outcomes = try await withThrowingTaskGroup(of: (Int, ClaimOutcome).self) { group in
                for index in 0..<400 {
                    group.addTask {
                        let id = index < 350 ? "m\(index)" : "m\(index - 350)"
                        return (index, try await store.claim(try claim(id, key: "key-\(index)"), staleAfter: .seconds(60)))
                    }
                }
                var all: [Int: ClaimOutcome] = [:]
                for try await (index, outcome) in group { all[index] = outcome }
                return all
            }
            let acme = try TenantID("acme")
            // Of each colliding pair exactly one won, whichever came first.
            for index in 0..<50 {
                let pair = [outcomes[index], outcomes[index + 350]]
                #expect(pair.filter { $0 == .claimed }.count == 1)
                #expect(pair.filter { $0 == .idTaken }.count == 1)
            }
            #expect((50..<350).allSatisfy { outcomes[$0] == .claimed })
            await withTaskGroup(of: Void.self) { group in
                for index in 0..<350 { group.addTask { await store.markQueued("m\(index)", of: acme, at: now) } }
            }
            // Write-behinds under load land with the batches still running; one more write
            // after them all has them committed before it.
            _ = try await store.claim(try claim("last"), staleAfter: .seconds(60))
            for index in 0..<350 {
                #expect(try await store.message("m\(index)", of: acme)?.state == .queued)
            }
        }
    }

    @Test(arguments: StoreBackend.underTest) func writeBehindsUnderLoadAllLandAndNoCallerLeadsForever(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let acme = try TenantID("acme")
            // 2,000 write-behind inserts and 200 waited-for claims, all at once.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<2_200 {
                    group.addTask {
                        if index % 11 == 0 {
                            #expect(try await store.claim(try claim("c\(index)"), staleAfter: .seconds(60)) == .claimed)
                        } else {
                            await store.recordQueued(try claim("r\(index)"), at: now)
                        }
                    }
                }
                try await group.waitForAll()
            }
            // The load has stopped: nothing may be left waiting for a next caller.
            for index in 0..<2_200 {
                let state = try await store.message(index % 11 == 0 ? "c\(index)" : "r\(index)", of: acme)?.state
                #expect(state == (index % 11 == 0 ? .accepting : .queued), "message \(index): \(String(describing: state))")
            }
        }
    }

    /// The api records an accepted message after answering (write-behind); under load the
    /// dispatcher has sent it and recorded `sent` first. That row stays (never backwards)
    /// and the history (in the order recorded) gains `queued` with the instant the api
    /// accepted it; the late write used to fail whole.
    @Test(arguments: StoreBackend.underTest) func aQueuedRecordThatArrivesAfterTheSendKeepsTheSentRowAndItsHistory(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let acme = try TenantID("acme")
            let envelope = OutboundEnvelope(id: "late", tenant: acme, session: try SessionID("acme-main"),
                                            to: try PhoneNumber("+14155550123"), text: "hello")
            try await store.recordSent(envelope, session: try SessionID("acme-main"), providerMessageID: "p-1",
                                       at: now.addingTimeInterval(1))
            await store.recordQueued(try claim("late"), at: now)
            let message = try #require(try await store.message("late", of: acme))
            #expect(message.state == .sent)
            #expect(message.history.map(\.state) == [.sent, .queued])
            #expect(message.history.last?.at == now)
        }
    }

    @Test func messagesSurviveReopeningTheFile() async throws {
        let temporary = try TemporaryStore()
        defer { temporary.remove() }
        do {
            let store = try temporary.open()
            try await store.createTenant(try tenant("acme"))
            _ = try await store.claim(try claim("m1", key: "order-17"), staleAfter: .seconds(60))
            await store.markQueued("m1", of: try TenantID("acme"), at: now)
        }
        let reopened = try temporary.open()
        guard case .accepted(let first) = try await reopened.claim(try claim("m9", key: "order-17"), staleAfter: .seconds(60))
        else {
            Issue.record("expected the first answer after reopening")
            return
        }
        #expect(first.id == "m1")
        #expect(first.campaign == "spring")
        #expect(first.history.first?.at == now)
    }
}
