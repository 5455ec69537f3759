import Foundation
public import Logging
public import ServiceLifecycle
public import SwitchboardAMQP
import SwitchboardConsumers
public import SwitchboardCore
public import SwitchboardStore
public import SwitchboardTelemetry
public import Tracing

/// The `logger` service: records each contact's `message.received` from
/// `sb.events.logger` in the message log, for the contact's thread. (Statuses are
/// written by whoever learns them: the dispatcher its own, the normalizer the
/// provider's.) Every event is applied idempotently, so a redelivery changes nothing.
public final class MessageLogWriter: Service, Sendable {
    public struct Configuration: Sendable {
        public var prefetch: UInt16

        public init(prefetch: UInt16 = 64) {
            self.prefetch = prefetch
        }
    }

    private let configuration: Configuration
    private let connection: AMQPConnection
    private let metrics: GatewayMetrics
    private let tracer: (any Tracer)?
    private let log: any MessageLogStore
    private let deadLetter: DeadLetter
    private let logger: Logger

    /// The log's queue (the topology's `logger-queue` role).
    private let queue: String

    public init(configuration: Configuration = Configuration(), connection: AMQPConnection, topology: Topology,
                log: any MessageLogStore, metrics: GatewayMetrics = .off,
                tracer: (any Tracer)? = nil, logger: Logger) {
        self.configuration = configuration
        self.metrics = metrics
        self.tracer = tracer
        self.connection = connection
        self.log = log
        self.logger = logger
        queue = topology.roles.loggerQueue
        deadLetter = DeadLetter(publisher: connection, exchange: topology.roles.deadLetters)
    }

    public func run() async throws {
        await QueueWorker(connection: connection, queue: queue, prefetch: configuration.prefetch,
                          service: "logger", metrics: metrics, tracer: tracer, logger: logger).run { delivery in await self.handle(delivery) }
        logger.info("logger stopped")
    }

    func handle(_ delivery: AMQPDelivery) async -> ConsumerOutcome {
        let event: NormalizedEvent
        do { event = try WireJSON.sharedDecoder.decode(NormalizedEvent.self, from: delivery.body) } catch {
            let tenant = delivery.headers[OutboundHeader.tenant]?.stringValue
            await deadLetter.parkAndAck(delivery, tenant: tenant, code: DeadLetterReason.malformed.rawValue,
                                        detail: "not a normalized event: \(error)")
            logger.warning("event dead-lettered", metadata: [LogKey.tenant: "\(tenant ?? "-")", LogKey.error: "\(error)"])
            return .deadLettered
        }
        let metadata: Logger.Metadata = [LogKey.tenant: "\(event.tenant)", LogKey.session: "\(event.session?.rawValue ?? "-")",
                                         LogKey.eventID: "\(event.id)"]
        do {
            try await apply(event, metadata: metadata)
            try? await delivery.ack()
            return .handled
        } catch .database(let why) {
            // SQLite is busy or failing: the event waits in the queue and comes again.
            logger.error("event not logged; retrying", metadata: metadata.merging([LogKey.error: "\(why)"]) { $1 })
            try? await Task.sleep(for: .milliseconds(500))
            try? await delivery.nack(requeue: true)
            return .retried
        } catch {
            // It can never be logged (its tenant is gone, say): retrying would loop forever.
            await deadLetter.parkAndAck(delivery, tenant: event.tenant.rawValue, code: "unloggable",
                                        detail: error.description)
            logger.warning("event dead-lettered", metadata: metadata.merging([LogKey.error: "\(error)"]) { $1 })
            return .deadLettered
        }
    }

    private func apply(_ event: NormalizedEvent, metadata: Logger.Metadata) async throws(StoreError) {
        switch event.type {
        case .messageStatus:
            // Statuses go to their own exchange, which this queue is not bound to: the
            // dispatcher and the normalizer write them where they learn them. One that
            // still comes (published by an older build, or bound here by an operator) is
            // applied: the write is idempotent.
            guard let report = StatusReport(event) else { return }
            let outcome = try await log.applyStatus(report)
            logger.debug("status logged", metadata: metadata.merging([
                LogKey.messageID: "\(report.messageID ?? "-")", LogKey.state: "\(report.state)",
                LogKey.outcome: "\(outcome)",
            ]) { $1 })
        case .messageReceived:
            guard event.message?.fromMe != true else {
                // The session's own number wrote it (from a phone): not a contact's message.
                logger.debug("own message not logged as inbound", metadata: metadata)
                return
            }
            try await log.recordInbound(event)
        case .sessionStatus, .inboxAlert, .deadLetterAlert, .sessionAlert:
            break
        }
    }
}
