public import Foundation
public import SwitchboardCore

/// A status of an outbound message as a `message.status` event reports it, from the
/// dispatcher (our id) or a provider's webhook (the provider's id, ours if the
/// normalizer could join it).
public struct StatusReport: Sendable, Hashable {
    public var tenant: TenantID
    public var messageID: String?
    public var providerMessageID: String?
    public var state: MessageState
    public var at: Date
    public var detail: String?

    public init(tenant: TenantID, messageID: String?, providerMessageID: String?, state: MessageState, at: Date,
                detail: String? = nil) {
        self.tenant = tenant
        self.messageID = messageID
        self.providerMessageID = providerMessageID
        self.state = state
        self.at = at
        self.detail = detail
    }
}

/// What applying a status report did.
public enum StatusReportOutcome: Sendable, Hashable {
    /// The message moved on to the reported state.
    case advanced
    /// Added to the history only: the message is already further on.
    case recorded
    /// No message has the provider's id yet (the provider's webhook overtook the
    /// dispatcher's record): kept, and applied when the dispatcher records the id.
    case pending
    /// The history (or the statuses kept for a message not known yet) already has this
    /// state: nothing changed (a replay, or our own `sent` that the provider repeats).
    case duplicate
    /// Neither id names a message of the tenant.
    case unknown

    /// Whether the report told the log something new (so an event saying it is owed).
    public var isNew: Bool {
        switch self {
        case .advanced, .recorded, .pending: true
        case .duplicate, .unknown: false
        }
    }
}

/// What applying one status report did, and to which of our messages.
public struct AppliedStatus: Sendable, Hashable {
    public var outcome: StatusReportOutcome
    /// Our id of the message the report joined; nil while it waits for its message.
    public var messageID: String?

    public init(outcome: StatusReportOutcome, messageID: String?) {
        self.outcome = outcome
        self.messageID = messageID
    }
}

/// One message in a conversation with a contact, either way.
public struct ContactMessage: Sendable, Hashable {
    public typealias Direction = ContactMessageDirection

    public var direction: Direction
    /// Our message id (outbound) or the event id (inbound).
    public var id: String
    public var session: SessionID?
    public var providerMessageID: String?
    public var type: String?
    public var text: String?
    /// Outbound only: where the message is.
    public var state: MessageState?
    /// When it was accepted (outbound) or written (inbound).
    public var at: Date

    public init(direction: Direction, id: String, session: SessionID?, providerMessageID: String?, type: String?,
                text: String?, state: MessageState?, at: Date) {
        self.direction = direction
        self.id = id
        self.session = session
        self.providerMessageID = providerMessageID
        self.type = type
        self.text = text
        self.state = state
        self.at = at
    }
}

/// The message log: statuses of outbound messages joined by our id or the provider's
/// (written by whoever learns them: the dispatcher its own, the normalizer the
/// provider's), and every inbound message (the `logger` service), per tenant.
public protocol MessageLogStore: Sendable {
    /// Our id of the tenant's message the provider knows as `providerMessageID`.
    func messageID(forProviderID providerMessageID: String, tenant: TenantID) async throws(StoreError) -> String?
    /// Applies each report in turn, in one transaction: adds the status to its message's
    /// history (once per state) and moves the message on if the status is further along;
    /// a provider status for a message not known by the provider's id yet is kept until
    /// the dispatcher records that id. Idempotent: a report applied before is `duplicate`.
    func applyStatuses(_ reports: [StatusReport]) async throws(StoreError) -> [AppliedStatus]
    /// Records a `message.received` event; a replay of the same event changes nothing.
    /// Returns false for a replay.
    @discardableResult
    func recordInbound(_ event: NormalizedEvent) async throws(StoreError) -> Bool
    /// The tenant's messages to and from `contact`, newest first, written before
    /// `before` (a page's last `at`), at most `limit`.
    func contactMessages(_ contact: PhoneNumber, of tenant: TenantID, before: Date?, limit: Int)
        async throws(StoreError) -> [ContactMessage]
}

/// The normalizer's memory of the events it has published, so a replayed webhook
/// yields no second event. Entries expire (providers retry for days, not forever).
public protocol EventDedupeStore: Sendable {
    /// Which of `ids` were published before and have not expired.
    func seenEvents(among ids: [String]) async throws(StoreError) -> Set<String>
    /// Remembers `ids` as published until `until`.
    func markEventsSeen(_ ids: [String], until: Date) async throws(StoreError)
    /// Forgets entries expired before `date`, and provider statuses received before
    /// `pendingStatusesBefore` that never found their message; returns how many rows went.
    func forgetExpired(before date: Date, pendingStatusesBefore: Date) async throws(StoreError) -> Int
}

extension MessageLogStore {
    /// Applies one status report (see `applyStatuses`).
    public func applyStatus(_ report: StatusReport) async throws(StoreError) -> StatusReportOutcome {
        try await applyStatuses([report]).first?.outcome ?? .unknown
    }
}

extension StatusReport {
    /// The report a `message.status` event makes; nil for any other event. The detail
    /// is the error (code and text) of a failure, else the provider's id.
    public init?(_ event: NormalizedEvent) {
        guard event.type == .messageStatus, let status = event.status else { return nil }
        let detail = [status.errorCode, status.errorDetail].compactMap { $0 }.joined(separator: ": ")
        self.init(tenant: event.tenant, messageID: status.messageID, providerMessageID: status.providerMessageID,
                  state: status.status, at: event.occurredAt, detail: detail.isEmpty ? status.providerMessageID : detail)
    }
}
