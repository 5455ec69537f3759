import Foundation
import SwitchboardCore
import SwitchboardProviders
import SwitchboardStore
import Synchronization
import Testing

@Suite("Contacts, conversations and the bot's memory on SQLite and on PostgreSQL")
struct ConversationStoreTests {
    private let now = Date(timeIntervalSince1970: 1_795_000_000)
    private let ann = "+14155550301"

    private func received(_ id: String, tenant: String = "acme", from: String? = nil, text: String = "hi",
                          at seconds: Double = 0) throws -> NormalizedEvent {
        NormalizedEvent(id: id, type: .messageReceived, tenant: try TenantID(tenant),
                        session: try SessionID("\(tenant)-main"), provider: .simulator,
                        occurredAt: now.addingTimeInterval(seconds), receivedAt: now.addingTimeInterval(seconds),
                        message: .init(providerID: "p-\(id)", from: from ?? ann, to: "+14155550100", type: "text",
                                       text: text, contactName: "Ann"))
    }

    private func record(_ event: NormalizedEvent, pauseUntil: Date? = nil, in store: any GatewayStore) async throws
        -> InboxUpdate?
    {
        try await store.recordContactMessage(event, contact: try PhoneNumber(event.message?.from ?? ann),
                                             pauseUntil: pauseUntil, consumer: "inbox",
                                             owed: { _ in [OutboxItem(kind: .event, body: Data("alert".utf8))] })?.update
    }

    @Test(arguments: StoreBackend.underTest) func aContactMessageOpensTheConversationOncePausesBulkAndOwesItsAlert(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let acme = try TenantID("acme")
            let contact = try PhoneNumber(ann)
            let until = now.addingTimeInterval(3600)
            let first = try #require(try await record(try received("e1"), pauseUntil: until, in: store))
            #expect(first.reopened)
            #expect(first.conversation.state == .open)
            #expect(first.conversation.unread == 1)
            #expect(first.conversation.contactName == "Ann")
            #expect(first.conversation.lastMessagePreview == "hi")
            #expect(first.pausedUntil == until)
            // The same event again changes nothing; what it owed is still owed until cleared.
            #expect(try await record(try received("e1"), pauseUntil: until, in: store) == nil)
            #expect(try await store.pendingPublications(consumer: "inbox", tenant: acme, eventID: "e1")?.count == 1)
            try await store.clearPending(consumer: "inbox", tenant: acme, eventID: "e1")
            #expect(try await store.pendingPublications(consumer: "inbox", tenant: acme, eventID: "e1") == [])
            #expect(try await store.pendingPublications(consumer: "bot", tenant: acme, eventID: "e1") == nil)
            // The message is in the contact's thread even before the logger saw it.
            #expect(try await store.contactMessages(contact, of: acme, before: nil, limit: 10).map(\.text) == ["hi"])

            let second = try #require(try await record(try received("e2", text: "", at: 5), in: store))
            #expect(!second.reopened)
            #expect(second.conversation.unread == 2)
            #expect(second.conversation.lastMessagePreview == "[text]")
            // An older message arriving late does not become the last one.
            let late = try #require(try await record(try received("e0", text: "early", at: -60), in: store))
            #expect(late.conversation.lastMessagePreview == "[text]")
            #expect(late.conversation.unread == 3)

            let policy = try await store.contactPolicy(contact, of: acme)
            #expect(policy.suppression(at: now) == .paused)
            #expect(try await store.restrictedContacts(at: now)[acme]?[ann] != nil)
        }
    }

    @Test(arguments: StoreBackend.underTest) func agentsReplyAssignReadAndResolveWhichLiftsThePause(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let acme = try TenantID("acme")
            let contact = try PhoneNumber(ann)
            _ = try await record(try received("e1"), pauseUntil: now.addingTimeInterval(3600), in: store)
            let replied = try await store.recordAgentReply(to: contact, of: acme, text: "On it", type: "text",
                                                           at: now.addingTimeInterval(10))
            #expect(replied.state == .waiting && replied.unread == 0 && replied.lastMessageDirection == .outbound)
            #expect(try await store.assign(contact, of: acme, to: "ana", at: now).assignee == "ana")
            #expect(try await store.conversations(of: acme, state: nil, assignee: "ana", before: nil, limit: 10).count == 1)
            #expect(try await store.conversations(of: acme, state: .open, assignee: nil, before: nil, limit: 10).isEmpty)
            // The contact answers: open again.
            let reopened = try #require(try await record(try received("e2", at: 20), in: store))
            #expect(reopened.reopened && reopened.conversation.state == .open && reopened.conversation.assignee == "ana")
            #expect(try await store.markRead(contact, of: acme, at: now).unread == 0)
            let resolved = try await store.resolve(contact, of: acme, at: now)
            #expect(resolved.state == .resolved)
            #expect(try await store.contactPolicy(contact, of: acme).suppression(at: now) == nil)
            // Nothing of it is another tenant's.
            let globex = try TenantID("globex")
            #expect(try await store.conversations(of: globex, state: nil, assignee: nil, before: nil, limit: 10).isEmpty)
            await #expect(throws: StoreError.notFound("conversation with \(ann)")) {
                try await store.resolve(contact, of: globex, at: now)
            }
        }
    }

    @Test(arguments: StoreBackend.underTest) func conversationsArePagedNewestFirst(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let acme = try TenantID("acme")
            for index in 0..<5 {
                _ = try await record(try received("e\(index)", from: "+1415555040\(index)", at: Double(index)), in: store)
            }
            let first = try await store.conversations(of: acme, state: .open, assignee: nil, before: nil, limit: 2)
            #expect(first.map(\.contact.e164) == ["+14155550404", "+14155550403"])
            let next = try await store.conversations(of: acme, state: .open, assignee: nil,
                                                     before: first.last?.lastMessageAt, limit: 2)
            #expect(next.map(\.contact.e164) == ["+14155550402", "+14155550401"])
        }
    }

    @Test(arguments: StoreBackend.underTest) func operatorsOptContactsOutAndInAndPausesExpire(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let acme = try TenantID("acme")
            let contact = try PhoneNumber(ann)
            let out = try await store.updateContact(contact, of: acme, optedOut: true, pausedUntil: nil, at: now)
            #expect(out.optedOut && out.optedOutAt == now)
            let paused = try await store.updateContact(contact, of: acme, optedOut: false,
                                                       pausedUntil: .some(now.addingTimeInterval(60)), at: now)
            #expect(!paused.optedOut && paused.optedOutAt == nil)
            #expect(try await store.restrictedContacts(at: now)[acme]?[ann]?.pausedUntil != nil)
            #expect(try await store.restrictedContacts(at: now.addingTimeInterval(61))[acme] == nil)
            let lifted = try await store.updateContact(contact, of: acme, optedOut: nil, pausedUntil: .some(nil), at: now)
            #expect(lifted.pausedUntil == nil)
            #expect(try await store.contactPolicy(contact, of: try TenantID("globex")) == ContactPolicy())
            await #expect(throws: StoreError.notFound("tenant nobody")) {
                try await store.updateContact(contact, of: try TenantID("nobody"), optedOut: true, pausedUntil: nil,
                                              at: now)
            }
        }
    }

    @Test(arguments: StoreBackend.underTest) func botSettingsAreSealedPerTenantAndRulesKeepTheirOrder(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let acme = try TenantID("acme")
            #expect(try await store.botSettings(of: acme) == BotSettings())
            let settings = BotSettings(forwardURL: "https://bot.example/in", forwardSecret: "0123456789abcdef-secret",
                                       replyLimit: 2)
            try await store.setBotSettings(settings, of: acme)
            #expect(try await store.botSettings(of: acme) == settings)
            #expect(try await store.botSettings(of: try TenantID("globex")) == BotSettings())
            await #expect(throws: StoreError.self) {
                try await store.setBotSettings(BotSettings(replyLimit: 0), of: acme)
            }
            try await store.putBotRule(BotRule(id: "help", keywords: ["HELP"], reply: "Call us", createdAt: now), of: acme)
            try await store.putBotRule(BotRule(id: "hours", keywords: ["HOURS"], reply: "9-5",
                                               createdAt: now.addingTimeInterval(1)), of: acme)
            try await store.putBotRule(BotRule(id: "help", keywords: ["HELP", "INFO"], reply: "Call us now", createdAt: now),
                                       of: acme)
            #expect(try await store.botRules(of: acme).map(\.id) == ["help", "hours"])
            #expect(try await store.botRules(of: acme).first?.reply == "Call us now")
            #expect(try await store.botRules(of: try TenantID("globex")).isEmpty)
            try await store.deleteBotRule("hours", of: acme)
            await #expect(throws: StoreError.notFound("bot rule hours")) { try await store.deleteBotRule("hours", of: acme) }
        }
    }

    @Test(arguments: StoreBackend.underTest) func aBotDecisionIsAppliedOnceCountsItsReplyAndQueuesItsForward(backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let acme = try TenantID("acme")
            let contact = try PhoneNumber(ann)
            let stop = BotDecision(contactChange: .optOut, reply: .init(text: "bye", reason: "opt-out"), forward: false,
                                   limited: false)
            let seen = Mutex<[BotContactState]>([])
            func apply(_ id: String, _ decision: BotDecision) async throws -> BotOutcome? {
                try await store.applyBotDecision(
                    eventID: id, tenant: acme, contact: contact, at: now, consumer: "bot", replyWindow: 3600,
                    forwardPayload: Data("{}".utf8),
                    decide: { state in
                        seen.withLock { $0.append(state) }
                        return BotOutcome(decision: decision, owed: [OutboxItem(kind: .outbound, body: Data("r".utf8))])
                    })
            }
            #expect(try await apply("e1", stop)?.decision == stop)
            #expect(try await apply("e1", stop) == nil, "a replay decides nothing")
            #expect(try await store.contactPolicy(contact, of: acme).optedOut)
            let forward = BotDecision(contactChange: nil, reply: nil, forward: true, limited: false)
            _ = try await apply("e2", forward)
            #expect(seen.withLock { $0.map(\.repliesInWindow) } == [0, 1])
            #expect(seen.withLock { $0.last?.policy.optedOut } == true)

            let claimed = try await store.claimForwards(at: now, limit: 10, lease: .seconds(60), skipping: [:], perTenant: 2)
            #expect(claimed.map(\.eventID) == ["e2"] && claimed.first?.attempts == 1)
            // Leased: not handed out twice.
            #expect(try await store.claimForwards(at: now, limit: 10, lease: .seconds(60), skipping: [:], perTenant: 2).isEmpty)
            try await store.postponeForward(tenant: acme, eventID: "e2", until: now.addingTimeInterval(5))
            #expect(try await store.claimForwards(at: now, limit: 10, lease: .seconds(60), skipping: [:], perTenant: 2).isEmpty)
            // A tenant at its cap gets nothing more.
            #expect(try await store.claimForwards(at: now.addingTimeInterval(6), limit: 10, lease: .seconds(60),
                                                  skipping: [acme: 2], perTenant: 2).isEmpty)
            let again = try await store.claimForwards(at: now.addingTimeInterval(6), limit: 10, lease: .seconds(60),
                                                      skipping: [:], perTenant: 2)
            #expect(again.first?.attempts == 2)
            try await store.finishForward(tenant: acme, eventID: "e2")
            #expect(try await store.claimForwards(at: now.addingTimeInterval(600), limit: 10, lease: .seconds(60),
                                                  skipping: [:], perTenant: 2).isEmpty)

            // The forward's reply falls under the same limit (1 reply so far, limit 2).
            #expect(try await store.admitForwardReply(tenant: acme, contact: contact, limit: 2, window: 3600, at: now))
            #expect(try await !store.admitForwardReply(tenant: acme, contact: contact, limit: 2, window: 3600, at: now))
            #expect(try await store.admitForwardReply(tenant: acme, contact: contact, limit: 2, window: 3600,
                                                      at: now.addingTimeInterval(3601)))
        }
    }
}
