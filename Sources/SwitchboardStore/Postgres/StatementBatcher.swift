import Synchronization

/// Runs one statement for many callers: what arrives while a batch runs goes into the
/// next one, so under load N hot-path writes (claims, queued marks, send records) cost
/// one round trip and one commit instead of N; alone, a write runs at once. The
/// PostgreSQL counterpart of the SQLite store's group commit, with up to `lanes` batches
/// in flight on as many pooled connections.
final class StatementBatcher<Item: Sendable, Output: Sendable>: Sendable {
    /// Runs a batch; returns one output per item, in order.
    typealias Run = @Sendable ([Item]) async throws -> [Output]

    private struct Waiter: Sendable {
        let item: Item
        let continuation: CheckedContinuation<Result<Output, any Error>, Never>
    }

    private struct State: Sendable {
        var waiting: [Waiter] = []
        var running = 0
    }

    private let state = Mutex(State())
    private let maximumBatch: Int
    private let lanes: Int
    private let run: Run

    init(maximumBatch: Int = 256, lanes: Int = 4, run: @escaping Run) {
        self.maximumBatch = maximumBatch
        self.lanes = lanes
        self.run = run
    }

    func submit(_ item: Item) async throws -> Output {
        let result = await withCheckedContinuation { continuation in
            let lead = state.withLock { state in
                state.waiting.append(Waiter(item: item, continuation: continuation))
                guard state.running < lanes else { return false }
                state.running += 1
                return true
            }
            if lead { Task { await self.drain() } }
        }
        return try result.get()
    }

    /// Runs batches until none waits.
    private func drain() async {
        while true {
            let batch = state.withLock { state -> [Waiter] in
                let batch = Array(state.waiting.prefix(maximumBatch))
                state.waiting.removeFirst(batch.count)
                if batch.isEmpty { state.running -= 1 }
                return batch
            }
            guard !batch.isEmpty else { return }
            do {
                let outputs = try await run(batch.map(\.item))
                guard outputs.count == batch.count else {
                    throw StoreError.database("a batch of \(batch.count) gave \(outputs.count) results")
                }
                for (waiter, output) in zip(batch, outputs) { waiter.continuation.resume(returning: .success(output)) }
            } catch {
                for waiter in batch { waiter.continuation.resume(returning: .failure(error)) }
            }
        }
    }
}
