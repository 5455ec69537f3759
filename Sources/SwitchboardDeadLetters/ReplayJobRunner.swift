public import Foundation
public import Logging
import SwitchboardCore
public import SwitchboardStore

/// Runs one claimed replay job to its end: a batch of the job's waiting dead letters at
/// a time, republished concurrently (each with confirm), then marked replayed in one
/// write; the lease is renewed after every batch. A runner that dies leaves its lease to
/// run out, and the next runner goes on with what is not marked: a dead letter whose
/// confirm came but whose mark did not is republished once more (at least once; the
/// dispatcher's store check keeps a sent message from going twice).
public struct ReplayJobRunner: Sendable {
    let store: any DeadLetterStore
    let replayer: DeadLetterReplayer
    /// Dead letters republished at once, and per batch.
    let concurrency: Int
    let batchSize: Int
    /// How long a claim holds without renewal.
    let lease: Duration
    let logger: Logger

    public init(store: any DeadLetterStore, replayer: DeadLetterReplayer, concurrency: Int = 64,
                batchSize: Int = 500, lease: Duration = .seconds(10), logger: Logger) {
        self.store = store
        self.replayer = replayer
        self.concurrency = max(1, concurrency)
        self.batchSize = max(1, batchSize)
        self.lease = lease
        self.logger = logger
    }

    /// The lease end for a claim made now.
    public var leaseEnd: Date { Date().addingTimeInterval(lease.seconds) }

    /// Runs `job` (claimed by the caller) until none of its dead letters wait or the
    /// broker stops confirming; `progress` hears after every batch. Returns the job as it
    /// stands.
    public func run(_ job: ReplayJob, progress: @Sendable (ReplayJob) -> Void = { _ in })
        async throws(StoreError) -> ReplayJob
    {
        var current = job
        let metadata: Logger.Metadata = [LogKey.job: "\(job.id)", LogKey.tenant: "\(job.tenant ?? "*")"]
        logger.info("replay job running", metadata: metadata.merging([LogKey.count: "\(job.remaining)"]) { $1 })
        while current.state != .done, !Task.isCancelled {
            let batch = try await store.nextToReplay(job: job.id, limit: batchSize)
            if batch.isEmpty {
                current = try await store.settleReplays(job: job.id, replayed: [], failed: [:], at: Date())
                break
            }
            let (replayed, failed, brokerFailure) = await republish(batch, session: job.session)
            current = try await store.settleReplays(job: job.id, replayed: replayed, failed: failed, at: Date())
            progress(current)
            if let brokerFailure {
                // Nothing more can go out now: leave the rest for the next claim.
                logger.warning("replay job paused: the broker did not confirm",
                               metadata: metadata.merging([LogKey.error: "\(brokerFailure)"]) { $1 })
                return current
            }
            try await store.renewReplayJob(job.id, leaseUntil: leaseEnd)
        }
        logger.info("replay job done", metadata: metadata.merging([
            LogKey.count: "\(current.replayed)", LogKey.failed: "\(current.failed)",
        ]) { $1 })
        return current
    }

    /// Republishes a batch, `concurrency` at a time: the ids confirmed, those that can
    /// never go back (with why), and a broker failure if one stopped the batch.
    private func republish(_ batch: [ArchivedDeadLetter], session: String?) async
        -> (replayed: [String], failed: [String: String], broker: ReplayError?)
    {
        var replayed: [String] = []
        var failed: [String: String] = [:]
        var brokerFailure: ReplayError?
        await withTaskGroup(of: (String, ReplayError?).self) { group in
            var pending = batch.makeIterator()
            func startNext() -> Bool {
                guard let letter = pending.next() else { return false }
                group.addTask {
                    do throws(ReplayError) {
                        try await replayer.replay(letter, session: session)
                        return (letter.id, nil)
                    } catch {
                        return (letter.id, error)
                    }
                }
                return true
            }
            var started = 0
            while started < concurrency, startNext() { started += 1 }
            for await (id, error) in group {
                switch error {
                case nil: replayed.append(id)
                case .broker?: brokerFailure = error
                case let error?: failed[id] = error.description
                }
                if brokerFailure == nil { _ = startNext() }
            }
        }
        return (replayed, failed, brokerFailure)
    }
}
