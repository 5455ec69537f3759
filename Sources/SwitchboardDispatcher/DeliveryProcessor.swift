import Foundation
import Logging
import ServiceLifecycle
import SwitchboardAMQP
import SwitchboardBroker
import SwitchboardConsumers
import SwitchboardCore
import SwitchboardProviders
import SwitchboardStore
import SwitchboardTelemetry
import Tracing

/// One delivery from a tenant queue, from receipt to acknowledgement: decode, decide
/// (expired, unknown session, already sent), wait for the session's slot, send, then
/// record the outcome durably (store, `sb.statuses`, `sb.retry` or `sb.dlx`, each with a
/// confirm) and only then ack. A crash anywhere before the ack means a redelivery,
/// which the store's record of the provider's acceptance turns into a no-op.
struct DeliveryProcessor: Sendable {
    let book: SessionBook
    let restrictions: ContactRestrictions
    let pacer: SessionPacer
    /// The message ids being handled: a second copy of a message (a replay, a
    /// publisher's retry) waits for the first to settle, then finds its record, instead
    /// of passing the store check beside it and being sent twice.
    let inFlight: KeyedGate
    let providers: ProviderDirectory
    let messages: any MessageStore
    let publisher: AMQPConnection
    let topology: Topology
    let schedule: RetrySchedule
    let metrics: GatewayMetrics
    /// Continues the publisher's trace (the api's span) for each delivery; nil when off.
    let tracer: (any Tracer)?
    let logger: Logger

    /// What became of a delivery, for counters and tests.
    enum Outcome: Sendable, Hashable {
        case sent, alreadySent, retried, deadLettered(DeadLetterCode), requeued, suppressed(Suppression)

        /// Its `outcome` label in `switchboard_deliveries_total`.
        var label: String {
            switch self {
            case .sent: "sent"
            case .alreadySent: "already_sent"
            case .retried: "retried"
            case .deadLettered: "dead_lettered"
            case .requeued: "requeued"
            case .suppressed: "suppressed"
            }
        }
    }

    /// Processes a delivery and counts its outcome.
    func process(_ delivery: AMQPDelivery, tenant: TenantID) async -> Outcome {
        metrics.inFlight.increment()
        let outcome = await Traces.span("dispatch message", tracer: tracer, context: tracer.map(delivery.traceContext),
                                        kind: .consumer, attributes: ["switchboard.tenant": tenant.rawValue]) {
            await settle(delivery, tenant: tenant)
        }
        metrics.inFlight.decrement()
        metrics.deliveries(tenant.rawValue, outcome.label).increment()
        return outcome
    }

    private func settle(_ delivery: AMQPDelivery, tenant: TenantID) async -> Outcome {
        // Shutting down: what has not started its provider call goes back to the queue
        // at once; only calls already in flight finish and settle.
        if Task.isShuttingDownGracefully { return await handBack(delivery, tenant: tenant) }
        let key = delivery.properties.messageID.map { ["\(tenant)/\($0)"] } ?? []
        await inFlight.enter(key)
        defer { inFlight.leave(key) }
        do {
            let outcome = try await handle(delivery, tenant: tenant)
            if outcome == .requeued {
                // Not sendable right now (its session paused a moment ago, its tenant not
                // read yet): back to the queue, after a pause so it does not spin.
                if !Task.isShuttingDownGracefully { try? await Task.sleep(for: .milliseconds(500)) }
                try await delivery.nack(requeue: true)
            } else {
                try await delivery.ack()
            }
            return outcome
        } catch is StoppedBeforeSending {
            return await handBack(delivery, tenant: tenant)
        } catch {
            // Nothing durable happened, or the broker went away: leave the delivery
            // unacknowledged; the broker redelivers it (after a reconnect, to us or to
            // another instance) and the store makes a repeated send a no-op.
            logger.warning("delivery left for redelivery", metadata: [
                LogKey.tenant: "\(tenant)", LogKey.messageID: "\(delivery.properties.messageID ?? "")", LogKey.error: "\(error)",
            ])
            if !Task.isShuttingDownGracefully { try? await Task.sleep(for: .milliseconds(500)) }
            try? await delivery.nack(requeue: true)
            return .requeued
        }
    }

    /// Hands a delivery that was not sent back to its queue during a graceful shutdown.
    private func handBack(_ delivery: AMQPDelivery, tenant: TenantID) async -> Outcome {
        logger.debug("shutting down: delivery handed back to its queue", metadata: [
            LogKey.tenant: "\(tenant)", LogKey.messageID: "\(delivery.properties.messageID ?? "")",
        ])
        // If this fails the connection is gone, and the broker requeues it anyway.
        try? await delivery.nack(requeue: true)
        return .requeued
    }

    /// A graceful shutdown began before the provider call: nothing was done, so the
    /// delivery goes back to its queue.
    private struct StoppedBeforeSending: Error {}

    private func handle(_ delivery: AMQPDelivery, tenant: TenantID) async throws -> Outcome {
        let now = Date()
        let envelope: OutboundEnvelope
        do {
            envelope = try WireJSON.sharedDecoder.decode(OutboundEnvelope.self, from: delivery.body)
        } catch {
            try await deadLetter(delivery, tenant: tenant, envelope: nil, code: DeadLetterCode(.malformed),
                                 detail: "not an outbound envelope: \(error)", attempts: 0, at: now)
            return .deadLettered(DeadLetterCode(.malformed))
        }
        var metadata: Logger.Metadata { [LogKey.tenant: "\(tenant)", LogKey.messageID: "\(envelope.id)"] }
        guard envelope.tenant == tenant else {
            try await deadLetter(delivery, tenant: tenant, envelope: nil, code: DeadLetterCode(.malformed),
                                 detail: "envelope of tenant \(envelope.tenant) in tenant \(tenant)'s queue", attempts: 0,
                                 at: now)
            return .deadLettered(DeadLetterCode(.malformed))
        }
        let attempt = Self.attempt(of: delivery)
        if let expiresAt = envelope.expiresAt, expiresAt <= now {
            let session = envelope.session.flatMap { book.entry(tenant)?.sessions[$0] } ?? book.entry(tenant)?.primary
            try await deadLetter(delivery, tenant: tenant, envelope: envelope, code: DeadLetterCode(.expired),
                                 detail: "expired at \(WireJSON.format(expiresAt)) before it could be sent",
                                 attempts: attempt - 1, at: now, state: .expired, session: session)
            return .deadLettered(DeadLetterCode(.expired))
        }
        // A publisher may put envelopes straight on sb.outbound, past the api's checks:
        // the same rules apply here, or a 5,000-character text would reach the provider.
        // (Expiry was decided above, with the same `now`.)
        do { try envelope.validate(now: now) } catch {
            // An id that breaks its rule is not recorded under it: the dead letter alone
            // keeps the message.
            let session = envelope.session.flatMap { book.entry(tenant)?.sessions[$0] } ?? book.entry(tenant)?.primary
            try await deadLetter(delivery, tenant: tenant, envelope: MessageID.isValid(envelope.id) ? envelope : nil,
                                 code: DeadLetterCode(.invalid), detail: error.description, attempts: attempt - 1,
                                 at: now, session: session)
            return .deadLettered(DeadLetterCode(.invalid))
        }
        guard let entry = book.entry(tenant) else {
            // Not in the picture yet (created a moment ago): try again shortly.
            return .requeued
        }
        guard let session = envelope.session.flatMap({ entry.sessions[$0] }) ?? (envelope.session == nil ? entry.primary : nil)
        else {
            try await deadLetter(delivery, tenant: tenant, envelope: envelope, code: DeadLetterCode(.unknownSession),
                                 detail: "tenant \(tenant) has no session \(envelope.session.map(\.rawValue) ?? "(primary)")",
                                 attempts: attempt - 1, at: now)
            return .deadLettered(DeadLetterCode(.unknownSession))
        }
        guard session.status == .connected else { return .requeued }
        guard let client = providers.client(for: session.provider) else {
            // A session of a provider this build does not register (a store shared with
            // another build): no send is possible here; operators can replay it.
            try await deadLetter(delivery, tenant: tenant, envelope: envelope, code: DeadLetterCode(.unknownProvider),
                                 detail: "session \(session.id)'s provider '\(session.provider)' is not registered",
                                 attempts: attempt - 1, at: now, session: session)
            return .deadLettered(DeadLetterCode(.unknownProvider))
        }
        // Only a copy that may have been handled before needs the store's word: one the
        // broker redelivers, or one a publisher sent again under the same id. (A retry
        // comes back only after a failed send.)
        if delivery.redelivered || delivery.headers[OutboundHeader.republished] != nil,
           let providerID = try await messages.providerAcceptance(of: envelope.id, tenant: tenant)
        {
            logger.info("already accepted by the provider; not sent again",
                        metadata: metadata.merging([LogKey.providerMessageID: "\(providerID)"]) { $1 })
            // The first copy may have died between its record and its event: emit the event
            // again (same id, so consumers that saw it drop the repeat).
            try await publishEvent(.messageStatus(
                .init(status: .sent, messageID: envelope.id, providerMessageID: providerID),
                tenant: tenant, session: session.id, provider: session.provider, at: Date()))
            return .alreadySent
        }

        // Bulk to a contact who opted out or is paused is not sent (and takes no slot);
        // asked again after the slot, which a bulk message may wait for a while.
        if let outcome = try await suppressIfRestricted(envelope, session: session) { return outcome }

        // Act: the session's slot, then the provider.
        let limits = entry.tenant.limits
        let pacer = pacer, messageClass = envelope.messageClass
        let mayGo: Bool
        let waitStarted = ContinuousClock.now
        do {
            // A wait for a slow session's slot (minutes at a low bulk rate) ends at once
            // when a graceful shutdown begins.
            mayGo = try await cancelWhenGracefulShutdown {
                try await pacer.waitForSlot(session.id, messageClass, rate: limits.sessionRate,
                                            bulkShare: limits.bulkShare)
            }
        } catch {
            if Task.isShuttingDownGracefully { throw StoppedBeforeSending() }
            throw error
        }
        metrics.slotWait(messageClass.rawValue).recordSince(waitStarted)
        guard mayGo else {
            try await deadLetter(delivery, tenant: tenant, envelope: envelope, code: DeadLetterCode(.bulkNotAllowed),
                                 detail: "tenant \(tenant) gives bulk no share of its rate", attempts: attempt - 1, at: now)
            return .deadLettered(DeadLetterCode(.bulkNotAllowed))
        }
        if let expiresAt = envelope.expiresAt, expiresAt <= Date() {
            try await deadLetter(delivery, tenant: tenant, envelope: envelope, code: DeadLetterCode(.expired),
                                 detail: "expired while waiting for its session's slot", attempts: attempt - 1,
                                 at: Date(), state: .expired, session: session)
            return .deadLettered(DeadLetterCode(.expired))
        }
        if let outcome = try await suppressIfRestricted(envelope, session: session) { return outcome }
        if Task.isShuttingDownGracefully { throw StoppedBeforeSending() }
        let secrets = try await book.secrets(of: session.id)
        let sentAt: Date
        let receipt: ProviderReceipt
        let callStarted = ContinuousClock.now
        do {
            receipt = try await Traces.span("provider send", tracer: tracer, kind: .client,
                                            attributes: ["switchboard.provider": session.provider.rawValue])
            { () async throws(SendFailure) -> ProviderReceipt in
                try await client.send(envelope, through: session, secrets: secrets)
            }
            sentAt = Date()
            metrics.providerCall(session.provider.rawValue, "accepted").recordSince(callStarted)
        } catch {
            metrics.providerCall(session.provider.rawValue, Self.result(of: error)).recordSince(callStarted)
            return try await failed(delivery, envelope: envelope, session: session, attempt: attempt, failure: error)
        }
        if let acceptedAt = Self.acceptedAt(of: delivery) {
            metrics.sendLag(messageClass.rawValue).record(seconds: sentAt.timeIntervalSince(acceptedAt))
        }

        // Acknowledge only after the acceptance is durable in the store (what stops a
        // second send) and then the status event is confirmed. One after the other: a
        // subscriber that reads the event finds the record, and a crash between the two
        // re-emits the event on redelivery (above). Writing both at once (the store in a
        // child task) took ≈ 7 % more of the process's CPU per message in `bench outbound`.
        try await messages.recordSent(envelope, session: session.id, providerMessageID: receipt.providerMessageID,
                                      at: sentAt)
        try await publishEvent(.messageStatus(
            .init(status: .sent, messageID: envelope.id, providerMessageID: receipt.providerMessageID),
            tenant: tenant, session: session.id, provider: session.provider, at: sentAt))
        logger.debug("sent", metadata: metadata.merging([LogKey.session: "\(session.id)",
                                                         LogKey.providerMessageID: "\(receipt.providerMessageID)"]) { $1 })
        return .sent
    }

    /// Records a bulk message to a restricted contact as `suppressed` (store, then a
    /// `message.status` event with the reason as its error code); nil when it may go.
    private func suppressIfRestricted(_ envelope: OutboundEnvelope, session: Session) async throws -> Outcome? {
        guard envelope.messageClass == .bulk,
              let reason = restrictions.suppression(of: envelope.to, tenant: envelope.tenant)
        else { return nil }
        let now = Date()
        let detail = reason == .optedOut ? "the contact opted out" : "the contact's bulk messages are paused"
        try await messages.recordUnsent(envelope, session: session.id, state: .suppressed, code: reason.rawValue,
                                        detail: detail, at: now)
        try await publishEvent(.messageStatus(
            .init(status: .suppressed, messageID: envelope.id, providerMessageID: nil,
                  errorCode: reason.rawValue, errorDetail: detail),
            tenant: envelope.tenant, session: session.id, provider: session.provider, at: now))
        logger.info("bulk message suppressed", metadata: [
            LogKey.tenant: "\(envelope.tenant)", LogKey.session: "\(session.id)", LogKey.messageID: "\(envelope.id)",
            LogKey.reason: "\(reason.rawValue)",
        ])
        return .suppressed(reason)
    }

    /// A failed send: a transient failure goes to the retry tier its attempt (or the
    /// provider's Retry-After) calls for; a permanent one, or the last attempt, to sb.dlx.
    private func failed(_ delivery: AMQPDelivery, envelope: OutboundEnvelope, session: Session, attempt: Int,
                        failure: SendFailure) async throws -> Outcome {
        let now = Date()
        let metadata: Logger.Metadata = [
            LogKey.tenant: "\(envelope.tenant)", LogKey.session: "\(session.id)", LogKey.messageID: "\(envelope.id)",
            LogKey.attempt: "\(attempt)", LogKey.error: "\(failure)",
        ]
        if case .sessionDown(let status) = failure.kind {
            // Not the message's fault: the session's state is reported the way a provider's
            // webhook reports it (the monitor applies it and every dispatcher pauses the
            // tenant), and the message goes back to its queue with its attempts untouched.
            try await publishEvent(NormalizedEvent(
                id: EventID.derive(["send", session.id.rawValue, status.rawValue, "\(Int(now.timeIntervalSince1970) / 10)"]),
                type: .sessionStatus, tenant: envelope.tenant, session: session.id, provider: session.provider,
                occurredAt: now, receivedAt: now, sessionStatus: status))
            logger.warning("the provider says the session cannot send; message handed back", metadata: metadata)
            return .requeued
        }
        if failure.isTransient, case .retry(let tier) = schedule.decision(afterAttempt: attempt,
                                                                         retryAfter: failure.retryAfter) {
            var properties = delivery.properties
            var headers = delivery.headers
            headers[topology.retry.header] = .string(tier.name)
            headers[OutboundHeader.attempt] = .int32(Int32(attempt + 1))
            if headers[OutboundHeader.firstFailedAt] == nil {
                headers[OutboundHeader.firstFailedAt] = .string(WireJSON.format(now))
            }
            headers[OutboundHeader.lastFailedAt] = .string(WireJSON.format(now))
            headers[OutboundHeader.errorCode] = .string(failure.code)
            headers[OutboundHeader.errorDetail] = .string(failure.detail)
            properties.headers = headers
            try await publisher.publish(delivery.body, exchange: topology.retry.exchange, routingKey: delivery.routingKey,
                                        properties: properties)
            logger.info("send failed; retrying", metadata: metadata.merging([LogKey.tier: "\(tier.name)"]) { $1 })
            return .retried
        }
        let code = DeadLetterCode(failing: failure)
        logger.notice("send failed for good", metadata: metadata)
        try await deadLetter(delivery, tenant: envelope.tenant, envelope: envelope, code: code, detail: failure.detail,
                             attempts: attempt, at: now, session: session)
        return .deadLettered(code)
    }

    /// Publishes the delivery to `sb.dlx` under `<tenant>.<reason>` with the reason
    /// headers and its original routing key (with confirm), records it as unsent and
    /// emits a `failed` status event.
    private func deadLetter(_ delivery: AMQPDelivery, tenant: TenantID, envelope: OutboundEnvelope?,
                            code: DeadLetterCode, detail: String, attempts: Int, at now: Date,
                            state: MessageState = .failed, session: Session? = nil) async throws {
        var properties = delivery.properties
        var headers = delivery.headers
        headers[OutboundHeader.errorCode] = .string(code.wireValue)
        // Long enough for every broken field of an invalid envelope (as the inbound dead
        // letters keep), bounded so a provider's error page cannot bloat the headers.
        headers[OutboundHeader.errorDetail] = .string(String(detail.prefix(1000)))
        headers[OutboundHeader.attempts] = .int32(Int32(attempts))
        if headers[OutboundHeader.firstFailedAt] == nil {
            headers[OutboundHeader.firstFailedAt] = .string(WireJSON.format(now))
        }
        headers[OutboundHeader.lastFailedAt] = .string(WireJSON.format(now))
        headers[OutboundHeader.originalRoutingKey] = .string(delivery.routingKey)
        // Back to where publishers put it (a retried message arrives from the retry
        // tiers, whose dead-letter exchange is that same door).
        headers[OutboundHeader.originalExchange] = .string(topology.roles.outbound)
        if let session {
            headers[InboundHeader.session] = .string(session.id.rawValue)
            headers[InboundHeader.provider] = .string(session.provider.rawValue)
        }
        headers[topology.retry.header] = nil
        properties.headers = headers
        try await publisher.publish(delivery.body, exchange: topology.roles.deadLetters,
                                    routingKey: "\(tenant).\(code.reason.rawValue)",
                                    properties: properties)
        guard let envelope else { return }
        try await messages.recordUnsent(envelope, session: session?.id ?? envelope.session, state: state,
                                        code: code.wireValue, detail: detail, at: now)
        try await publishEvent(.messageStatus(
            .init(status: .failed, messageID: envelope.id, providerMessageID: nil, errorCode: code.wireValue,
                  errorDetail: detail),
            tenant: tenant, session: session?.id ?? envelope.session, provider: session?.provider, at: now))
    }

    private func publishEvent(_ event: NormalizedEvent) async throws {
        try await publisher.publish(event, over: topology.roles, tracer: tracer)
    }

    /// A failed provider call's `result` label.
    private static func result(of failure: SendFailure) -> String {
        if case .sessionDown = failure.kind { return "session_down" }
        return failure.isTransient ? "transient" : "permanent"
    }

    /// When the message was accepted: `sb-accepted-at` (ms), else the AMQP timestamp (s).
    static func acceptedAt(of delivery: AMQPDelivery) -> Date? {
        switch delivery.headers[OutboundHeader.acceptedAt] {
        case .int64(let milliseconds): Date(timeIntervalSince1970: Double(milliseconds) / 1000)
        case .int32(let milliseconds): Date(timeIntervalSince1970: Double(milliseconds) / 1000)
        default: delivery.properties.timestamp
        }
    }

    /// `sb-attempt` as publishers, the api and the retry path set it (1 if absent).
    static func attempt(of delivery: AMQPDelivery) -> Int {
        switch delivery.headers[OutboundHeader.attempt] {
        case .int8(let value): Int(value)
        case .int16(let value): Int(value)
        case .int32(let value): Int(value)
        case .int64(let value): Int(value)
        case .string(let value): Int(value) ?? 1
        default: 1
        }
    }
}
