import GRDB
import Synchronization

/// Runs small writes that arrive together in one transaction (each in its own
/// savepoint, so one failing write does not undo the others): with many requests in
/// flight, N writes cost one commit and one trip to the writer queue instead of N.
///
/// There is no background task: the first caller to find no batch running leads,
/// running batches until its own write is done, then hands the lead to the next caller
/// that waits. `writeBehind` adds a write without waiting for it while a leader is
/// there to run it (under load), and leads itself otherwise.
final class GroupCommit: Sendable {
    private typealias Work = @Sendable (Database) throws -> any Sendable
    private typealias Outcome = Result<any Sendable, any Error>

    private struct Waiter {
        let id: UInt64
        let work: Work
        /// Nil for a write-behind: nobody waits for it.
        let continuation: CheckedContinuation<Turn, Never>?
        let onFailure: (@Sendable (any Error) -> Void)?
    }

    /// What a waiter is woken with: its write's outcome, or the duty to lead.
    private enum Turn {
        case done(Outcome)
        case lead
    }

    private struct State {
        var waiting: [Waiter] = []
        /// Invariant: when no one leads, no write is waiting.
        var leading = false
        var nextID: UInt64 = 0
    }

    private let writer: DatabasePool
    /// The most writes one transaction takes.
    private let maximumBatch: Int
    private let state = Mutex(State())

    init(writer: DatabasePool, maximumBatch: Int = 256) {
        self.writer = writer
        self.maximumBatch = maximumBatch
    }

    /// Runs `work` in the next batch and returns its result.
    func write<T: Sendable>(_ work: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        let turn = await withCheckedContinuation { (continuation: CheckedContinuation<Turn, Never>) in
            let lead = state.withLock { state in
                state.waiting.append(Waiter(id: id, work: work, continuation: continuation, onFailure: nil))
                guard !state.leading else { return false }
                state.leading = true
                return true
            }
            if lead { continuation.resume(returning: .lead) }
        }
        let outcome = switch turn {
        case .done(let outcome): outcome
        case .lead: await lead(ownID: id)
        }
        return try outcome.get() as! T
    }

    /// Queues `work` for the running leader's next batch and returns at once; with no
    /// leader, runs it (and whatever else waits) before returning. `onFailure` hears of
    /// a write that failed after its caller moved on.
    func writeBehind(_ work: @escaping @Sendable (Database) throws -> Void,
                     onFailure: @escaping @Sendable (any Error) -> Void) async {
        let (id, leads) = state.withLock { state in
            state.nextID += 1
            state.waiting.append(Waiter(id: state.nextID, work: work, continuation: nil, onFailure: onFailure))
            guard !state.leading else { return (state.nextID, false) }
            state.leading = true
            return (state.nextID, true)
        }
        guard leads else { return }
        if case .failure(let error) = await lead(ownID: id) { onFailure(error) }
    }

    private enum HandOver {
        case finish
        case handTo(CheckedContinuation<Turn, Never>)
        case drainMore
    }

    /// Runs batches until the leader's own write is done (it is first in line, so the
    /// first batch holds it), then hands the lead to a waiting caller; write-behinds
    /// with no waiting caller to take over are drained by this leader.
    private func lead(ownID: UInt64) async -> Outcome {
        var own: Outcome?
        while true {
            if let own {
                let next = state.withLock { state -> HandOver in
                    guard !state.waiting.isEmpty else {
                        state.leading = false
                        return .finish
                    }
                    guard let index = state.waiting.firstIndex(where: { $0.continuation != nil }) else {
                        return .drainMore
                    }
                    // The successor's own write goes first, so its first batch holds it.
                    let successor = state.waiting.remove(at: index)
                    state.waiting.insert(successor, at: 0)
                    return .handTo(successor.continuation!)
                }
                switch next {
                case .finish:
                    return own
                case .handTo(let successor):
                    successor.resume(returning: .lead)
                    return own
                case .drainMore:
                    break
                }
            }
            let batch = state.withLock { state in
                let batch = Array(state.waiting.prefix(maximumBatch))
                state.waiting.removeFirst(batch.count)
                return batch
            }
            let outcomes = await run(batch)
            for (waiter, outcome) in zip(batch, outcomes) {
                if waiter.id == ownID {
                    own = outcome
                } else if let continuation = waiter.continuation {
                    continuation.resume(returning: .done(outcome))
                } else if case .failure(let error) = outcome {
                    waiter.onFailure?(error)
                }
            }
            precondition(own != nil, "a leader's own write is first in line")
        }
    }

    private func run(_ batch: [Waiter]) async -> [Outcome] {
        guard !batch.isEmpty else { return [] }
        let works = batch.map(\.work)
        do {
            return try await writer.write { db in
                works.map { work in
                    var outcome: Outcome = .failure(CancellationError())
                    do {
                        try db.inSavepoint {
                            do {
                                outcome = .success(try work(db))
                                return .commit
                            } catch {
                                outcome = .failure(error)
                                return .rollback
                            }
                        }
                    } catch {
                        outcome = .failure(error)
                    }
                    return outcome
                }
            }
        } catch {
            // The transaction itself failed (I/O, a full disk): every write in it failed.
            return Array(repeating: .failure(error), count: batch.count)
        }
    }
}
