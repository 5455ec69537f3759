import Synchronization

/// One holder per key at a time, across tasks: the normalizer holds an event's id while
/// it checks, publishes and remembers it, so the same webhook delivered several times
/// at once still yields the event once; the inbox and the bot hold an event's id while
/// they handle it, so a duplicate waits and then finds the receipt settled; the
/// dispatcher holds a message's id while it handles it, so a copy in flight beside it
/// waits and then finds the send recorded.
public final class KeyedGate: Sendable {
    private struct State {
        var held: Set<String> = []
        var waiters: [String: [CheckedContinuation<Void, Never>]] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// Waits until every key is free and holds them all. Keys are taken in sorted
    /// order, so two callers with overlapping keys cannot wait on each other.
    public func enter(_ keys: [String]) async {
        for key in Set(keys).sorted() {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let free = state.withLock { state -> Bool in
                    if state.held.insert(key).inserted { return true }
                    state.waiters[key, default: []].append(continuation)
                    return false
                }
                if free { continuation.resume() }
            }
        }
    }

    /// Frees the keys, handing each straight to its next waiter if there is one.
    public func leave(_ keys: [String]) {
        for key in Set(keys) {
            let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
                if var queue = state.waiters[key], !queue.isEmpty {
                    let next = queue.removeFirst()
                    state.waiters[key] = queue.isEmpty ? nil : queue
                    return next  // the key stays held, now by the waiter
                }
                state.held.remove(key)
                return nil
            }
            next?.resume()
        }
    }
}
