/// When a transiently failed message is tried again: through the `sb.retry` tiers,
/// exponentially, for a bounded number of attempts. Pure.
public struct RetrySchedule: Sendable, Hashable {
    /// The delay tiers, shortest first (from the topology).
    public let tiers: [RetryTier]
    /// Sends in all, the first included.
    public let maximumAttempts: Int
    /// The wait before the first retry; each later one waits four times longer.
    public let firstDelay: Duration

    /// The default: 6 attempts, waiting 5 s, 30 s, 2 min, 10 min and 1 h between them
    /// (about 1 h 13 min in all) with the topology's tiers.
    public init(tiers: [RetryTier], maximumAttempts: Int = 6, firstDelay: Duration = .seconds(5)) {
        self.tiers = tiers.sorted { $0.milliseconds < $1.milliseconds }
        self.maximumAttempts = max(1, maximumAttempts)
        self.firstDelay = firstDelay
    }

    /// What to do after attempt number `attempt` (1-based) failed transiently.
    public enum Decision: Sendable, Hashable {
        /// Wait in this tier, then try again (attempt `attempt + 1`).
        case retry(RetryTier)
        /// No attempts left: dead-letter it.
        case giveUp
    }

    public func decision(afterAttempt attempt: Int, retryAfter: Duration? = nil) -> Decision {
        guard attempt < maximumAttempts, !tiers.isEmpty else { return .giveUp }
        if let retryAfter {
            // The first tier long enough for what the provider asked; the longest if none is.
            let wanted = retryAfter.components.seconds * 1000 + retryAfter.components.attoseconds / 1_000_000_000_000_000
            return .retry(tiers.first { $0.milliseconds >= wanted } ?? tiers[tiers.count - 1])
        }
        return .retry(tier(forRetry: attempt))
    }

    /// Exponential: retry n (1-based) waits in the tier whose delay is the first at or
    /// above `firstDelay` × 4^(n-1), so the defaults give 5 s, 30 s, 2 min, 10 min, 1 h.
    public func tier(forRetry retry: Int) -> RetryTier {
        let exponent = Double(max(0, retry - 1))
        let (seconds, attoseconds) = firstDelay.components
        let first = Double(seconds) * 1000 + Double(attoseconds) / 1e15
        let wanted = first * pow4(exponent)
        return tiers.first { Double($0.milliseconds) >= wanted } ?? tiers[tiers.count - 1]
    }

    private func pow4(_ exponent: Double) -> Double {
        var result = 1.0
        for _ in 0..<Int(exponent) { result *= 4 }
        return result
    }
}
