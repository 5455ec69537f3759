public import Foundation
public import SwitchboardCore

/// A publication a consumer owes for an event it handled (an `inbox.alert`, a bot's
/// reply, a control event), committed with the event's effects and cleared once the
/// broker confirmed it: a crash in between publishes it on the redelivery, never loses it.
public struct OutboxItem: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable {
        /// A normalized event for `sb.events`.
        case event
        /// An outbound envelope for `sb.outbound`.
        case outbound
        /// A control event for `sb.control`.
        case control
    }

    public var kind: Kind
    public var body: Data

    public init(kind: Kind, body: Data) {
        self.kind = kind
        self.body = body
    }
}

/// The built-in consumers' memory of the events they handled (each consumer its own),
/// so a redelivered event changes nothing the second time.
public protocol EventReceiptStore: Sendable {
    /// nil when `consumer` never handled the event; else what it still owes to publish.
    func pendingPublications(consumer: String, tenant: TenantID, eventID: String) async throws(StoreError)
        -> [OutboxItem]?
    /// The owed publications are confirmed by the broker.
    func clearPending(consumer: String, tenant: TenantID, eventID: String) async throws(StoreError)
    /// Forgets receipts older than `date`; returns how many.
    func forgetReceipts(before date: Date) async throws(StoreError) -> Int
}

/// Opt-out and bulk pauses per tenant and contact: the dispatcher reads them before it
/// sends a bulk message; the bot, the inbox and the API change them.
public protocol ContactStore: Sendable {
    /// The contact's policy (the default, allowing everything, for a contact never seen).
    func contactPolicy(_ contact: PhoneNumber, of tenant: TenantID) async throws(StoreError) -> ContactPolicy
    /// Every contact whose policy restricts bulk at `date`, by tenant and number.
    func restrictedContacts(at date: Date) async throws(StoreError) -> [TenantID: [String: ContactPolicy]]
    /// Sets what is given (nil leaves a field as it is; `pausedUntil: .some(nil)` lifts a
    /// pause) and returns the policy after the change.
    func updateContact(_ contact: PhoneNumber, of tenant: TenantID, optedOut: Bool?, pausedUntil: Date??, at: Date)
        async throws(StoreError) -> ContactPolicy
}

/// What recording a contact's message did to its conversation.
public struct InboxUpdate: Sendable, Hashable {
    public var conversation: Conversation
    /// The conversation was not open before (new, waiting or resolved): a reply.
    public var reopened: Bool
    public var pausedUntil: Date?

    public init(conversation: Conversation, reopened: Bool, pausedUntil: Date?) {
        self.conversation = conversation
        self.reopened = reopened
        self.pausedUntil = pausedUntil
    }
}

/// The shared inbox: one conversation per tenant and contact.
public protocol InboxStore: Sendable {
    /// Records a contact's message once (as `consumer`'s receipt for the event): logs it,
    /// opens or updates the conversation, pauses the contact's bulk until `pauseUntil`,
    /// and keeps what `owed` returns for the update as the event's pending publications.
    /// Returns nil for an event handled before.
    func recordContactMessage(_ event: NormalizedEvent, contact: PhoneNumber, pauseUntil: Date?, consumer: String,
                              owed: @escaping @Sendable (InboxUpdate) -> [OutboxItem]) async throws(StoreError)
        -> (update: InboxUpdate, owed: [OutboxItem])?
    /// The tenant's conversations, most recent first, last message before `before`.
    func conversations(of tenant: TenantID, state: ConversationState?, assignee: String?, before: Date?, limit: Int)
        async throws(StoreError) -> [Conversation]
    func conversation(with contact: PhoneNumber, of tenant: TenantID) async throws(StoreError) -> Conversation?
    /// An agent's reply went out: the conversation waits for the contact, nothing unread.
    func recordAgentReply(to contact: PhoneNumber, of tenant: TenantID, text: String?, type: String, at: Date)
        async throws(StoreError) -> Conversation
    /// Assigns the conversation (nil unassigns).
    func assign(_ contact: PhoneNumber, of tenant: TenantID, to assignee: String?, at: Date) async throws(StoreError)
        -> Conversation
    /// An agent read it: nothing unread.
    func markRead(_ contact: PhoneNumber, of tenant: TenantID, at: Date) async throws(StoreError) -> Conversation
    /// Resolved: nothing unread, and the contact's bulk pause is lifted.
    func resolve(_ contact: PhoneNumber, of tenant: TenantID, at: Date) async throws(StoreError) -> Conversation
}

/// What the bot decided for one event, with what it owes to publish.
public struct BotOutcome: Sendable, Hashable {
    public var decision: BotDecision
    public var owed: [OutboxItem]

    public init(decision: BotDecision, owed: [OutboxItem]) {
        self.decision = decision
        self.owed = owed
    }
}

/// A contact's message waiting to be POSTed to its tenant's bot URL.
public struct BotForward: Sendable, Hashable {
    public var tenant: TenantID
    public var eventID: String
    /// The normalized event, as sent.
    public var payload: Data
    /// POSTs tried so far.
    public var attempts: Int

    public init(tenant: TenantID, eventID: String, payload: Data, attempts: Int) {
        self.tenant = tenant
        self.eventID = eventID
        self.payload = payload
        self.attempts = attempts
    }
}

/// The bot's rules and memory per tenant: settings (sealed: they hold the forward
/// secret), keyword rules, the replies sent per contact, and the forwards to make.
public protocol BotStore: Sendable {
    /// The tenant's settings (the defaults until it sets its own).
    func botSettings(of tenant: TenantID) async throws(StoreError) -> BotSettings
    func setBotSettings(_ settings: BotSettings, of tenant: TenantID) async throws(StoreError)
    func botRules(of tenant: TenantID) async throws(StoreError) -> [BotRule]
    /// Adds the rule, or replaces the one with its id.
    func putBotRule(_ rule: BotRule, of tenant: TenantID) async throws(StoreError)
    func deleteBotRule(_ id: String, of tenant: TenantID) async throws(StoreError)

    /// Once per event (as `consumer`'s receipt): reads the contact's state, runs
    /// `decide`, applies its opt-out change, counts its reply, queues its forward, and
    /// keeps its publications as pending. nil for an event handled before.
    func applyBotDecision(eventID: String, tenant: TenantID, contact: PhoneNumber, at: Date, consumer: String,
                          replyWindow: TimeInterval, forwardPayload: Data,
                          decide: @escaping @Sendable (BotContactState) -> BotOutcome) async throws(StoreError) -> BotOutcome?
    /// Counts a reply the tenant's bot gave (it falls under the same limit); false when
    /// the limit is reached and the reply must not be sent.
    func admitForwardReply(tenant: TenantID, contact: PhoneNumber, limit: Int, window: TimeInterval, at: Date)
        async throws(StoreError) -> Bool

    /// Up to `limit` forwards due at `date`, leased for `lease` so no other worker takes
    /// them meanwhile; at most `perTenant` in flight per tenant (counting `busy`).
    func claimForwards(at date: Date, limit: Int, lease: Duration, skipping busy: [TenantID: Int], perTenant: Int)
        async throws(StoreError) -> [BotForward]
    /// The forward is done (answered, or given up).
    func finishForward(tenant: TenantID, eventID: String) async throws(StoreError)
    /// Try again at `date`.
    func postponeForward(tenant: TenantID, eventID: String, until date: Date) async throws(StoreError)
}
