import Foundation
public import Logging
public import ServiceLifecycle
public import SwitchboardAMQP
import SwitchboardBroker
import SwitchboardConsumers
public import SwitchboardCore
public import SwitchboardProviders
public import SwitchboardStore
public import SwitchboardTelemetry

/// The `monitor` service: keeps every session's status true to what its provider says.
/// It applies each `session.status` event (its own queue on `sb.events`) to the session
/// in the store (an append-only history, once per event), and a change is announced on
/// `sb.control` at once, so every dispatcher pauses or resumes that tenant's sends.
/// It also asks each session's provider for its state every `pollInterval` (spread over
/// it), for the changes no webhook reported; a change found so is published as a
/// `session.status` event for subscribers. A session down longer than `alertAfter`
/// raises one `session.alert` (`down`), and one more (`back`) when it is connected
/// again; the store hands each alert to one monitor, however many run.
public final class SessionMonitor: Service, Sendable {
    public struct Configuration: Sendable {
        public var prefetch: UInt16
        /// How long a session may be down before the alert.
        public var alertAfter: Duration
        /// How often sessions down are looked for.
        public var alertCheckInterval: Duration
        /// How often each session's provider is asked (zero: never).
        public var pollInterval: Duration
        /// Polls on the wire at once, at most.
        public var pollConcurrency: Int

        public init(prefetch: UInt16 = 32, alertAfter: Duration = .seconds(300), alertCheckInterval: Duration = .seconds(10),
                    pollInterval: Duration = .seconds(60), pollConcurrency: Int = 32) {
            self.prefetch = prefetch
            self.alertAfter = alertAfter
            self.alertCheckInterval = alertCheckInterval
            self.pollInterval = pollInterval
            self.pollConcurrency = pollConcurrency
        }
    }

    /// What became of one event, for tests and logs.
    public enum Outcome: Sendable, Hashable {
        case applied(changed: Bool)
        /// A replay of an event applied before, or not a session status.
        case ignored
        case deadLettered(code: String)
        case requeued

        var consumerOutcome: ConsumerOutcome {
            switch self {
            case .applied, .ignored: .handled
            case .deadLettered: .deadLettered
            case .requeued: .retried
            }
        }
    }

    private let configuration: Configuration
    private let connection: AMQPConnection
    private let metrics: GatewayMetrics
    private let store: any SessionHealthStore
    private let sessions: any SessionStore
    private let instances: any ServiceInstanceStore
    private let providers: ProviderDirectory?
    private let control: ControlAnnouncer
    private let deadLetter: DeadLetter
    private let roles: Topology.Roles
    private let logger: Logger

    /// `providers`: nil for no polling.
    public init(configuration: Configuration = Configuration(), connection: AMQPConnection, topology: Topology,
                store: any SessionHealthStore, sessions: any SessionStore, instances: any ServiceInstanceStore,
                providers: ProviderDirectory?, metrics: GatewayMetrics = .off, logger: Logger) {
        self.configuration = configuration
        self.metrics = metrics
        self.connection = connection
        self.store = store
        self.sessions = sessions
        self.instances = instances
        self.providers = providers
        self.logger = logger
        roles = topology.roles
        control = ControlAnnouncer(publisher: connection, exchange: topology.roles.control, logger: logger)
        deadLetter = DeadLetter(publisher: connection, exchange: topology.roles.deadLetters)
    }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await cancelWhenGracefulShutdown { await self.watchForDownSessions() } }
            // Every instance's heartbeat, kept for the health view.
            let control = ControlSubscription(connection: connection, exchange: roles.control, listener: "monitor",
                                              logger: logger)
            group.addTask {
                await cancelWhenGracefulShutdown {
                    await control.follow(heartbeat: { beat in
                        try? await self.instances.recordHeartbeat(beat, at: Date())
                    }) { _ in }
                }
            }
            if let providers, configuration.pollInterval > .zero {
                let poller = SessionPoller(sessions: sessions, providers: providers, interval: configuration.pollInterval,
                                           concurrency: configuration.pollConcurrency, logger: logger,
                                           report: { session, status, at in await self.applyPolled(status, of: session, at: at) },
                                           details: { session, state in
                                               do {
                                                   try await self.store.recordProviderDetails(
                                                       of: session.id, qualityRating: state.qualityRating,
                                                       messagingLimitTier: state.messagingLimitTier)
                                               } catch {
                                                   self.logger.warning("provider details not recorded",
                                                                       metadata: [LogKey.error: "\(error)"])
                                               }
                                           })
                group.addTask { await cancelWhenGracefulShutdown { await poller.run() } }
            }
            await QueueWorker(connection: connection, queue: roles.monitorQueue, prefetch: configuration.prefetch,
                              service: "monitor", metrics: metrics, logger: logger)
                .run { delivery in await self.handle(delivery).consumerOutcome }
            group.cancelAll()
        }
        logger.info("monitor stopped")
    }

    /// Applies one event and settles it.
    public func handle(_ delivery: AMQPDelivery) async -> Outcome {
        let event: NormalizedEvent
        do { event = try WireJSON.sharedDecoder.decode(NormalizedEvent.self, from: delivery.body) } catch {
            return await park(delivery, tenant: delivery.headers[OutboundHeader.tenant]?.stringValue,
                              code: DeadLetterReason.malformed.rawValue, detail: "not a normalized event: \(error)")
        }
        guard event.type == .sessionStatus else {
            try? await delivery.ack()
            return .ignored
        }
        var metadata: Logger.Metadata = [LogKey.tenant: "\(event.tenant)", LogKey.eventID: "\(event.id)"]
        guard let session = event.session, let status = event.sessionStatus else {
            return await park(delivery, tenant: event.tenant.rawValue, code: DeadLetterReason.malformed.rawValue,
                              detail: "a session.status event without a session or a status")
        }
        metadata[LogKey.session] = "\(session)"
        let change: SessionStatusChange
        do {
            change = try await store.applySessionStatus(status, of: session, tenant: event.tenant, at: event.occurredAt,
                                                        source: "webhook", reportID: event.id)
        } catch {
            guard case .database = error else {
                return await park(delivery, tenant: event.tenant.rawValue,
                                  code: DeadLetterReason.unknownSession.rawValue, detail: error.description)
            }
            logger.error("session status not applied; retrying", metadata: metadata.merging([LogKey.error: "\(error)"]) { $1 })
            try? await Task.sleep(for: .milliseconds(500))
            try? await delivery.nack(requeue: true)
            return .requeued
        }
        metrics.sessionConnected(event.tenant.rawValue, session.rawValue).set(change.to == .connected ? 1 : 0)
        if change.changed {
            // Announced before the ack: a monitor that dies in between applies the
            // redelivery as a replay (no change), and the dispatchers' periodic refresh
            // catches up within a minute.
            await control.announce(ControlEvent(.sessionChanged, tenant: change.tenant, session: session))
            logger.notice("session status changed", metadata: metadata.merging([
                LogKey.was: "\(change.from.rawValue)", LogKey.state: "\(change.to.rawValue)",
            ]) { $1 })
        }
        if change.recovered {
            await alert(.init(state: .back, status: change.to, since: nil), tenant: change.tenant, session: session,
                        at: change.at)
        }
        try? await delivery.ack()
        return .applied(changed: change.changed)
    }

    /// A polled status: applied like a webhook's; a change is announced, and published as
    /// a `session.status` event under the report's id (this monitor's own queue gets it
    /// back and finds nothing new).
    func applyPolled(_ status: SessionStatus, of session: Session, at: Date) async {
        let bucket = Int(at.timeIntervalSince1970 / max(1, configuration.pollInterval.seconds))
        let reportID = EventID.derive(["poll", session.id.rawValue, status.rawValue, "\(bucket)"])
        let metadata: Logger.Metadata = [LogKey.tenant: "\(session.tenant)", LogKey.session: "\(session.id)"]
        do {
            let change = try await store.applySessionStatus(status, of: session.id, tenant: session.tenant, at: at,
                                                            source: "poll", reportID: reportID)
            metrics.sessionConnected(session.tenant.rawValue, session.id.rawValue).set(change.to == .connected ? 1 : 0)
            guard change.changed else { return }
            await control.announce(ControlEvent(.sessionChanged, tenant: session.tenant, session: session.id))
            logger.notice("session status changed (poll)", metadata: metadata.merging([
                LogKey.was: "\(change.from.rawValue)", LogKey.state: "\(change.to.rawValue)",
            ]) { $1 })
            try await connection.publish(NormalizedEvent(
                id: reportID, type: .sessionStatus, tenant: session.tenant, session: session.id,
                provider: session.provider, occurredAt: at, receivedAt: at, sessionStatus: status), over: roles)
            if change.recovered {
                await alert(.init(state: .back, status: status, since: nil), tenant: session.tenant, session: session.id,
                            at: at)
            }
        } catch {
            logger.warning("polled status not applied", metadata: metadata.merging([LogKey.error: "\(error)"]) { $1 })
        }
    }

    /// Claims and announces sessions down past the threshold, until cancelled.
    private func watchForDownSessions() async {
        while (try? await Task.sleep(for: configuration.alertCheckInterval)) != nil {
            let now = Date()
            do {
                for down in try await store.claimDownSessions(downSince: now.addingTimeInterval(-configuration.alertAfter.seconds),
                                                              at: now) {
                    await alert(.init(state: .down, status: down.status, since: down.since), tenant: down.tenant,
                                session: down.session, at: now)
                }
            } catch {
                logger.warning("cannot look for sessions down", metadata: [LogKey.error: "\(error)"])
            }
        }
    }

    private func alert(_ alert: NormalizedEvent.SessionAlert, tenant: TenantID, session: SessionID, at: Date) async {
        let event = NormalizedEvent(
            id: EventID.derive(["session.alert", session.rawValue, alert.state.rawValue, "\(Int(at.timeIntervalSince1970))"]),
            type: .sessionAlert, tenant: tenant, session: session, provider: nil, occurredAt: at, receivedAt: at,
            sessionAlert: alert)
        let metadata: Logger.Metadata = [LogKey.tenant: "\(tenant)", LogKey.session: "\(session)",
                                         LogKey.state: "\(alert.state.rawValue)"]
        do {
            try await connection.publish(event, over: roles)
            logger.warning("session alert", metadata: metadata)
        } catch {
            logger.error("session alert not published", metadata: metadata.merging([LogKey.error: "\(error)"]) { $1 })
        }
    }

    private func park(_ delivery: AMQPDelivery, tenant: String?, code: String, detail: String) async -> Outcome {
        let parked = await deadLetter.parkAndAck(delivery, tenant: tenant, code: code, detail: detail)
        logger.warning("session event dead-lettered", metadata: [LogKey.tenant: "\(tenant ?? "-")", LogKey.code: "\(code)",
                                                                 LogKey.detail: "\(detail)"])
        return parked ? .deadLettered(code: code) : .requeued
    }
}
