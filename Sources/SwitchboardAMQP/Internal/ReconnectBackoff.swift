/// Exponential delays between reconnect attempts, with jitter so that many clients
/// that lost the same broker do not all come back in the same millisecond.
struct ReconnectBackoff: Sendable {
    let policy: AMQPConfiguration.Recovery
    private(set) var attempt = 0

    init(policy: AMQPConfiguration.Recovery) {
        self.policy = policy
    }

    /// The delay before the next attempt: initial × multiplier^attempt, capped, then
    /// drawn uniformly from its upper half.
    mutating func nextDelay<G: RandomNumberGenerator>(using generator: inout G) -> Duration {
        let initial = policy.initialDelay.seconds
        let cap = policy.maximumDelay.seconds
        let exponential = initial * pow(policy.multiplier, Double(attempt))
        attempt += 1
        let ceiling = min(cap, exponential.isFinite ? exponential : cap)
        let jittered = Double.random(in: (ceiling / 2)...ceiling, using: &generator)
        return .nanoseconds(Int64(jittered * 1e9))
    }

    mutating func nextDelay() -> Duration {
        var generator = SystemRandomNumberGenerator()
        return nextDelay(using: &generator)
    }

    mutating func reset() { attempt = 0 }
}

extension Duration {
    /// The duration in (fractional) seconds.
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    var milliseconds: Int {
        Int((seconds * 1000).rounded(.up))
    }
}

import func Foundation.pow
