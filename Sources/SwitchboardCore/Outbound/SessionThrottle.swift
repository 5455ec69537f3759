/// The send pace of one session: at most `rate` messages in any one-second window, of
/// which bulk may take only its share. Transactional messages draw on the session's
/// whole rate; bulk must also fit its own, slower pace, so a campaign can never crowd
/// out a one-time password. Pure: the caller supplies the clock and waits.
///
/// Sends are spaced evenly (one every `(1 + margin) / rate` seconds, no burst): spacing
/// is what makes "no one-second window above the rate" hold, where a bucket with burst
/// capacity `b` would allow `rate + b` in a window. A slot is taken at the moment of
/// sending, never booked ahead, so a caller that wakes late (a stalled machine) cannot
/// bunch up with others. The margin (15 % by default) absorbs the jitter between our
/// clock and the provider's: requests sent a full interval apart may arrive closer
/// together (on a loaded machine by tens, now and then over a hundred, milliseconds);
/// `rate` sends span `1 + margin` seconds, so at 15 % a window tolerates 150 ms of it
/// at any rate (10 % let a loaded CI machine draw a 429 now and then).
public struct SessionThrottle: Sendable, Hashable {
    /// Messages per second for the session.
    public private(set) var rate: Double
    /// The share of `rate` bulk may use (0…1).
    public private(set) var bulkShare: Double
    /// The spacing is `(1 + margin) / rate`.
    public let margin: Double
    /// When the session may send next (seconds on the caller's clock).
    private var nextSession: Double = -.infinity
    /// When bulk may send next.
    private var nextBulk: Double = -.infinity

    public init(rate: Double, bulkShare: Double, margin: Double = 0.15) {
        precondition(rate > 0 && rate.isFinite, "a session rate is positive")
        self.rate = rate
        self.bulkShare = min(max(bulkShare, 0), 1)
        self.margin = max(0.000_5, margin)
    }

    /// Changes the pace from now on (a tenant's limits were updated).
    public mutating func update(rate: Double, bulkShare: Double) {
        precondition(rate > 0 && rate.isFinite, "a session rate is positive")
        self.rate = rate
        self.bulkShare = min(max(bulkShare, 0), 1)
    }

    /// The earliest time at or after `now` when a message of `messageClass` may be sent.
    /// `nil` when bulk has no share at all.
    public func earliest(_ messageClass: MessageClass, now: Double) -> Double? {
        switch messageClass {
        case .transactional:
            return max(now, nextSession)
        case .bulk:
            guard bulkShare > 0 else { return nil }
            return max(now, nextSession, nextBulk)
        }
    }

    /// Takes the slot for a message of `messageClass` sent at `now`, if it is due;
    /// false when it must wait until `earliest`.
    public mutating func take(_ messageClass: MessageClass, now: Double) -> Bool {
        guard let at = earliest(messageClass, now: now), at <= now else { return false }
        nextSession = now + (1 + margin) / rate
        if messageClass == .bulk { nextBulk = now + (1 + margin) / (rate * bulkShare) }
        return true
    }
}
