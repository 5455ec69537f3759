import Crypto
import Foundation
import SwitchboardCore
import SwitchboardProviders
import SwitchboardStore
import Testing

@Suite("The message log and the event dedupe memory on SQLite and on PostgreSQL")
struct MessageLogStoreTests {
    private let now = Date(timeIntervalSince1970: 1_795_000_000)
    private let contact = "+14155550123"

    // MARK: Helpers

    private func claim(_ id: String, tenant: String = "acme", to: String? = nil, text: String? = nil,
                       at date: Date? = nil) throws -> MessageClaim {
        MessageClaim(tenant: try TenantID(tenant), id: id, idempotencyKey: id,
                     requestHash: Data(SHA256.hash(data: Data(id.utf8))), session: try SessionID("\(tenant)-main"),
                     messageClass: .transactional, to: try PhoneNumber(to ?? contact), type: .text, campaign: nil,
                     text: text, expiresAt: nil, createdAt: date ?? now)
    }

    private func envelope(_ id: String, tenant: String = "acme", text: String? = "hello") throws -> OutboundEnvelope {
        OutboundEnvelope(id: id, tenant: try TenantID(tenant), session: try SessionID("\(tenant)-main"),
                         to: try PhoneNumber(contact), text: text)
    }

    /// Claims `id`, has the broker confirm it at `now`, and records the provider's
    /// acceptance under `providerID` at `now + 1`.
    private func sentMessage(_ id: String, providerID: String, tenant: String = "acme", in store: any GatewayStore)
        async throws
    {
        #expect(try await store.claim(try claim(id, tenant: tenant), staleAfter: .seconds(60)) == .claimed)
        await store.markQueued(id, of: try TenantID(tenant), at: now)
        try await store.recordSent(try envelope(id, tenant: tenant), session: try SessionID("\(tenant)-main"),
                                   providerMessageID: providerID, at: now.addingTimeInterval(1))
    }

    /// A provider's status, known by the provider's id only.
    private func providerStatus(_ state: MessageState, _ providerID: String, tenant: String = "acme", at seconds: Double,
                                detail: String? = nil) throws -> StatusReport {
        StatusReport(tenant: try TenantID(tenant), messageID: nil, providerMessageID: providerID, state: state,
                     at: now.addingTimeInterval(seconds), detail: detail)
    }

    private func stored(_ id: String, tenant: String = "acme", in store: any GatewayStore) async throws -> StoredMessage {
        try #require(try await store.message(id, of: try TenantID(tenant)))
    }

    private func received(_ eventID: String, tenant: String = "acme", from: String? = nil, text: String,
                          at seconds: Double) throws -> NormalizedEvent {
        NormalizedEvent(id: eventID, type: .messageReceived, tenant: try TenantID(tenant),
                        session: try SessionID("\(tenant)-main"), provider: .wasender,
                        occurredAt: now.addingTimeInterval(seconds), receivedAt: now.addingTimeInterval(seconds + 0.5),
                        message: .init(providerID: "w-\(eventID)", from: from ?? contact, to: "+14155550999",
                                       type: "text", text: text))
    }

    // MARK: Statuses

    @Test(arguments: StoreBackend.underTest) func deliveredThenReadByTheProvidersIDMovesTheMessageOnInOrder(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            try await sentMessage("m1", providerID: "p1", in: store)
            #expect(try await store.messageID(forProviderID: "p1", tenant: try TenantID("acme")) == "m1")
            // The provider's own `sent` repeats what the dispatcher recorded.
            #expect(try await store.applyStatus(try providerStatus(.sent, "p1", at: 1.5)) == .duplicate)
            #expect(try await store.applyStatus(try providerStatus(.delivered, "p1", at: 2)) == .advanced)
            #expect(try await store.applyStatus(try providerStatus(.read, "p1", at: 3, detail: "p1")) == .advanced)

            let message = try await stored("m1", in: store)
            #expect(message.state == .read)
            #expect(message.providerMessageID == "p1")
            #expect(message.error == nil)
            #expect(message.history == [
                MessageStatusEntry(state: .queued, at: now),
                MessageStatusEntry(state: .sent, at: now.addingTimeInterval(1), detail: "p1"),
                MessageStatusEntry(state: .delivered, at: now.addingTimeInterval(2)),
                MessageStatusEntry(state: .read, at: now.addingTimeInterval(3), detail: "p1"),
            ])
        }
    }

    @Test(arguments: StoreBackend.underTest) func aReadBeforeItsDeliveredKeepsTheMessageRead(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            try await sentMessage("m1", providerID: "p1", in: store)
            #expect(try await store.applyStatus(try providerStatus(.read, "p1", at: 3)) == .advanced)
            #expect(try await store.applyStatus(try providerStatus(.delivered, "p1", at: 2)) == .recorded)
            let message = try await stored("m1", in: store)
            #expect(message.state == .read)
            #expect(message.history.map(\.state) == [.queued, .sent, .read, .delivered])
            // Still forward from read.
            #expect(try await store.applyStatus(try providerStatus(.played, "p1", at: 4)) == .advanced)
            #expect(try await stored("m1", in: store).state == .played)
        }
    }

    @Test(arguments: StoreBackend.underTest) func aReadWithoutADeliveredIsFine(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            try await sentMessage("m1", providerID: "p1", in: store)
            #expect(try await store.applyStatus(try providerStatus(.read, "p1", at: 3)) == .advanced)
            let message = try await stored("m1", in: store)
            #expect(message.state == .read)
            #expect(message.history.map(\.state) == [.queued, .sent, .read])
        }
    }

    @Test(arguments: StoreBackend.underTest) func aReplayedStatusChangesNothing(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            try await sentMessage("m1", providerID: "p1", in: store)
            #expect(try await store.applyStatus(try providerStatus(.delivered, "p1", at: 2)) == .advanced)
            let before = try await stored("m1", in: store)
            #expect(try await store.applyStatus(try providerStatus(.delivered, "p1", at: 2)) == .duplicate)
            // A replay at another instant (a provider's retry) is the same state again.
            #expect(try await store.applyStatus(try providerStatus(.delivered, "p1", at: 9)) == .duplicate)
            let after = try await stored("m1", in: store)
            #expect(after.history == before.history)
            #expect(after.state == .delivered)
            #expect(after.updatedAt == before.updatedAt)
        }
    }

    @Test(arguments: StoreBackend.underTest) func statusesBeforeTheProvidersIDIsKnownWaitAndApplyOnRecordSent(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let acme = try TenantID("acme")
            // The webhook overtook the dispatcher's record.
            #expect(try await store.applyStatus(try providerStatus(.read, "p9", at: 3)) == .pending)
            #expect(try await store.applyStatus(try providerStatus(.delivered, "p9", at: 2)) == .pending)
            #expect(try await store.messageID(forProviderID: "p9", tenant: acme) == nil)

            try await sentMessage("m1", providerID: "p9", in: store)
            let message = try await stored("m1", in: store)
            #expect(message.state == .read)
            #expect(message.providerMessageID == "p9")
            // Applied in the order the provider reported them.
            #expect(message.history.map(\.state) == [.queued, .sent, .delivered, .read])
            #expect(message.history.map(\.at) == [0, 1, 2, 3].map { now.addingTimeInterval($0) })

            // Applied once and forgotten: a replay is a duplicate, and no pending row is left.
            #expect(try await store.applyStatus(try providerStatus(.delivered, "p9", at: 2)) == .duplicate)
            #expect(try await store.applyStatus(try providerStatus(.read, "p9", at: 3)) == .duplicate)
            #expect(try await store.forgetExpired(before: .distantPast, pendingStatusesBefore: .distantFuture) == 0)
        }
    }

    @Test(arguments: StoreBackend.underTest) func aPendingStatusAppliesToAMessageFirstRecordedBySend(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            #expect(try await store.applyStatus(try providerStatus(.delivered, "p8", at: 2)) == .pending)
            // Came over AMQP: no claim, the dispatcher's record creates the row.
            try await store.recordSent(try envelope("m2", text: "over amqp"), session: try SessionID("acme-main"),
                                       providerMessageID: "p8", at: now.addingTimeInterval(1))
            let message = try await stored("m2", in: store)
            #expect(message.state == .delivered)
            #expect(message.text == "over amqp")
            #expect(message.history.map(\.state) == [.sent, .delivered])
            #expect(try await store.forgetExpired(before: .distantPast, pendingStatusesBefore: .distantFuture) == 0)
        }
    }

    @Test(arguments: StoreBackend.underTest) func aStatusThatNamesNoMessageIsUnknown(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            try await sentMessage("m1", providerID: "p1", in: store)
            let acme = try TenantID("acme")
            #expect(try await store.applyStatus(StatusReport(tenant: acme, messageID: "ghost", providerMessageID: nil,
                                                             state: .delivered, at: now)) == .unknown)
            // Another tenant's message id is not this tenant's.
            #expect(try await store.applyStatus(StatusReport(tenant: try TenantID("globex"), messageID: "m1",
                                                             providerMessageID: nil, state: .delivered, at: now))
                == .unknown)
            #expect(try await stored("m1", in: store).state == .sent)
            // Our id alone joins a known message (the dispatcher's own events).
            #expect(try await store.applyStatus(StatusReport(tenant: acme, messageID: "m1", providerMessageID: nil,
                                                             state: .delivered, at: now.addingTimeInterval(2)))
                == .advanced)
            #expect(try await stored("m1", in: store).state == .delivered)
        }
    }

    @Test(arguments: StoreBackend.underTest) func aProviderFailureAfterSentFailsTheMessageWithItsError(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            try await sentMessage("m1", providerID: "p1", in: store)
            let detail = "131026: message undeliverable"
            #expect(try await store.applyStatus(try providerStatus(.failed, "p1", at: 2, detail: detail)) == .advanced)
            var message = try await stored("m1", in: store)
            #expect(message.state == .failed)
            #expect(message.error == detail)
            #expect(message.history.last == MessageStatusEntry(state: .failed, at: now.addingTimeInterval(2),
                                                               detail: detail))
            // The provider delivered it after all: its evidence wins.
            #expect(try await store.applyStatus(try providerStatus(.delivered, "p1", at: 3)) == .advanced)
            message = try await stored("m1", in: store)
            #expect(message.state == .delivered)
            #expect(message.history.map(\.state) == [.queued, .sent, .failed, .delivered])
            #expect(try await store.applyStatus(try providerStatus(.failed, "p1", at: 4, detail: detail)) == .duplicate)
        }
    }

    @Test(arguments: StoreBackend.underTest) func aDeliveredAfterOurOwnFailedWins(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let acme = try TenantID("acme")
            #expect(try await store.claim(try claim("m2"), staleAfter: .seconds(60)) == .claimed)
            await store.markQueued("m2", of: acme, at: now)
            // The send timed out: we gave up, yet the provider had it.
            try await store.recordUnsent(try envelope("m2"), session: try SessionID("acme-main"), state: .failed,
                                         code: "timeout", detail: "no answer in 30 s", at: now.addingTimeInterval(1))
            var message = try await stored("m2", in: store)
            #expect(message.state == .failed)
            #expect(message.error == "timeout: no answer in 30 s")
            #expect(try await store.applyStatus(StatusReport(tenant: acme, messageID: "m2", providerMessageID: "p2",
                                                             state: .delivered, at: now.addingTimeInterval(2)))
                == .advanced)
            message = try await stored("m2", in: store)
            #expect(message.state == .delivered)
            #expect(message.providerMessageID == "p2")
            #expect(try await store.messageID(forProviderID: "p2", tenant: acme) == "m2")
            #expect(message.history.map(\.state) == [.queued, .failed, .delivered])
        }
    }

    @Test(arguments: StoreBackend.underTest) func aFailureAfterDeliveryIsHistoryOnly(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            try await sentMessage("m1", providerID: "p1", in: store)
            #expect(try await store.applyStatus(try providerStatus(.delivered, "p1", at: 2)) == .advanced)
            #expect(try await store.applyStatus(try providerStatus(.failed, "p1", at: 3, detail: "late")) == .recorded)
            let message = try await stored("m1", in: store)
            #expect(message.state == .delivered)
            #expect(message.error == nil)
            #expect(message.history.map(\.state) == [.queued, .sent, .delivered, .failed])
        }
    }

    @Test(arguments: StoreBackend.underTest) func anExpiredMessageStaysExpired(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let acme = try TenantID("acme")
            #expect(try await store.claim(try claim("m3"), staleAfter: .seconds(60)) == .claimed)
            await store.markQueued("m3", of: acme, at: now)
            try await store.recordUnsent(try envelope("m3"), session: nil, state: .expired, code: "expired",
                                         detail: "expires_at passed", at: now.addingTimeInterval(1))
            #expect(try await store.applyStatus(StatusReport(tenant: acme, messageID: "m3", providerMessageID: nil,
                                                             state: .delivered, at: now.addingTimeInterval(2)))
                == .recorded)
            #expect(try await stored("m3", in: store).state == .expired)
        }
    }

    @Test(arguments: StoreBackend.underTest) func tenantsNeverMix(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let acme = try TenantID("acme")
            let globex = try TenantID("globex")
            // The same provider id under two tenants (two providers, or two accounts).
            try await sentMessage("a1", providerID: "p1", tenant: "acme", in: store)
            try await sentMessage("g1", providerID: "p1", tenant: "globex", in: store)
            #expect(try await store.messageID(forProviderID: "p1", tenant: acme) == "a1")
            #expect(try await store.messageID(forProviderID: "p1", tenant: globex) == "g1")
            #expect(try await store.messageID(forProviderID: "p404", tenant: acme) == nil)

            #expect(try await store.applyStatus(try providerStatus(.read, "p1", tenant: "acme", at: 3)) == .advanced)
            #expect(try await stored("a1", in: store).state == .read)
            let other = try await stored("g1", tenant: "globex", in: store)
            #expect(other.state == .sent)
            #expect(other.history.map(\.state) == [.queued, .sent])

            // A pending status waits for its own tenant's record only.
            #expect(try await store.applyStatus(try providerStatus(.delivered, "p2", tenant: "globex", at: 2))
                == .pending)
            try await sentMessage("a2", providerID: "p2", tenant: "acme", in: store)
            #expect(try await stored("a2", in: store).state == .sent)
            try await sentMessage("g2", providerID: "p2", tenant: "globex", in: store)
            #expect(try await stored("g2", tenant: "globex", in: store).state == .delivered)
            #expect(try await stored("a2", in: store).state == .sent)
        }
    }

    /// `.pending` promises the status is "applied when the dispatcher records the id".
    /// The dispatcher writes `recordSent` and publishes its own `sent` event at the same
    /// time (DeliveryProcessor), so the logger may apply that event, which carries both
    /// ids, before `recordSent` commits.
    @Test(arguments: StoreBackend.underTest) func aPendingStatusSurvivesTheDispatchersSentEventOvertakingItsRecord(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let acme = try TenantID("acme")
            #expect(try await store.claim(try claim("m1"), staleAfter: .seconds(60)) == .claimed)
            await store.markQueued("m1", of: acme, at: now)
            // 1. The provider's webhook: no message has p1 yet.
            #expect(try await store.applyStatus(try providerStatus(.delivered, "p1", at: 2)) == .pending)
            // 2. The dispatcher's `sent` event, joined by our id, sets the provider's id.
            #expect(try await store.applyStatus(StatusReport(tenant: acme, messageID: "m1", providerMessageID: "p1",
                                                             state: .sent, at: now.addingTimeInterval(1),
                                                             detail: "p1")) == .advanced)
            // 3. The dispatcher's record lands last.
            try await store.recordSent(try envelope("m1"), session: try SessionID("acme-main"),
                                       providerMessageID: "p1", at: now.addingTimeInterval(1))
            let state = try await stored("m1", in: store).state
            let leftPending = try await store.forgetExpired(before: .distantPast, pendingStatusesBefore: .distantFuture)
            #expect(state == .delivered)
            #expect(leftPending == 0)
        }
    }

    // MARK: Inbound messages and conversations

    @Test(arguments: StoreBackend.underTest) func anInboundMessageIsRecordedOnce(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let event = try received("evt_1", text: "hi", at: 5)
            #expect(try await store.recordInbound(event))
            #expect(try await !store.recordInbound(event))
            // The same event id under another tenant is another message.
            #expect(try await store.recordInbound(try received("evt_1", tenant: "globex", text: "hi", at: 5)))
            let messages = try await store.contactMessages(try PhoneNumber(contact), of: try TenantID("acme"),
                                                           before: nil, limit: 10)
            #expect(messages == [
                ContactMessage(direction: .inbound, id: "evt_1", session: try SessionID("acme-main"),
                               providerMessageID: "w-evt_1", type: "text", text: "hi", state: nil,
                               at: now.addingTimeInterval(5)),
            ])
        }
    }

    @Test(arguments: StoreBackend.underTest) func aConversationHoldsBothWaysNewestFirstAndPages(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let acme = try TenantID("acme")
            let number = try PhoneNumber(contact)
            // Outbound: claimed and queued at 10, recorded queued (no claim) at 30, sent at 50.
            #expect(try await store.claim(try claim("m10", text: "your code is 1234", at: now.addingTimeInterval(10)),
                                          staleAfter: .seconds(60)) == .claimed)
            await store.markQueued("m10", of: acme, at: now.addingTimeInterval(10))
            await store.recordQueued(try claim("m30", text: "order shipped", at: now.addingTimeInterval(30)),
                                     at: now.addingTimeInterval(30))
            #expect(try await store.claim(try claim("m50", text: "thanks!", at: now.addingTimeInterval(50)),
                                          staleAfter: .seconds(60)) == .claimed)
            await store.markQueued("m50", of: acme, at: now.addingTimeInterval(50))
            try await store.recordSent(try envelope("m50"), session: try SessionID("acme-main"), providerMessageID: "p50",
                                       at: now.addingTimeInterval(51))
            // Inbound at 20 and 40.
            #expect(try await store.recordInbound(try received("evt_20", text: "hello?", at: 20)))
            #expect(try await store.recordInbound(try received("evt_40", text: "where is it", at: 40)))
            // Noise: another number, another tenant.
            #expect(try await store.claim(try claim("x1", to: "+14155550777", text: "other", at: now.addingTimeInterval(25)),
                                          staleAfter: .seconds(60)) == .claimed)
            #expect(try await store.recordInbound(try received("evt_x", from: "+14155550777", text: "not me", at: 35)))
            #expect(try await store.claim(try claim("g1", tenant: "globex", text: "globex", at: now.addingTimeInterval(45)),
                                          staleAfter: .seconds(60)) == .claimed)
            #expect(try await store.recordInbound(try received("evt_g", tenant: "globex", text: "globex in", at: 46)))

            let all = try await store.contactMessages(number, of: acme, before: nil, limit: 100)
            #expect(all.map(\.id) == ["m50", "evt_40", "m30", "evt_20", "m10"])
            #expect(all.map(\.direction) == [.outbound, .inbound, .outbound, .inbound, .outbound])
            #expect(all.map(\.at) == [50, 40, 30, 20, 10].map { now.addingTimeInterval($0) })
            #expect(all.map(\.text) == ["thanks!", "where is it", "order shipped", "hello?", "your code is 1234"])
            #expect(all.map(\.state) == [.sent, nil, .queued, nil, .queued])
            #expect(all[0].providerMessageID == "p50")
            #expect(all[0].type == "text")
            #expect(all.allSatisfy { $0.session == (try? SessionID("acme-main")) })

            // Pages of two, each before the last one's instant.
            let first = try await store.contactMessages(number, of: acme, before: nil, limit: 2)
            #expect(first.map(\.id) == ["m50", "evt_40"])
            let second = try await store.contactMessages(number, of: acme, before: try #require(first.last).at, limit: 2)
            #expect(second.map(\.id) == ["m30", "evt_20"])
            let third = try await store.contactMessages(number, of: acme, before: try #require(second.last).at, limit: 2)
            #expect(third.map(\.id) == ["m10"])
            let none = try await store.contactMessages(number, of: acme, before: try #require(third.last).at, limit: 2)
            #expect(none.isEmpty)

            // The other tenant sees its own only.
            let theirs = try await store.contactMessages(number, of: try TenantID("globex"), before: nil, limit: 100)
            #expect(theirs.map(\.id) == ["evt_g", "g1"])
        }
    }

    // MARK: Event dedupe

    @Test(arguments: StoreBackend.underTest) func seenEventsAreRememberedUntilTheyExpire(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            #expect(try await store.seenEvents(among: []).isEmpty)
            #expect(try await store.seenEvents(among: ["evt_a", "evt_b"]).isEmpty)
            try await store.markEventsSeen(["evt_a", "evt_b"], until: Date().addingTimeInterval(3600))
            #expect(try await store.seenEvents(among: ["evt_a", "evt_b", "evt_c"]) == ["evt_a", "evt_b"])
            // Already expired: not seen.
            try await store.markEventsSeen(["evt_c"], until: Date().addingTimeInterval(-1))
            #expect(try await store.seenEvents(among: ["evt_a", "evt_c"]) == ["evt_a"])
            // Marking again extends (or shortens) the memory.
            try await store.markEventsSeen(["evt_c"], until: Date().addingTimeInterval(3600))
            try await store.markEventsSeen(["evt_b"], until: Date().addingTimeInterval(-1))
            #expect(try await store.seenEvents(among: ["evt_a", "evt_b", "evt_c"]) == ["evt_a", "evt_c"])
        }
    }

    @Test(arguments: StoreBackend.underTest) func forgettingRemovesExpiredEntriesAndOldPendingStatuses(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let clock = Date()
            try await store.markEventsSeen(["evt_old1", "evt_old2"], until: clock.addingTimeInterval(-60))
            try await store.markEventsSeen(["evt_new"], until: clock.addingTimeInterval(3600))
            #expect(try await store.applyStatus(try providerStatus(.delivered, "p7", at: 2)) == .pending)
            #expect(try await store.applyStatus(try providerStatus(.read, "p7", at: 3)) == .pending)

            // Pending statuses younger than their cutoff stay.
            #expect(try await store.forgetExpired(before: clock, pendingStatusesBefore: clock.addingTimeInterval(-3600))
                == 2)
            #expect(try await store.seenEvents(among: ["evt_old1", "evt_old2", "evt_new"]) == ["evt_new"])
            // Nothing left to forget at the same cutoffs.
            #expect(try await store.forgetExpired(before: clock, pendingStatusesBefore: clock.addingTimeInterval(-3600))
                == 0)
            // Now they are old enough.
            #expect(try await store.forgetExpired(before: clock, pendingStatusesBefore: Date().addingTimeInterval(60))
                == 2)
            #expect(try await store.seenEvents(among: ["evt_new"]) == ["evt_new"])
            // Forgotten: the dispatcher's record finds nothing to apply.
            try await sentMessage("m1", providerID: "p7", in: store)
            let message = try await stored("m1", in: store)
            #expect(message.state == .sent)
            #expect(message.history.map(\.state) == [.queued, .sent])
        }
    }
}
