import Synchronization
import SwitchboardCore

/// The send pace of every session this dispatcher instance sends for: one
/// `SessionThrottle` each, shared by all the deliveries in flight. A slot is taken when
/// it is due, at the moment of sending; while a transactional message waits for its
/// session, bulk messages of that session stand back, so the one-time password goes
/// first.
final class SessionPacer: Sendable {
    private struct Pace {
        var throttle: SessionThrottle
        /// Transactional messages waiting for this session's next slot.
        var transactionalWaiting = 0
    }

    private let paces = Mutex<[SessionID: Pace]>([:])
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
        var counted = false
        defer {
            if counted { paces.withLock { $0[session]?.transactionalWaiting -= 1 } }
        }
        while true {
            let now = self.now
            let next = paces.withLock { paces -> Double?? in
                var pace = paces[session] ?? Pace(throttle: SessionThrottle(rate: rate, bulkShare: bulkShare))
                defer { paces[session] = pace }
                if pace.throttle.rate != rate || pace.throttle.bulkShare != bulkShare {
                    pace.throttle.update(rate: rate, bulkShare: bulkShare)
                }
                guard let earliest = pace.throttle.earliest(messageClass, now: now) else { return .some(nil) }
                if messageClass == .transactional, !counted {
                    pace.transactionalWaiting += 1
                    counted = true
                }
                // Bulk stands back while a transactional message waits for this session.
                let yields = messageClass == .bulk && pace.transactionalWaiting > 0
                if !yields, pace.throttle.take(messageClass, now: now) { return nil }
                return .some(yields ? max(earliest, now + 0.005) : earliest)
            }
            switch next {
            case .none: return true            // taken
            case .some(.none): return false    // bulk has no share
            case .some(.some(let at)):
                try await Task.sleep(for: .seconds(max(0, at - now)))
            }
        }
    }
}
