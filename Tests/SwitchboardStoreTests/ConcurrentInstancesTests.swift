import Crypto
import Foundation
import Logging
import SwitchboardCore
import SwitchboardStore
import Testing

/// Two stores opened on one database, as two instances of the api, the dispatcher or a
/// consumer open it on two hosts (PostgreSQL) or in two processes of one host (SQLite),
/// racing on the decisions that must be taken once.
@Suite("Instances racing on one database decide once")
struct ConcurrentInstancesTests {
    private let now = Date(timeIntervalSince1970: 1_795_000_000)
    private let acme = try! TenantID("acme")

    /// Runs `body` with two stores on one fresh database holding the tenant acme and its session.
    private func withTwoInstances(_ backend: StoreBackend,
                                  _ body: (any GatewayStore, any GatewayStore) async throws -> Void) async throws {
        let temporary = try TemporaryStore()
        defer { temporary.remove() }
        let location = try StoreLocation.scratch(beside: backend == .postgres ? StoreBackend.postgresForTests : nil,
                                                 name: "sbrace_" + temporary.directory.lastPathComponent,
                                                 directory: temporary.directory)
        let box = try SecretBox(masterKey: temporary.key)
        let first = try await location.open(secretBox: box)
        let second = try await location.open(secretBox: box)
        func cleanUp() async {
            await first.close()
            await second.close()
            await location.discard(logger: Logger(label: "test"))
        }
        do {
            try await first.createTenant(try tenant("acme"))
            try await first.addSession(try session("acme-main", of: "acme"),
                                       secrets: SessionSecrets(credentials: ["api_key": "k"], webhookSecret: "s"))
            try await body(first, second)
        } catch {
            await cleanUp()
            throw error
        }
        await cleanUp()
    }

    private func claim(_ id: String, key: String) throws -> MessageClaim {
        MessageClaim(tenant: acme, id: id, idempotencyKey: key, requestHash: Data(SHA256.hash(data: Data(key.utf8))),
                     session: try SessionID("acme-main"), messageClass: .transactional,
                     to: try PhoneNumber("+14155550123"), type: .text, campaign: nil, expiresAt: nil, createdAt: now)
    }

    @Test(arguments: StoreBackend.underTest)
    func anIdempotencyKeyRetriedThroughBothInstancesAtOnceIsClaimedOnce(backend: StoreBackend) async throws {
        try await withTwoInstances(backend) { first, second in
            // 100 keys, each sent four times at once (retries through two load-balanced apis).
            let outcomes = try await withThrowingTaskGroup(of: (String, ClaimOutcome).self) { group in
                for key in 0..<100 {
                    for attempt in 0..<4 {
                        let store = attempt % 2 == 0 ? first : second
                        let claim = try claim("m\(key)-\(attempt)", key: "k\(key)")
                        group.addTask { ("k\(key)", try await store.claim(claim, staleAfter: .seconds(60))) }
                    }
                }
                var outcomes: [String: [ClaimOutcome]] = [:]
                for try await (key, outcome) in group { outcomes[key, default: []].append(outcome) }
                return outcomes
            }
            #expect(outcomes.count == 100)
            for (key, answers) in outcomes {
                #expect(answers.filter { $0 == .claimed }.count == 1, "\(key): \(answers)")
                #expect(answers.allSatisfy { answer in
                    if case .inProgress = answer { return true }
                    return answer == .claimed
                }, "\(key): \(answers)")
            }
        }
    }

    @Test(arguments: StoreBackend.underTest)
    func statusesRacingTheSendThatBringsTheProvidersIDApplyExactlyOnce(backend: StoreBackend) async throws {
        try await withTwoInstances(backend) { first, second in
            let ids = (0..<60).map { "m\($0)" }
            for id in ids {
                #expect(try await first.claim(try claim(id, key: id), staleAfter: .seconds(60)) == .claimed)
                await first.markQueued(id, of: acme, at: now)
            }
            // The dispatcher (one instance) records each send while the logger (another)
            // applies the provider's delivered and read statuses, some twice.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for id in ids {
                    group.addTask {
                        try await first.recordSent(
                            OutboundEnvelope(id: id, tenant: self.acme, session: try SessionID("acme-main"),
                                             to: try PhoneNumber("+14155550123"), text: "hi"),
                            session: try SessionID("acme-main"), providerMessageID: "p-\(id)",
                            at: self.now.addingTimeInterval(1))
                    }
                    for state in [MessageState.delivered, .read, .delivered] {
                        group.addTask {
                            _ = try await second.applyStatuses([StatusReport(
                                tenant: self.acme, messageID: nil, providerMessageID: "p-\(id)", state: state,
                                at: self.now.addingTimeInterval(state == .read ? 3 : 2))])
                        }
                    }
                }
                try await group.waitForAll()
            }
            for id in ids {
                let message = try #require(try await second.message(id, of: acme))
                #expect(message.state == .read, "\(id)")
                #expect(message.providerMessageID == "p-\(id)")
                #expect(message.history.map(\.state).sorted { $0.rawValue < $1.rawValue }
                        == [.delivered, .queued, .read, .sent], "\(id): \(message.history.map(\.state))")
            }
            // No status was left waiting for an id that had arrived.
            #expect(try await first.forgetExpired(before: now, pendingStatusesBefore: .distantFuture) == 0)
        }
    }

    @Test(arguments: StoreBackend.underTest)
    func aReplayJobAndASessionAlertAreEachClaimedByOneInstance(backend: StoreBackend) async throws {
        try await withTwoInstances(backend) { first, second in
            let job = try await first.createReplayJob(matching: DeadLetterFilter(tenant: "acme"), session: nil,
                                                      actor: "test", at: now)
            #expect(job.state == .done)  // nothing waits: an empty job is done at once
            for index in 0..<20 {
                let letter = ArchivedDeadLetter(
                    id: "dl\(index)", fingerprint: "f\(index)", tenant: "acme", source: "sb.dead", exchange: "sb.dead",
                    routingKey: "acme", originalExchange: "sb.outbound", originalRoutingKey: "acme.transactional",
                    reason: "rejected", errorCode: nil, detail: nil, attempts: 1, firstFailedAt: now, lastFailedAt: now,
                    messageID: "m\(index)", session: nil, provider: nil, deathHistory: Data(), headers: Data(),
                    properties: Data(), body: Data("{}".utf8), archivedAt: now, state: .archived, replays: 0,
                    replayedAt: nil, discardedAt: nil, replayError: nil)
                try await (index % 2 == 0 ? first : second).archive([letter])
            }
            _ = try await first.createReplayJob(matching: DeadLetterFilter(tenant: "acme"), session: nil,
                                                actor: "test", at: now)
            let lease = Date().addingTimeInterval(30)
            async let a = first.claimReplayJob(nil, leaseUntil: lease)
            async let b = second.claimReplayJob(nil, leaseUntil: lease)
            let claimed = [try await a, try await b].compactMap { $0 }
            #expect(claimed.count == 1)
            #expect(claimed.first?.total == 20)

            _ = try await first.applySessionStatus(.disconnected, of: try SessionID("acme-main"), tenant: acme,
                                                   at: now, source: "test", reportID: "r1")
            async let x = first.claimDownSessions(downSince: now.addingTimeInterval(10), at: now.addingTimeInterval(20))
            async let y = second.claimDownSessions(downSince: now.addingTimeInterval(10), at: now.addingTimeInterval(20))
            let alerts = try await x + y
            #expect(alerts.map(\.session.rawValue) == ["acme-main"])
        }
    }
}
