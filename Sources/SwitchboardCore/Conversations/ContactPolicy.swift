public import Foundation

/// What a tenant's contact allows: bulk messages stop when the contact opted out (STOP)
/// or while an agent handles the contact's reply (the inbox pauses the drip).
/// Transactional messages (one-time codes, receipts) are never held back.
public struct ContactPolicy: Sendable, Hashable, Codable {
    public var optedOut: Bool
    public var optedOutAt: Date?
    /// Bulk messages wait until then (the inbox sets it on a reply, resolving lifts it).
    public var pausedUntil: Date?

    public init(optedOut: Bool = false, optedOutAt: Date? = nil, pausedUntil: Date? = nil) {
        self.optedOut = optedOut
        self.optedOutAt = optedOutAt
        self.pausedUntil = pausedUntil
    }

    /// Why a bulk message to this contact must not go out at `date`, or nil if it may.
    public func suppression(at date: Date) -> Suppression? {
        if optedOut { return .optedOut }
        if let pausedUntil, pausedUntil > date { return .paused }
        return nil
    }

    /// True when the policy restricts anything at `date` (worth keeping in a cache).
    public func isRestrictive(at date: Date) -> Bool { suppression(at: date) != nil }
}

/// Why a bulk message was not sent: the error code of its `suppressed` status.
public enum Suppression: String, Sendable, Hashable, Codable {
    case optedOut = "opted-out"
    case paused
}
