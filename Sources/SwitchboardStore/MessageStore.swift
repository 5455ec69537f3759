public import Foundation
public import SwitchboardCore

/// A message the API is about to publish, claiming its idempotency key: the row that
/// lets a retried request get the first answer and `GET /v1/messages/{id}` answer.
public struct MessageClaim: Sendable, Hashable {
    public var tenant: TenantID
    public var id: String
    /// The `Idempotency-Key` header, or the envelope's `id`; unique per tenant.
    public var idempotencyKey: String
    /// SHA-256 of the request as the publisher sent it (canonical JSON), to tell a
    /// retry from a different request under a reused key.
    public var requestHash: Data
    public var session: SessionID
    public var messageClass: MessageClass
    public var to: PhoneNumber
    public var type: MessageType
    public var campaign: String?
    /// The text, or a media item's caption, for the message log.
    public var text: String?
    public var expiresAt: Date?
    public var createdAt: Date

    public init(tenant: TenantID, id: String, idempotencyKey: String, requestHash: Data, session: SessionID,
                messageClass: MessageClass, to: PhoneNumber, type: MessageType, campaign: String?, text: String? = nil,
                expiresAt: Date?, createdAt: Date) {
        self.tenant = tenant
        self.id = id
        self.idempotencyKey = idempotencyKey
        self.requestHash = requestHash
        self.session = session
        self.messageClass = messageClass
        self.to = to
        self.type = type
        self.campaign = campaign
        self.text = text
        self.expiresAt = expiresAt
        self.createdAt = createdAt
    }
}

/// What claiming an idempotency key found.
public enum ClaimOutcome: Sendable, Hashable {
    /// The key was free and is now held: publish, then `markQueued` (or release).
    case claimed
    /// The same request came before and its publish is unconfirmed or was abandoned:
    /// publish again under the stored id (the dispatcher deduplicates by id).
    case resumed(StoredMessage)
    /// The same request was accepted before: answer as the first time.
    case accepted(StoredMessage)
    /// The same request is being published by another call right now.
    case inProgress(StoredMessage)
    /// The key was used before for a different request.
    case keyReused(StoredMessage)
    /// The message id belongs to another message (under another idempotency key).
    case idTaken
}

/// One step in a message's history.
public struct MessageStatusEntry: Sendable, Hashable, Codable {
    public var state: MessageState
    public var at: Date
    public var detail: String?

    public init(state: MessageState, at: Date, detail: String? = nil) {
        self.state = state
        self.at = at
        self.detail = detail
    }
}

/// What the store knows of an outbound message.
public struct StoredMessage: Sendable, Hashable {
    public var tenant: TenantID
    public var id: String
    public var idempotencyKey: String
    public var requestHash: Data
    public var session: SessionID
    public var messageClass: MessageClass
    public var to: PhoneNumber
    public var type: MessageType
    public var campaign: String?
    public var text: String?
    public var state: MessageState
    /// The provider's id once sent.
    public var providerMessageID: String?
    /// Why it failed, when it did.
    public var error: String?
    public var expiresAt: Date?
    public var createdAt: Date
    public var updatedAt: Date
    /// Oldest first; empty until the broker confirmed it.
    public var history: [MessageStatusEntry]
}

/// Outbound messages and their idempotency keys.
public protocol MessageStore: Sendable {
    /// Claims `claim.idempotencyKey` for `claim.tenant`, or reports what holds it. A
    /// claim left `accepting` for longer than `staleAfter` (its API instance died
    /// mid-publish) may be resumed by the same request.
    func claim(_ claim: MessageClaim, staleAfter: Duration) async throws(StoreError) -> ClaimOutcome
    /// The broker confirmed the message: it is `queued`. Under load the write may be
    /// batched behind others and commit just after this returns (meanwhile a retry of
    /// the request sees it in progress); a failure is logged, as the broker has the
    /// message either way.
    func markQueued(_ id: String, of tenant: TenantID, at: Date) async
    /// Records a message that no other request can claim (its id was made by the caller
    /// and it has no idempotency key) once the broker confirmed it: one insert, `queued`,
    /// batched like `markQueued` and logged if it fails.
    func recordQueued(_ message: MessageClaim, at: Date) async
    /// The publish's outcome is unknown; a retry of the same request may publish again.
    func markUnconfirmed(_ id: String, of tenant: TenantID) async throws(StoreError)
    /// The publish certainly failed (refused, broker unreachable): frees the key so a
    /// retry starts afresh.
    func releaseClaim(_ id: String, of tenant: TenantID) async throws(StoreError)
    /// The provider's id when a provider already accepted the message (sent or later):
    /// a redelivered message with one is not sent again.
    func providerAcceptance(of id: String, tenant: TenantID) async throws(StoreError) -> String?
    /// The provider accepted the message: `sent`, with the provider's id. Creates the
    /// record of a message that came straight over AMQP. Never moves a message back.
    func recordSent(_ envelope: OutboundEnvelope, session: SessionID, providerMessageID: String, at: Date)
        async throws(StoreError)
    /// The message will not be sent: `failed`, `expired` or `suppressed`, and why.
    func recordUnsent(_ envelope: OutboundEnvelope, session: SessionID?, state: MessageState, code: String,
                      detail: String, at: Date) async throws(StoreError)
    /// The message with its history, or nil when the tenant has none with this id.
    func message(_ id: String, of tenant: TenantID) async throws(StoreError) -> StoredMessage?
}
