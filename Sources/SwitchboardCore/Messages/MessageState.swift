/// Where an outbound message is in its life, as far as the gateway knows. The API
/// records `queued`; the dispatcher and the provider's status webhooks move it on.
public enum MessageState: String, Sendable, Hashable, Codable, CaseIterable {
    /// Accepted by the API, the broker's confirm not yet in.
    case accepting
    /// The publish may or may not have reached the broker (the connection dropped
    /// before its confirm); a retry with the same idempotency key publishes it again
    /// under the same id, which the dispatcher deduplicates.
    case unconfirmed
    /// In the tenant's queue (the broker confirmed it).
    case queued
    case sent, delivered, read, played
    /// The provider refused it, or every retry failed.
    case failed
    /// Its `expires_at` passed before it could be sent.
    case expired
    /// Not sent on purpose: bulk to a contact that opted out or is paused.
    case suppressed

    /// True once the broker holds the message (the API's answer is settled).
    public var isAccepted: Bool { self != .accepting && self != .unconfirmed }
}
