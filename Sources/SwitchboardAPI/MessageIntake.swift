import Foundation
import Logging
import SwitchboardAMQP
import SwitchboardBroker
import SwitchboardCore
import SwitchboardHTTP
import SwitchboardStore
import SwitchboardTelemetry
import Tracing

/// How a message enters the gateway over HTTP: check it, fill its defaults, claim its
/// idempotency key, publish it to `sb.outbound` with confirm, record it as queued. The
/// answer is given only after the broker has the message on disk.
struct MessageIntake: Sendable {
    let sessions: any SessionStore
    let messages: any MessageStore
    let publisher: AMQPConnection
    /// The exchange publishers hand messages to (`sb.outbound`).
    let exchange: String
    /// How long a claim may stay `accepting` before a retry may take it over.
    let staleClaimAfter: Duration
    let caches: APICaches
    let metrics: GatewayMetrics
    /// Spans of accepted messages, whose context travels in the envelope's headers to the
    /// dispatcher; nil when tracing is off.
    let tracer: (any Tracer)?
    let logger: Logger

    /// What happened to an accepted message.
    struct Accepted: Sendable {
        let receipt: MessageReceipt
        /// True when this answers a retry of a request accepted before.
        let replayed: Bool
    }

    /// Takes one message (counted as accepted, replayed or refused with the problem's kind).
    func submit(_ request: SendMessageRequest, tenant: TenantID, idempotencyKey: String?, now: Date = Date())
        async throws(Problem) -> Accepted
    {
        do {
            let accepted = try await Traces.span("accept message", tracer: tracer, kind: .server,
                                                 attributes: ["switchboard.tenant": tenant.rawValue])
            { () async throws(Problem) -> Accepted in
                try await take(request, tenant: tenant, idempotencyKey: idempotencyKey, now: now)
            }
            metrics.apiMessages(tenant.rawValue, accepted.replayed ? "replayed" : "accepted", "").increment()
            return accepted
        } catch {
            metrics.apiMessages(tenant.rawValue, "refused", error.kind).increment()
            throw error
        }
    }

    private func take(_ request: SendMessageRequest, tenant: TenantID, idempotencyKey: String?, now: Date)
        async throws(Problem) -> Accepted
    {
        // Decide: everything that can be checked without the broker is checked first, so
        // a bad request never reaches it.
        var problems: [EnvelopeProblem] = []
        let recipient: PhoneNumber?
        do { recipient = try PhoneNumber(request.to) } catch {
            recipient = nil
            problems.append(EnvelopeProblem(field: "to", detail: "'\(request.to)' is not E.164 (e.g. +14155550123)"))
        }
        if let idempotencyKey, !MessageID.isValid(idempotencyKey) {
            throw .validation(field: "Idempotency-Key", "must be 1–128 of A-Z a-z 0-9 . _ : -")
        }
        let session = try await resolveSession(named: request.session, of: tenant)
        let envelope = OutboundEnvelope(
            id: request.id ?? MessageID.make(at: now), tenant: tenant, session: session.id,
            messageClass: request.messageClass ?? .transactional, to: recipient ?? .example,
            type: request.type ?? .text, text: request.text, media: request.media, location: request.location,
            template: request.template, campaign: request.campaign, expiresAt: request.expiresAt,
            metadata: request.metadata)
        // The envelope's own rules, the ones the dispatcher applies too.
        do { try envelope.validate(now: now) } catch { problems += error.problems }
        guard problems.isEmpty, let recipient else { throw .validation(problems) }

        let claim = MessageClaim(
            tenant: tenant, id: envelope.id, idempotencyKey: idempotencyKey ?? envelope.id,
            requestHash: request.fingerprint, session: session.id, messageClass: envelope.messageClass,
            to: recipient, type: envelope.type, campaign: envelope.campaign, text: envelope.text,
            expiresAt: envelope.expiresAt,
            createdAt: now)
        if request.id == nil, idempotencyKey == nil {
            return try await publishFresh(envelope, claim: claim, now: now)
        }
        let outcome: ClaimOutcome
        do { outcome = try await messages.claim(claim, staleAfter: staleClaimAfter) } catch {
            throw Problem(error)
        }
        var toPublish = envelope
        var resumed = false
        switch outcome {
        case .claimed:
            break
        case .accepted(let first):
            return Accepted(receipt: MessageReceipt(first), replayed: true)
        case .resumed(let first):
            // Same request, unknown outcome before: publish again under the first id.
            toPublish.id = first.id
            toPublish.session = first.session
            resumed = true
            logger.info("resuming an unconfirmed message", metadata: Self.metadata(of: toPublish))
        case .inProgress(let first):
            throw .conflict("in-progress", "a request with this idempotency key is being processed (message \(first.id))")
        case .keyReused(let first):
            throw .conflict("idempotency-key-reused",
                            "idempotency key '\(claim.idempotencyKey)' was used for a different request (message \(first.id))")
        case .idTaken:
            throw .conflict("id-taken", "message id '\(envelope.id)' is taken by another message of this tenant")
        }
        return try await publish(toPublish, now: now, republished: resumed)
    }

    /// Act, for a message under a key: publish with confirm (its claim is held), then
    /// record it as queued.
    private func publish(_ envelope: OutboundEnvelope, now: Date, republished: Bool) async throws(Problem) -> Accepted {
        if let error = await publishWithConfirm(envelope, now: now, republished: republished) {
            throw await settleFailedPublish(envelope, error)
        }
        return await recordQueued(envelope)
    }

    /// Act, for a message with an id made here and no idempotency key: no other request
    /// can hold its key, so nothing is claimed first; once the broker confirmed it, it is
    /// recorded as queued in one batched insert. (Were this process to die between the
    /// two, the message would still be sent; only its status would be unknown here.)
    private func publishFresh(_ envelope: OutboundEnvelope, claim: MessageClaim, now: Date)
        async throws(Problem) -> Accepted
    {
        if let error = await publishWithConfirm(envelope, now: now) { throw Self.problem(error, envelope) }
        let acceptedAt = Date()
        await messages.recordQueued(claim, at: acceptedAt)
        logger.debug("message queued", metadata: Self.metadata(of: envelope))
        return Accepted(receipt: MessageReceipt(envelope: envelope, session: envelope.session!, acceptedAt: acceptedAt),
                        replayed: false)
    }

    /// Publishes to `sb.outbound` and waits for the broker's confirm; nil once confirmed.
    private func publishWithConfirm(_ envelope: OutboundEnvelope, now: Date, republished: Bool = false) async
        -> AMQPError?
    {
        let body: Data
        do { body = try envelope.wireBody() } catch {
            return AMQPError(.protocolError, "the envelope could not be encoded: \(error)")
        }
        var properties = envelope.amqpProperties(at: now, republished: republished)
        properties.injectTraceContext(tracer)
        do {
            try await publisher.publish(body, exchange: exchange, routingKey: envelope.routingKey,
                                        properties: properties)
            return nil
        } catch {
            var metadata = Self.metadata(of: envelope)
            metadata[LogKey.error] = "\(error)"
            if error.code == .publishNacked {
                logger.notice("publish refused: the tenant's backlog quota is full", metadata: metadata)
            } else {
                logger.warning("publish failed", metadata: metadata)
            }
            return error
        }
    }

    /// A failed publish frees the claim, or leaves it resumable when its outcome is
    /// unknown; returns the answer for the caller.
    private func settleFailedPublish(_ envelope: OutboundEnvelope, _ error: AMQPError) async -> Problem {
        switch error.code {
        case .connectionLost:
            try? await messages.markUnconfirmed(envelope.id, of: envelope.tenant)
        default:
            try? await messages.releaseClaim(envelope.id, of: envelope.tenant)
        }
        return Self.problem(error, envelope)
    }

    private static func problem(_ error: AMQPError, _ envelope: OutboundEnvelope) -> Problem {
        switch error.code {
        case .connectionLost:
            .brokerUnavailable(
                "the connection to the broker dropped before it confirmed the message; retry with the same "
                    + "Idempotency-Key (or id) to publish it at most once more", messageID: envelope.id)
        case .publishNacked:
            .backlogFull(envelope.tenant)
        default:
            .brokerUnavailable("the message was not published: \(error.message)")
        }
    }

    private func recordQueued(_ envelope: OutboundEnvelope) async -> Accepted {
        let acceptedAt = Date()
        await messages.markQueued(envelope.id, of: envelope.tenant, at: acceptedAt)
        logger.debug("message queued", metadata: Self.metadata(of: envelope))
        return Accepted(receipt: MessageReceipt(envelope: envelope, session: envelope.session!, acceptedAt: acceptedAt),
                        replayed: false)
    }

    private static func metadata(of envelope: OutboundEnvelope) -> Logger.Metadata {
        [LogKey.tenant: "\(envelope.tenant)", LogKey.session: "\(envelope.session.map(\.rawValue) ?? "")",
         LogKey.messageID: "\(envelope.id)"]
    }

    /// The named session if it is the tenant's, else the tenant's primary. Another
    /// tenant's session is "not found", like one that does not exist.
    private func resolveSession(named name: String?, of tenant: TenantID) async throws(Problem) -> Session {
        do {
            if let name {
                guard let id = try? SessionID(name),
                      let session = try await caches.sessions.value(for: name, orLoad: { try await sessions.session(id) }),
                      session.tenant == tenant
                else { throw Problem.notFound("session \(name)") }
                return session
            }
            guard let primary = try await caches.primarySessions.value(
                for: tenant.rawValue, orLoad: { try await sessions.primarySession(of: tenant) })
            else {
                throw Problem.validation(field: "session", "tenant \(tenant) has no session yet: add one first")
            }
            return primary
        } catch let problem as Problem {
            throw problem
        } catch let error as StoreError {
            throw Problem(error)
        } catch {
            throw .internalError
        }
    }
}
