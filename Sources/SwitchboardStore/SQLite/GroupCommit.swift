import GRDB
import Synchronization
import SwitchboardTelemetry

/// Runs small writes that arrive together in one transaction (each in its own
/// savepoint, so one failing write does not undo the others): with many requests in
/// flight, N writes cost one commit and one trip to the writer queue instead of N.
///
/// There is no background task: the first caller to find no batch running leads,
/// running batches until its own write is done, then hands the lead to the next caller
/// that waits. `writeBehind` adds a write without waiting while a leader runs; a leader
/// left with only such writes keeps draining them until the next caller relieves it,
/// so no caller leads for longer than about one batch under steady load, and no write
/// is left behind when the load stops.
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
        case lead(generation: UInt64)
    }

    private struct State {
        var waiting: [Waiter] = []
        /// Invariant: when no one leads, no write is waiting.
        var leading = false
        /// Bumped at every change of leader; a leader whose generation is past stops.
        var generation: UInt64 = 0
        /// The leader's own write is done; it drains only for others and may be relieved.
        var leaderMayBeRelieved = false
        var nextID: UInt64 = 0
    }

    private let writer: DatabasePool
    /// The most writes one transaction takes.
    private let maximumBatch: Int
    private let metrics: GatewayMetrics
    private let state = Mutex(State())

    init(writer: DatabasePool, maximumBatch: Int = 256, metrics: GatewayMetrics = .off) {
        self.writer = writer
        self.maximumBatch = maximumBatch
        self.metrics = metrics
    }

    /// Runs `work` in the next batch and returns its result.
    func write<T: Sendable>(_ work: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        let turn = await withCheckedContinuation { (continuation: CheckedContinuation<Turn, Never>) in
            let generation = state.withLock { state -> UInt64? in
                state.waiting.append(Waiter(id: id, work: work, continuation: continuation, onFailure: nil))
                guard !state.leading else { return nil }
                state.leading = true
                state.generation += 1
                return state.generation
            }
            if let generation { continuation.resume(returning: .lead(generation: generation)) }
        }
        let outcome = switch turn {
        case .done(let outcome): outcome
        case .lead(let generation): await lead(ownID: id, generation: generation)
        }
        return try outcome.get() as! T
    }

    /// Queues `work` for the running leader's next batch and returns at once; with no
    /// leader, or one that only drains for others, leads until it has run. `onFailure`
    /// hears of a write that failed after its caller moved on.
    func writeBehind(_ work: @escaping @Sendable (Database) throws -> Void,
                     onFailure: @escaping @Sendable (any Error) -> Void) async {
        let (id, generation) = state.withLock { state -> (UInt64, UInt64?) in
            state.nextID += 1
            let waiter = Waiter(id: state.nextID, work: work, continuation: nil, onFailure: onFailure)
            if !state.leading {
                state.waiting.append(waiter)
                state.leading = true
            } else if state.leaderMayBeRelieved {
                // Relieve the leader: this write goes first, so this caller's first batch holds it.
                state.waiting.insert(waiter, at: 0)
                state.leaderMayBeRelieved = false
            } else {
                state.waiting.append(waiter)
                return (state.nextID, nil)
            }
            state.generation += 1
            return (state.nextID, state.generation)
        }
        guard let generation else { return }
        if case .failure(let error) = await lead(ownID: id, generation: generation) { onFailure(error) }
    }

    private enum Step {
        case finish
        case handTo(CheckedContinuation<Turn, Never>, generation: UInt64)
        case run([Waiter])
    }

    /// Runs batches until the leader's own write is done (it is first in line, so the
    /// first batch holds it), then hands the lead to a waiting caller; with only
    /// write-behinds left it drains them until relieved or until none is left. Each
    /// decision and the batch it takes happen under one lock, so a relieved leader
    /// never takes its successor's write.
    private func lead(ownID: UInt64, generation: UInt64) async -> Outcome {
        var own: Outcome?
        while true {
            let done = own != nil
            let step = state.withLock { state -> Step in
                if done {
                    // A newer leader took over; the writes still waiting are its own.
                    guard state.generation == generation else { return .finish }
                    guard !state.waiting.isEmpty else {
                        state.leading = false
                        state.leaderMayBeRelieved = false
                        return .finish
                    }
                    if let index = state.waiting.firstIndex(where: { $0.continuation != nil }) {
                        // The successor's own write goes first, so its first batch holds it.
                        let successor = state.waiting.remove(at: index)
                        state.waiting.insert(successor, at: 0)
                        state.generation += 1
                        state.leaderMayBeRelieved = false
                        return .handTo(successor.continuation!, generation: state.generation)
                    }
                    state.leaderMayBeRelieved = true
                }
                let batch = Array(state.waiting.prefix(maximumBatch))
                state.waiting.removeFirst(batch.count)
                return .run(batch)
            }
            switch step {
            case .finish:
                return own!
            case .handTo(let successor, let generation):
                successor.resume(returning: .lead(generation: generation))
                return own!
            case .run(let batch):
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
    }

    private func run(_ batch: [Waiter]) async -> [Outcome] {
        guard !batch.isEmpty else { return [] }
        let works = batch.map(\.work)
        metrics.storeBatchSize.record(batch.count)
        let started = ContinuousClock.now
        defer { metrics.storeCommit.recordSince(started) }
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
