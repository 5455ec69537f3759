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

    /// Whether a message in this state moves on to `next` when a status reports it:
    /// statuses arrive out of order and never move a message backwards (`read` after
    /// `delivered` stays `read`; a `read` may come without `delivered`). A provider's
    /// evidence of delivery outranks our own `failed` (a send that timed out may still
    /// have gone through); a message never sent (`expired`, `suppressed`) stays so.
    public func advances(to next: MessageState) -> Bool {
        switch (self, next) {
        case (.expired, _), (.suppressed, _), (_, .accepting), (_, .unconfirmed):
            false
        case (.failed, _):
            next.deliveryProgress >= MessageState.sent.deliveryProgress
        case (_, .failed):
            deliveryProgress <= MessageState.sent.deliveryProgress
        case (_, .expired), (_, .suppressed):
            deliveryProgress <= MessageState.queued.deliveryProgress
        default:
            next.deliveryProgress > deliveryProgress
        }
    }

    /// How far along the path `queued → sent → delivered → read → played` a state is.
    private var deliveryProgress: Int {
        switch self {
        case .accepting, .unconfirmed: 0
        case .queued: 1
        case .sent: 2
        case .delivered: 3
        case .read: 4
        case .played: 5
        case .failed, .expired, .suppressed: 0
        }
    }
}
