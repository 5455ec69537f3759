import Foundation
import SwitchboardCore
import SwitchboardStore
import Testing

@Suite("The dead-letter archive, its groups, replay jobs and the audit log on SQLite and on PostgreSQL")
struct DeadLetterStoreTests {
    private let start = Date(timeIntervalSince1970: 1_795_000_000)

    private func letter(_ id: String, tenant: String = "acme", reason: String = "http-401", code: String? = "http-401",
                        session: String? = "acme-main", at offset: Double = 0, fingerprint: String? = nil)
        -> ArchivedDeadLetter
    {
        ArchivedDeadLetter(
            id: id, fingerprint: fingerprint ?? "fp-\(id)", tenant: tenant, source: "sb.dead", exchange: "sb.dlx",
            routingKey: "\(tenant).\(reason)", originalExchange: "sb.outbound", originalRoutingKey: "\(tenant).bulk",
            reason: reason, errorCode: code, detail: "why", attempts: 1, firstFailedAt: start, lastFailedAt: start,
            messageID: "m-\(id)", session: session, provider: "simulator", deathHistory: Data("[]".utf8),
            headers: Data("{}".utf8), properties: Data("{}".utf8), body: Data("{\"id\":\"m-\(id)\"}".utf8),
            archivedAt: start.addingTimeInterval(offset))
    }

    @Test(arguments: StoreBackend.underTest) func aDuplicateDeliveryIsOneRowAndGroupsCountWhatWaits(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            #expect(try await store.archive([letter("a1"), letter("a2", at: 1), letter("a3", reason: "expired", code: "expired", at: 2)]) == 3)
            // The same dead letter delivered again (same fingerprint, another archive id).
            #expect(try await store.archive([letter("a1-again", fingerprint: "fp-a1")]) == 0)
            #expect(try await store.archive([letter("g1", tenant: "globex", session: nil)]) == 1)

            let groups = try await store.deadLetterGroups(tenant: "acme", by: .reason, includeEmpty: false)
            #expect(groups.map { "\($0.reason ?? "")/\($0.errorCode ?? "-")=\($0.count)" } == ["http-401/http-401=2", "expired/expired=1"])
            #expect(groups[0].firstSeen == start && groups[0].lastSeen == start.addingTimeInterval(1))
            let everyone = try await store.deadLetterGroups(tenant: nil, by: .session, includeEmpty: false)
            #expect(Set(everyone.map { "\($0.tenant):\($0.session ?? "none")=\($0.count)" }) == ["acme:acme-main=3", "globex:none=1"])

            // Discard one, replay one: they leave the count, not the total.
            #expect(try await store.setDiscarded(["a1", "nope"], true, tenant: "acme", at: start) == ["a1": .accepted, "nope": .notFound])
            #expect(try await store.markReplayed("a2", at: start))
            #expect(try await store.markReplayed("a2", at: start) == false)
            var after = try await store.deadLetterGroups(tenant: "acme", by: .reason, includeEmpty: true)
            #expect(after.first { $0.reason == "http-401" }.map { "\($0.count)/\($0.total)" } == "0/2")
            #expect(try await store.deadLetterGroups(tenant: "acme", by: .reason, includeEmpty: false).map(\.reason) == ["expired"])
            // Restore brings it back; a tenant cannot touch another's.
            #expect(try await store.setDiscarded(["a1"], false, tenant: "globex", at: start) == ["a1": .notFound])
            #expect(try await store.setDiscarded(["a1", "a2", "a3"], false, tenant: "acme", at: start)
                == ["a1": .accepted, "a2": .alreadyReplayed, "a3": .notDiscarded])
            after = try await store.deadLetterGroups(tenant: "acme", by: .reason, includeEmpty: false)
            #expect(after.first { $0.reason == "http-401" }?.count == 1)
        }
    }

    @Test(arguments: StoreBackend.underTest) func listsFilterAndPageNewestFirst(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            try await store.archive((0..<25).map { letter("l\($0)", reason: $0 % 2 == 0 ? "http-401" : "expired", at: Double($0)) })
            var seen: [String] = []
            var cursor: DeadLetterCursor?
            repeat {
                let page = try await store.deadLetters(matching: DeadLetterFilter(tenant: "acme", reason: "http-401"),
                                                       after: cursor, limit: 5)
                seen += page.map(\.id)
                cursor = page.count == 5 ? page.last.map { DeadLetterCursor(archivedAt: $0.archivedAt, id: $0.id) } : nil
            } while cursor != nil
            #expect(seen == stride(from: 24, through: 0, by: -2).map { "l\($0)" })
            #expect(try await store.countDeadLetters(matching: DeadLetterFilter(tenant: "acme", reason: "expired")) == 12)
            #expect(try await store.countDeadLetters(matching: DeadLetterFilter(tenant: "globex")) == 0)
            let token = DeadLetterCursor(archivedAt: start.addingTimeInterval(3), id: "l3").token
            #expect(DeadLetterCursor(token: token) == DeadLetterCursor(archivedAt: start.addingTimeInterval(3), id: "l3"))
            #expect(DeadLetterCursor(token: "garbage") == nil)
        }
    }

    @Test(arguments: StoreBackend.underTest) func aReplayJobTakesWhatWaitsOnceAndEndsWhenSettled(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            try await store.archive((0..<6).map { letter("j\($0)", at: Double($0)) })
            #expect(try await store.setDiscarded(["j5"], true, tenant: nil, at: start)["j5"] == .accepted)
            let (byIDs, outcomes) = try await store.createReplayJob(ids: ["j0", "j1", "j5", "zz"], tenant: "acme",
                                                                    session: nil, actor: "key1", at: start)
            #expect(byIDs.total == 2)
            #expect(outcomes == ["j0": .accepted, "j1": .accepted, "j5": .discarded, "zz": .notFound])
            // A filter job takes the rest that wait, not those another job holds.
            let byFilter = try await store.createReplayJob(matching: DeadLetterFilter(tenant: "acme"), session: "acme-2",
                                                           actor: "key1", at: start)
            #expect(byFilter.total == 3)
            #expect(try await store.createReplayJob(ids: ["j0"], tenant: nil, session: nil, actor: "k", at: start).outcomes
                == ["j0": .alreadyReplayed])

            // One runner at a time: a claimed job is not claimed again until its lease ends.
            let claimed = try #require(try await store.claimReplayJob(byIDs.id, leaseUntil: Date().addingTimeInterval(30)))
            #expect(claimed.state == .running)
            #expect(try await store.claimReplayJob(byIDs.id, leaseUntil: Date().addingTimeInterval(30)) == nil)
            #expect(try await store.claimReplayJob(nil, leaseUntil: Date().addingTimeInterval(30))?.id == byFilter.id)

            let next = try await store.nextToReplay(job: byIDs.id, limit: 10)
            #expect(next.map(\.id) == ["j0", "j1"])
            var job = try await store.settleReplays(job: byIDs.id, replayed: ["j0"], failed: ["j1": "no way back"], at: start)
            #expect(job.state == .done && job.replayed == 1 && job.failed == 1)
            #expect(try await store.deadLetter("j0")?.state == .replayed)
            #expect(try await store.deadLetter("j0")?.replays == 1)
            let failed = try #require(try await store.deadLetter("j1"))
            #expect(failed.state == .archived && failed.replayError == "no way back")

            job = try await store.settleReplays(job: byFilter.id, replayed: ["j2", "j3", "j4"], failed: [:], at: start)
            #expect(job.state == .done && job.replayed == 3)
            #expect(try await store.replayJob(byFilter.id)?.session == "acme-2")
        }
    }

    @Test(arguments: StoreBackend.underTest) func thePurgeRemovesOnlyWhatWasResolvedBeforeTheRetention(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            try await store.archive([letter("p1"), letter("p2"), letter("p3")])
            _ = try await store.markReplayed("p1", at: start)
            _ = try await store.setDiscarded(["p2"], true, tenant: nil, at: start.addingTimeInterval(100))
            #expect(try await store.purgeDeadLetters(resolvedBefore: start.addingTimeInterval(50)) == 1)
            #expect(try await store.deadLetter("p1") == nil)
            #expect(try await store.deadLetter("p2") != nil)
            #expect(try await store.purgeDeadLetters(resolvedBefore: start.addingTimeInterval(1000)) == 1)
            #expect(try await store.deadLetter("p3")?.state == .archived)  // never resolved: never purged
        }
    }

    @Test(arguments: StoreBackend.underTest) func theAuditLogIsReadPerTenantNewestFirst(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            for (index, tenant) in ["acme", "globex", "acme", nil].enumerated() {
                try await store.recordAudit(AuditEntry(at: start.addingTimeInterval(Double(index)), actorID: "key\(index)",
                                                       actorLabel: "ops", tenant: tenant, action: "dead-letters.replay",
                                                       target: "{}", count: index))
            }
            #expect(try await store.auditEntries(tenant: "acme", before: nil, limit: 10).map(\.actorID) == ["key2", "key0"])
            let all = try await store.auditEntries(tenant: nil, before: nil, limit: 2)
            #expect(all.map(\.actorID) == ["key3", "key2"])
            #expect(try await store.auditEntries(tenant: nil, before: all.last?.id, limit: 10).map(\.actorID) == ["key1", "key0"])
        }
    }
}
