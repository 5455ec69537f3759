import Synchronization
import SwitchboardCore

/// The send pace of every session this dispatcher instance sends for: one
/// `SessionThrottle` each, shared by all the deliveries in flight. A transactional
/// message takes the next session slot at once; a bulk message waits until its slot
/// comes and only then takes it, so a one-time password arriving meanwhile goes first.
final class SessionPacer: Sendable {
    private let throttles = Mutex<[SessionID: SessionThrottle]>([:])
    private let clock = ContinuousClock()
    private let origin: ContinuousClock.Instant

    init() {
        origin = clock.now
    }

    private var now: Double { (clock.now - origin).seconds }

    /// Waits until `session` may send a message of `messageClass` at `rate`/`bulkShare`,
    /// and takes that slot. Returns false when bulk has no share (it may never send).
    func waitForSlot(_ session: SessionID, _ messageClass: MessageClass, rate: Double, bulkShare: Double)
        async throws -> Bool
    {
        while true {
            let now = self.now
            let decision = throttles.withLock { throttles -> (at: Double?, taken: Bool) in
                var throttle = throttles[session] ?? SessionThrottle(rate: rate, bulkShare: bulkShare)
                if throttle.rate != rate || throttle.bulkShare != bulkShare {
                    throttle.update(rate: rate, bulkShare: bulkShare)
                }
                defer { throttles[session] = throttle }
                switch messageClass {
                case .transactional:
                    return (throttle.reserve(.transactional, now: now), true)
                case .bulk:
                    guard let earliest = throttle.earliest(.bulk, now: now) else { return (nil, false) }
                    // Take the slot only when it is due; until then leave it to others.
                    if earliest <= now { return (throttle.reserve(.bulk, now: now), true) }
                    return (earliest, false)
                }
            }
            guard let at = decision.at else { return false }
            if at > now { try await Task.sleep(for: .seconds(at - now)) }
            if decision.taken { return true }
        }
    }
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
