import SwitchboardCore
import SwitchboardStore
import Synchronization

/// A small map whose entries expire: the api remembers the keys and sessions it has
/// just read for a moment, so a burst of requests costs one store read, not one each.
/// Changes made through this instance clear it at once; changes made through another
/// instance are seen after the time to live.
final class ExpiringCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct Entry {
        let value: Value
        let expires: ContinuousClock.Instant
    }

    private let timeToLive: Duration
    private let capacity: Int
    private let entries = Mutex<[Key: Entry]>([:])

    init(timeToLive: Duration, capacity: Int = 10_000) {
        self.timeToLive = timeToLive
        self.capacity = capacity
    }

    func value(for key: Key) -> Value? {
        guard timeToLive > .zero else { return nil }
        let now = ContinuousClock.now
        return entries.withLock { entries in
            guard let entry = entries[key] else { return nil }
            guard entry.expires > now else {
                entries[key] = nil
                return nil
            }
            return entry.value
        }
    }

    func store(_ value: Value, for key: Key) {
        guard timeToLive > .zero else { return }
        let expires = ContinuousClock.now + timeToLive
        entries.withLock { entries in
            // Bounded: past capacity, start over rather than track recency.
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[key] = Entry(value: value, expires: expires)
        }
    }

    func removeAll() {
        entries.withLock { $0.removeAll() }
    }

    /// The cached value, or the one `load` reads (cached when not nil).
    func value<E: Error>(for key: Key, orLoad load: () async throws(E) -> Value?) async throws(E) -> Value? {
        if let cached = value(for: key) { return cached }
        let loaded = try await load()
        if let loaded { store(loaded, for: key) }
        return loaded
    }
}

/// The caches one api instance keeps, cleared by the routes that change what they hold.
struct APICaches: Sendable {
    /// Token → the key it authenticates (positive answers only).
    let keys: ExpiringCache<String, APIKey>
    /// Tenant → its primary session; session id → session.
    let primarySessions: ExpiringCache<String, Session>
    let sessions: ExpiringCache<String, Session>

    init(timeToLive: Duration) {
        keys = ExpiringCache(timeToLive: timeToLive)
        primarySessions = ExpiringCache(timeToLive: timeToLive)
        sessions = ExpiringCache(timeToLive: timeToLive)
    }

    func sessionsChanged() {
        primarySessions.removeAll()
        sessions.removeAll()
    }
}
