import Foundation
public import Logging
public import ServiceLifecycle
public import SwitchboardAMQP
import SwitchboardBroker
import SwitchboardConsumers
public import SwitchboardCore
public import SwitchboardStore
import Synchronization
public import SwitchboardTelemetry

/// The `dead-letters` service: archives everything that reaches `sb.dead` and
/// `sb.unroutable` (acked only after its row commits; a redelivery of the same dead
/// letter is one row), runs the replay jobs operators ask for, purges what was replayed
/// or discarded once the retention has passed, and raises a `deadletter.alert` when a
/// group grows faster than a threshold.
public final class DeadLetterArchivist: Service, Sendable {
    public struct Configuration: Sendable {
        /// Dead letters archived at once (per queue).
        public var prefetch: UInt16
        /// How long replayed and discarded dead letters are kept.
        public var retention: Duration
        public var purgeInterval: Duration
        /// How often the service looks for a replay job to run.
        public var jobPollInterval: Duration
        /// A group (tenant, reason, code) that grows by `alertThreshold` within
        /// `alertWindow` raises one `deadletter.alert` per window; 0 turns alerts off.
        public var alertThreshold: Int
        public var alertWindow: Duration

        public init(prefetch: UInt16 = 256, retention: Duration = .seconds(14 * 86_400),
                    purgeInterval: Duration = .seconds(3600), jobPollInterval: Duration = .seconds(1),
                    alertThreshold: Int = 100, alertWindow: Duration = .seconds(300)) {
            self.prefetch = prefetch
            self.retention = retention
            self.purgeInterval = purgeInterval
            self.jobPollInterval = jobPollInterval
            self.alertThreshold = alertThreshold
            self.alertWindow = alertWindow
        }
    }

    private let configuration: Configuration
    private let connection: AMQPConnection
    private let metrics: GatewayMetrics
    private let store: any DeadLetterStore
    private let reading: DeadLetterReading
    private let runner: ReplayJobRunner
    private let roles: Topology.Roles
    private let alerts: GroupAlarm
    private let logger: Logger

    public init(configuration: Configuration = Configuration(), connection: AMQPConnection, topology: Topology,
                store: any DeadLetterStore, metrics: GatewayMetrics = .off, logger: Logger) {
        self.configuration = configuration
        self.metrics = metrics
        self.connection = connection
        self.store = store
        self.logger = logger
        roles = topology.roles
        reading = DeadLetterReading(roles: topology.roles)
        runner = ReplayJobRunner(store: store, replayer: DeadLetterReplayer(publisher: connection, roles: topology.roles),
                                 logger: logger)
        alerts = GroupAlarm(threshold: configuration.alertThreshold, window: configuration.alertWindow.seconds)
    }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            for queue in [roles.deadLetterQueue, roles.unroutableQueue] {
                group.addTask {
                    await QueueWorker(connection: self.connection, queue: queue, prefetch: self.configuration.prefetch,
                                      service: "dead-letters", metrics: self.metrics, logger: self.logger)
                        .run { delivery in await self.archive(delivery, from: queue) }
                }
            }
            group.addTask { await cancelWhenGracefulShutdown { await self.runJobs() } }
            group.addTask { await cancelWhenGracefulShutdown { await self.purge() } }
        }
        logger.info("dead-letters stopped")
    }

    /// Archives one dead letter, then acks it; a store failure hands it back to its queue.
    func archive(_ delivery: AMQPDelivery, from queue: String) async -> ConsumerOutcome {
        let letter = reading.archived(id: MessageID.make(), source: queue, exchange: delivery.exchange,
                                      routingKey: delivery.routingKey, properties: delivery.properties,
                                      body: delivery.body, at: Date())
        let metadata: Logger.Metadata = [
            LogKey.tenant: "\(letter.tenant)", LogKey.deadLetter: "\(letter.id)", LogKey.reason: "\(letter.reason)",
            LogKey.messageID: "\(letter.messageID ?? "-")",
        ]
        do {
            let new = try await store.archive([letter])
            try? await delivery.ack()
            guard new > 0 else {
                logger.debug("dead letter archived before; this copy dropped", metadata: metadata)
                return .handled
            }
            metrics.deadLettersArchived(letter.tenant, letter.reason).increment()
            logger.info("dead letter archived", metadata: metadata.merging([
                LogKey.code: "\(letter.errorCode ?? "-")", LogKey.queue: "\(queue)",
            ]) { $1 })
            await raiseAlertIfNeeded(for: letter)
            return .handled
        } catch {
            logger.error("dead letter not archived; retrying", metadata: metadata.merging([LogKey.error: "\(error)"]) { $1 })
            try? await Task.sleep(for: .milliseconds(500))
            try? await delivery.nack(requeue: true)
            return .retried
        }
    }

    private func raiseAlertIfNeeded(for letter: ArchivedDeadLetter) async {
        guard let count = alerts.record(GroupAlarm.Key(tenant: letter.tenant, reason: letter.reason,
                                                         code: letter.errorCode), at: Date()),
              let tenant = try? TenantID(letter.tenant)
        else { return }
        let window = Int(configuration.alertWindow.seconds)
        let now = Date()
        let event = NormalizedEvent(
            id: EventID.derive(["deadletter.alert", letter.tenant, letter.reason, letter.errorCode ?? "",
                                "\(Int(now.timeIntervalSince1970) / max(1, window))"]),
            type: .deadLetterAlert, tenant: tenant, session: letter.session.flatMap { try? SessionID($0) },
            provider: letter.provider.flatMap(ProviderKind.init(rawValue:)), occurredAt: now, receivedAt: now,
            deadLetterAlert: .init(reason: letter.reason, errorCode: letter.errorCode, count: count,
                                   windowSeconds: window, sampleID: letter.id))
        do {
            try await connection.publish(event, over: roles)
            logger.warning("dead letters pile up", metadata: [
                LogKey.tenant: "\(letter.tenant)", LogKey.reason: "\(letter.reason)",
                LogKey.code: "\(letter.errorCode ?? "-")", LogKey.count: "\(count)",
            ])
        } catch {
            logger.warning("dead-letter alert not published", metadata: [LogKey.error: "\(error)"])
        }
    }

    /// Claims and runs replay jobs, one at a time, until cancelled.
    private func runJobs() async {
        while !Task.isCancelled {
            do {
                if let job = try await store.claimReplayJob(nil, leaseUntil: runner.leaseEnd) {
                    _ = try await runner.run(job)
                    continue
                }
            } catch {
                logger.error("replay jobs: store failure", metadata: [LogKey.error: "\(error)"])
            }
            try? await Task.sleep(for: configuration.jobPollInterval)
        }
    }

    private func purge() async {
        while (try? await Task.sleep(for: configuration.purgeInterval)) != nil {
            do {
                let removed = try await store.purgeDeadLetters(
                    resolvedBefore: Date().addingTimeInterval(-configuration.retention.seconds))
                if removed > 0 { logger.info("dead letters purged", metadata: [LogKey.rows: "\(removed)"]) }
            } catch {
                logger.warning("cannot purge dead letters", metadata: [LogKey.error: "\(error)"])
            }
        }
    }
}

/// Counts each group's dead letters in a window and says when one crosses the
/// threshold: once per group per window.
final class GroupAlarm: Sendable {
    struct Key: Hashable {
        var tenant: String
        var reason: String
        var code: String?
    }

    private struct Window {
        var start: Double
        var count: Int
        var raised: Bool
    }

    private let threshold: Int
    private let window: Double
    private let windows = Mutex<[Key: Window]>([:])

    init(threshold: Int, window: Double) {
        self.threshold = threshold
        self.window = max(1, window)
    }

    /// Counts one dead letter of `key`; the count when this one crossed the threshold.
    func record(_ key: Key, at date: Date) -> Int? {
        guard threshold > 0 else { return nil }
        let now = date.timeIntervalSince1970
        return windows.withLock { windows in
            var current = windows[key] ?? Window(start: now, count: 0, raised: false)
            if now - current.start >= window { current = Window(start: now, count: 0, raised: false) }
            current.count += 1
            defer { windows[key] = current }
            // Forget groups quiet for a whole window, so the table stays small.
            if windows.count > 10_000 { windows = windows.filter { now - $0.value.start < window } }
            guard current.count >= threshold, !current.raised else { return nil }
            current.raised = true
            return current.count
        }
    }
}
