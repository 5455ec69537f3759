import Foundation
public import Logging
public import ServiceLifecycle
public import SwitchboardAMQP
import SwitchboardConsumers
import SwitchboardBroker
public import SwitchboardCore
import SwitchboardProviders
public import SwitchboardStore
public import SwitchboardTelemetry
public import Tracing

/// The `normalizer` service: turns each raw webhook on `sb.inbound.raw` into normalized
/// events. Per webhook: parse (one webhook may hold many events); write the provider's
/// message statuses to the message log (joined to our message ids; a status the log
/// holds already needs no event); drop other events published before (their ids come
/// from provider ids, remembered in the store for `dedupeFor`); publish the rest with
/// confirm (statuses to `sb.statuses`, the rest to `sb.events`), remember them, and only
/// then acknowledge the raw webhook. A body it cannot parse is dead-lettered to `sb.dlx`
/// as `<tenant>.unparseable`, intact.
public final class Normalizer: Service, Sendable {
    public struct Configuration: Sendable {
        /// Webhooks handled at once.
        public var prefetch: UInt16
        /// How long an event id is remembered (Meta retries for up to 7 days).
        public var dedupeFor: Duration
        /// How often expired ids are forgotten.
        public var purgeInterval: Duration

        public init(prefetch: UInt16 = 64, dedupeFor: Duration = .seconds(8 * 86_400),
                    purgeInterval: Duration = .seconds(3600)) {
            self.prefetch = prefetch
            self.dedupeFor = dedupeFor
            self.purgeInterval = purgeInterval
        }
    }

    /// What became of one raw webhook.
    public enum Outcome: Sendable, Hashable {
        /// `published` new events, `duplicates` dropped as seen before.
        case normalized(published: Int, duplicates: Int)
        case deadLettered(code: String)
        /// Not settled: handed back to the queue to try again.
        case requeued

        var consumerOutcome: ConsumerOutcome {
            switch self {
            case .normalized: .handled
            case .deadLettered: .deadLettered
            case .requeued: .retried
            }
        }
    }

    private let configuration: Configuration
    private let connection: AMQPConnection
    private let metrics: GatewayMetrics
    /// Continues each webhook's trace into the events it publishes; nil when off.
    private let tracer: (any Tracer)?
    private let directory: SessionDirectory
    private let dedupe: any EventDedupeStore
    private let messageLog: any MessageLogStore
    private let gate = KeyedGate()
    private let deadLetter: DeadLetter
    private let logger: Logger

    /// The normalizer's queue and where events and dead letters go: the topology's roles.
    private let roles: Topology.Roles

    public init(configuration: Configuration = Configuration(), connection: AMQPConnection, topology: Topology,
                directory: SessionDirectory,
                dedupe: any EventDedupeStore, messageLog: any MessageLogStore, metrics: GatewayMetrics = .off,
                tracer: (any Tracer)? = nil, logger: Logger) {
        self.configuration = configuration
        self.metrics = metrics
        self.tracer = tracer
        self.connection = connection
        self.directory = directory
        self.dedupe = dedupe
        self.messageLog = messageLog
        self.logger = logger
        roles = topology.roles
        deadLetter = DeadLetter(publisher: connection, exchange: topology.roles.deadLetters)
    }

    public func run() async throws {
        let worker = QueueWorker(connection: connection, queue: roles.inboundQueue, prefetch: configuration.prefetch,
                                 service: "normalizer", metrics: metrics, tracer: tracer, logger: logger)
        await withDiscardingTaskGroup { group in
            group.addTask { await self.purgeExpired() }
            await worker.run { delivery in await self.handle(delivery).consumerOutcome }
            group.cancelAll()
        }
        logger.info("normalizer stopped")
    }

    /// Normalizes one raw webhook and settles it.
    public func handle(_ delivery: AMQPDelivery) async -> Outcome {
        let headers = delivery.headers
        let tenantName = headers[InboundHeader.tenant]?.stringValue
        var metadata: Logger.Metadata = [LogKey.tenant: "\(tenantName ?? "-")",
                                         LogKey.session: "\(headers[InboundHeader.session]?.stringValue ?? "-")"]
        guard let provider = headers[InboundHeader.provider]?.stringValue.flatMap(ProviderKind.init(rawValue:)),
              let tenant = tenantName.flatMap({ try? TenantID($0) }),
              let session = headers[InboundHeader.session]?.stringValue.flatMap({ try? SessionID($0) })
        else {
            return await park(delivery, tenant: tenantName, code: DeadLetterReason.malformed.rawValue,
                              detail: "the raw webhook lacks sb-provider, sb-tenant or sb-session", metadata: metadata)
        }
        metadata[LogKey.provider] = "\(provider)"
        let receivedAt = headers[InboundHeader.receivedAt]?.intValue
            .map { Date(timeIntervalSince1970: Double($0) / 1000) } ?? delivery.properties.timestamp ?? Date()
        let raw = RawWebhook(provider: provider, session: session, tenant: tenant, receivedAt: receivedAt,
                             body: delivery.body)

        var parsed: ParsedWebhook
        do { parsed = try await parse(raw) } catch {
            metrics.inboundDeadLettered(provider.rawValue, error.code).increment()
            return await park(delivery, tenant: tenant.rawValue, code: error.code, detail: error.description,
                              metadata: metadata)
        }
        for note in parsed.skipped {
            logger.debug("webhook part skipped", metadata: metadata.merging([LogKey.why: "\(note)"]) { $1 })
        }
        // A provider's statuses are written to the message log here, where they are learnt:
        // one write joins each to our message, moves it on and tells a status known before
        // (a replayed webhook, or the `sent` the dispatcher published itself), which needs
        // no event again. Other events are remembered by id in the dedupe memory.
        let statuses: [Int: AppliedStatus]
        do { statuses = try await applyStatuses(parsed.events) } catch {
            guard case .database = error else {
                // It can never be written (its tenant is gone, say): retrying would loop.
                return await park(delivery, tenant: tenant.rawValue, code: "unloggable", detail: error.description,
                                  metadata: metadata)
            }
            logger.error("cannot write statuses to the message log",
                         metadata: metadata.merging([LogKey.error: "\(error)"]) { $1 })
            return await requeue(delivery)
        }
        let others = parsed.events.indices.filter { statuses[$0] == nil }
        // Remembered per tenant: two tenants' providers may reuse an id (Wasender's are
        // integers), and one tenant's events must never hide another's.
        let ids = others.map { parsed.events[$0].dedupeKey }
        await gate.enter(ids)
        defer { gate.leave(ids) }
        var fresh: [NormalizedEvent] = []
        do {
            let seen = try await dedupe.seenEvents(among: ids)
            var taken: Set<String> = []
            for (index, event) in parsed.events.enumerated() {
                if let applied = statuses[index] {
                    // A status applied before may have been written by a delivery that died
                    // before its event was confirmed: a redelivery publishes it again.
                    guard applied.outcome.isNew || (delivery.redelivered && applied.outcome != .unknown) else { continue }
                    var event = event
                    if var status = event.status, status.messageID == nil {
                        status.messageID = applied.messageID
                        event.status = status
                    }
                    fresh.append(event)
                } else if !seen.contains(event.dedupeKey), taken.insert(event.dedupeKey).inserted {
                    fresh.append(event)
                }
            }
        } catch {
            logger.error("cannot read the dedupe memory", metadata: metadata.merging([LogKey.error: "\(error)"]) { $1 })
            return await requeue(delivery)
        }
        do {
            for event in fresh { try await connection.publish(event, over: roles, tracer: tracer) }
        } catch {
            logger.warning("events not published", metadata: metadata.merging([LogKey.error: "\(error)"]) { $1 })
            return await requeue(delivery)
        }
        let remembered = fresh.filter { $0.type != .messageStatus }.map(\.dedupeKey)
        do {
            try await dedupe.markEventsSeen(remembered,
                                            until: Date().addingTimeInterval(configuration.dedupeFor.seconds))
        } catch {
            // The events are out; only a replay of this webhook could repeat them now
            // (subscribers see the same event id and can drop it).
            logger.error("events published but not remembered", metadata: metadata.merging([LogKey.error: "\(error)"]) { $1 })
        }
        for event in fresh { metrics.events(event.type.rawValue).increment() }
        if parsed.events.count > fresh.count {
            metrics.inboundDuplicates(provider.rawValue).increment(by: parsed.events.count - fresh.count)
        }
        do { try await delivery.ack() } catch {
            logger.warning("raw webhook not acknowledged", metadata: metadata.merging([LogKey.error: "\(error)"]) { $1 })
        }
        return .normalized(published: fresh.count, duplicates: parsed.events.count - fresh.count)
    }

    /// Parses with the sessions known now; if a Meta number was unknown, refreshes the
    /// directory once and parses again. The session's own number is the `to` of the
    /// messages a WasenderAPI webhook brings (their bodies do not name it).
    private func parse(_ raw: RawWebhook) async throws(WebhookParseError) -> ParsedWebhook {
        let sessionNumber = raw.provider == .meta ? nil : await directory.entry(for: raw.session)?.session.phoneNumber
        var missed: [String] = []
        let parsed = try WebhookParser.parse(raw, sessionNumber: sessionNumber) { phoneNumberID in
            let route = directory.knownRoute(forPhoneNumberID: phoneNumberID)
            if route == nil { missed.append(phoneNumberID) }
            return route
        }
        guard let first = missed.first, await directory.entry(forPhoneNumberID: first) != nil else { return parsed }
        return try WebhookParser.parse(raw, sessionNumber: sessionNumber) { directory.knownRoute(forPhoneNumberID: $0) }
    }

    /// Applies the webhook's message statuses to the message log in one write; by the
    /// event's index. Other events are not in the answer.
    private func applyStatuses(_ events: [NormalizedEvent]) async throws(StoreError) -> [Int: AppliedStatus] {
        let reports = events.enumerated().compactMap { index, event in StatusReport(event).map { (index, $0) } }
        guard !reports.isEmpty else { return [:] }
        let applied = try await messageLog.applyStatuses(reports.map(\.1))
        return Dictionary(uniqueKeysWithValues: zip(reports.map(\.0), applied))
    }

    private func park(_ delivery: AMQPDelivery, tenant: String?, code: String, detail: String,
                      metadata: Logger.Metadata) async -> Outcome
    {
        do {
            try await deadLetter.park(delivery, tenant: tenant, code: code, detail: detail)
            try await delivery.ack()
            logger.warning("raw webhook dead-lettered",
                           metadata: metadata.merging([LogKey.code: "\(code)", LogKey.detail: "\(detail)"]) { $1 })
            return .deadLettered(code: code)
        } catch {
            logger.error("cannot dead-letter a raw webhook", metadata: metadata.merging([LogKey.error: "\(error)"]) { $1 })
            return await requeue(delivery)
        }
    }

    private func requeue(_ delivery: AMQPDelivery) async -> Outcome {
        // A short pause keeps a broker or store outage from spinning the queue.
        try? await Task.sleep(for: .milliseconds(500))
        try? await delivery.nack(requeue: true)
        return .requeued
    }

    private func purgeExpired() async {
        while (try? await Task.sleep(for: configuration.purgeInterval)) != nil {
            let now = Date()
            do {
                let removed = try await dedupe.forgetExpired(
                    before: now, pendingStatusesBefore: now.addingTimeInterval(-configuration.dedupeFor.seconds))
                logger.debug("dedupe memory purged", metadata: [LogKey.rows: "\(removed)"])
            } catch {
                logger.warning("cannot purge the dedupe memory", metadata: [LogKey.error: "\(error)"])
            }
        }
    }
}

extension NormalizedEvent {
    /// What the dedupe memory keeps: the tenant and the event id.
    var dedupeKey: String { "\(tenant)/\(id)" }
}
