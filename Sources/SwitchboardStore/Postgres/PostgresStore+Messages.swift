public import Foundation
import PostgresNIO
public import SwitchboardCore
import SwitchboardTelemetry

// Outbound messages and their idempotency keys. Every decision two instances could
// race on is one statement: the claim is an insert that a unique key refuses, the
// moves forward are updates conditioned on the state they leave.

private let messageColumns = """
    tenant_id, id, idempotency_key, request_hash, session_id, class, recipient, type, campaign, state,
    provider_message_id, error, expires_at, created_at, updated_at, text
    """

private let insertMessage = """
    INSERT INTO messages (\(messageColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT DO NOTHING RETURNING 1
    """

private func storedMessage(_ row: PostgresSQLRow, history: [MessageStatusEntry]) throws -> StoredMessage {
    let id: String = try row.get("id")
    guard let messageClass = MessageClass(rawValue: try row.get("class")),
          let type = MessageType(rawValue: try row.get("type")), let state = MessageState(rawValue: try row.get("state"))
    else { throw StoreError.database("message \(id) has an unknown class, type or state") }
    return StoredMessage(
        tenant: try TenantID(try row.get("tenant_id") as String), id: id, idempotencyKey: try row.get("idempotency_key"),
        requestHash: try row.get("request_hash"), session: try SessionID(try row.get("session_id") as String),
        messageClass: messageClass, to: try PhoneNumber(try row.get("recipient") as String), type: type,
        campaign: try row.get("campaign"), text: try row.get("text"), state: state,
        providerMessageID: try row.get("provider_message_id"), error: try row.get("error"),
        expiresAt: try row.optionalDate("expires_at"), createdAt: try row.date("created_at"),
        updatedAt: try row.date("updated_at"), history: history)
}

private func fetchMessage(tenant: String, where column: String, _ value: String, in db: PostgresSQL) async throws
    -> StoredMessage?
{
    guard let row = try await db.one("SELECT \(messageColumns) FROM messages WHERE tenant_id = ? AND \(column) = ?",
                                     [tenant, value])
    else { return nil }
    let id: String = try row.get("id")
    let history = try await db.rows("""
        SELECT state, at, detail FROM message_events WHERE tenant_id = ? AND message_id = ? ORDER BY seq
        """, [tenant, id]).compactMap { event -> MessageStatusEntry? in
        guard let state = MessageState(rawValue: try event.get("state")) else { return nil }
        return MessageStatusEntry(state: state, at: try event.date("at"), detail: try event.get("detail"))
    }
    return try storedMessage(row, history: history)
}

extension PostgresStore: MessageStore {
    public func claim(_ claim: MessageClaim, staleAfter: Duration) async throws(StoreError) -> ClaimOutcome {
        let staleBefore = claim.createdAt.addingTimeInterval(-staleAfter.seconds).timeIntervalSince1970
        let tenant = claim.tenant.rawValue
        let now = claim.createdAt.timeIntervalSince1970
        let values: [any SQLBindable] = [
            tenant, claim.id, claim.idempotencyKey, claim.requestHash, claim.session.rawValue,
            claim.messageClass.rawValue, claim.to.e164, claim.type.rawValue, claim.campaign,
            MessageState.accepting.rawValue, SQLValue.null, SQLValue.null, claim.expiresAt?.timeIntervalSince1970,
            now, now, claim.text,
        ]
        // The common case is a new key: one insert (batched with the claims arriving with
        // it), and only a look around when a key refused it; every step after is a
        // statement that decides alone.
        let inserted: Bool
        do { inserted = try await batches.claims.submit(claim) } catch { throw Self.map(error) }
        if inserted { return .claimed }
        return try await run { db -> ClaimOutcome in
            guard let holder = try await fetchMessage(tenant: tenant, where: "idempotency_key", claim.idempotencyKey,
                                                      in: db)
            else { return .idTaken }
            guard holder.requestHash == claim.requestHash else { return .keyReused(holder) }
            switch holder.state {
            case .unconfirmed:
                return .resumed(holder)
            case .accepting where holder.updatedAt.timeIntervalSince1970 < staleBefore:
                // Only one of several retries racing here takes over the stale claim.
                let taken = try await db.execute("""
                    UPDATE messages SET updated_at = ? WHERE tenant_id = ? AND id = ? AND state = 'accepting'
                        AND updated_at < ? RETURNING 1
                    """, [now, tenant, holder.id, staleBefore])
                return taken > 0 ? .resumed(holder) : .inProgress(holder)
            case .accepting:
                return .inProgress(holder)
            default:
                return .accepted(holder)
            }
        }
    }

    public func markQueued(_ id: String, of tenant: TenantID, at: Date) async {
        do {
            // The state moves on and the history gains the step, or neither: one
            // statement, batched with the marks arriving with it.
            try await batches.queuedMarks.submit(QueuedMark(tenant: tenant.rawValue, id: id, at: at.timeIntervalSince1970))
        } catch {
            // The broker has the message; only its record lags (it stays `accepting`, and a
            // retry after the stale time publishes it again under the same id).
            logger.error("message queued but not recorded", metadata: [
                LogKey.tenant: "\(tenant)", LogKey.messageID: "\(id)", LogKey.error: "\(error)",
            ])
        }
    }

    public func recordQueued(_ message: MessageClaim, at: Date) async {
        let values: [any SQLBindable] = [
            message.tenant.rawValue, message.id, message.idempotencyKey, message.requestHash, message.session.rawValue,
            message.messageClass.rawValue, message.to.e164, message.type.rawValue, message.campaign,
            MessageState.queued.rawValue, SQLValue.null, SQLValue.null, message.expiresAt?.timeIntervalSince1970,
            message.createdAt.timeIntervalSince1970, at.timeIntervalSince1970, message.text,
        ]
        do {
            try await run { db in
                // This write trails the 202: the dispatcher may have sent the message and
                // recorded it first. Its row stays as it is (never backwards); the history
                // still gains `queued`, at the instant the api accepted it. One statement.
                try await db.execute("""
                    WITH message AS (
                        INSERT INTO messages (\(messageColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT DO NOTHING)
                    INSERT INTO message_events (tenant_id, message_id, state, at) VALUES (?, ?, 'queued', ?)
                    """, values + [message.tenant.rawValue, message.id, at.timeIntervalSince1970])
            }
        } catch {
            logger.error("message queued but not recorded", metadata: [
                LogKey.tenant: "\(message.tenant)", LogKey.messageID: "\(message.id)", LogKey.error: "\(error)",
            ])
        }
    }

    public func providerAcceptance(of id: String, tenant: TenantID) async throws(StoreError) -> String? {
        try await run { db in
            try await db.one("""
                SELECT coalesce(provider_message_id, '') AS provider_id FROM messages
                WHERE tenant_id = ? AND id = ? AND state IN ('sent', 'delivered', 'read', 'played')
                """, [tenant.rawValue, id])?.get("provider_id") as String?
        }
    }

    public func recordSent(_ envelope: OutboundEnvelope, session: SessionID, providerMessageID: String, at: Date)
        async throws(StoreError)
    {
        try await record(envelope, session: session, state: .sent, providerMessageID: providerMessageID,
                         error: nil, detail: providerMessageID, at: at)
    }

    public func recordUnsent(_ envelope: OutboundEnvelope, session: SessionID?, state: MessageState, code: String,
                             detail: String, at: Date) async throws(StoreError)
    {
        try await record(envelope, session: session ?? envelope.session, state: state, providerMessageID: nil,
                         error: "\(code): \(detail)", detail: code, at: at)
    }

    /// Moves a message forward to `state` (from accepting, unconfirmed or queued; or from
    /// failed or expired, when an operator replayed its dead letter), creating its row if
    /// it came over AMQP, and adds the step to its history: one call of the schema's
    /// `switchboard_record_message` (v2), which does what the SQLite store's `record`
    /// does, batched with the records arriving with it. Statuses that waited for the provider's id (rare: they
    /// came before the send was recorded) are applied after, under the same lock.
    private func record(_ envelope: OutboundEnvelope, session: SessionID?, state: MessageState,
                        providerMessageID: String?, error: String?, detail: String?, at: Date) async throws(StoreError)
    {
        let tenant = envelope.tenant.rawValue
        let pending: Bool
        do {
            pending = try await batches.records.submit(SendRecord(
                session: session?.rawValue ?? "", id: envelope.id, at: at.timeIntervalSince1970,
                values: [tenant, envelope.id, session?.rawValue, envelope.messageClass.rawValue, envelope.to.e164,
                         envelope.type.rawValue, envelope.campaign, state.rawValue, providerMessageID, error,
                         envelope.expiresAt?.timeIntervalSince1970, at.timeIntervalSince1970, envelope.text, detail]))
        } catch {
            throw Self.map(error)
        }
        guard pending, let providerMessageID else { return }
        try await transaction { db in
            try await lockProviderMessage(providerMessageID, tenant: tenant, in: db)
            try await applyPendingStatuses(providerMessageID: providerMessageID, toMessage: envelope.id, tenant: tenant,
                                           in: db)
        }
    }

    public func markUnconfirmed(_ id: String, of tenant: TenantID) async throws(StoreError) {
        try await run { db in
            try await db.execute("""
                UPDATE messages SET state = 'unconfirmed', updated_at = ?
                WHERE tenant_id = ? AND id = ? AND state = 'accepting'
                """, [Date().timeIntervalSince1970, tenant.rawValue, id])
        }
    }

    public func releaseClaim(_ id: String, of tenant: TenantID) async throws(StoreError) {
        try await run { db in
            try await db.execute("""
                DELETE FROM messages WHERE tenant_id = ? AND id = ? AND state IN ('accepting', 'unconfirmed')
                """, [tenant.rawValue, id])
        }
    }

    public func message(_ id: String, of tenant: TenantID) async throws(StoreError) -> StoredMessage? {
        try await run { db in try await fetchMessage(tenant: tenant.rawValue, where: "id", id, in: db) }
    }

    public func messageCounts() async throws(StoreError) -> [MessageState: Int] {
        try await run { db in
            var counts: [MessageState: Int] = [:]
            for row in try await db.rows("SELECT state, COUNT(*) AS n FROM messages GROUP BY state") {
                if let state = MessageState(rawValue: try row.get("state")) { counts[state] = try row.get("n") }
            }
            return counts
        }
    }
}

/// A `markQueued`, waiting for its batch.
struct QueuedMark: Sendable {
    let tenant: String
    let id: String
    let at: Double
}

/// The arguments of one `switchboard_record_message` call, waiting for its batch.
struct SendRecord: Sendable {
    let session: String
    let id: String
    let at: Double
    /// Every argument but the last (whether this call updates the session's last send).
    let values: [any SQLBindable]
}

/// The statements of the hot path, each batched: the api's claims and queued marks, the
/// dispatcher's send records. A batch that fails (one bad row fails its statement) is
/// run again row by row, so one write's failure is only its own.
struct MessageBatches: Sendable {
    let claims: StatementBatcher<MessageClaim, Bool>
    let queuedMarks: StatementBatcher<QueuedMark, Void>
    let records: StatementBatcher<SendRecord, Bool>

    init(client: PostgresClient, metrics: GatewayMetrics, logger: Logger) {
        @Sendable func timed<T>(_ count: Int, _ body: () async throws -> T) async throws -> T {
            metrics.storeBatchSize.record(count)
            let started = ContinuousClock.now
            defer { metrics.storeCommit.recordSince(started) }
            return try await body()
        }
        @Sendable func eachAlone<I, O>(_ items: [I], _ one: (I) async throws -> O) async throws -> [O] {
            var outputs: [O] = []
            for item in items { outputs.append(try await one(item)) }
            return outputs
        }
        @Sendable func sql(_ text: String, _ values: [any SQLBindable]) async throws -> [PostgresSQLRow] {
            try await client.withConnection { connection in
                try await PostgresSQL(connection: connection, logger: logger).rows(text, values)
            }
        }
        claims = StatementBatcher { items in
            try await timed(items.count) {
                do {
                    let inserted = Set(try await sql(
                        "INSERT INTO messages (\(messageColumns)) VALUES "
                            + Array(repeating: "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", count: items.count)
                            .joined(separator: ", ") + " ON CONFLICT DO NOTHING RETURNING tenant_id, id, idempotency_key",
                        items.flatMap(claimValues)).map { row in
                            [try row.get("tenant_id") as String, try row.get("id"), try row.get("idempotency_key")]
                        })
                    return items.map { inserted.contains([$0.tenant.rawValue, $0.id, $0.idempotencyKey]) }
                } catch {
                    return try await eachAlone(items) { item in
                        try await sql(insertMessage, claimValues(item)).count > 0
                    }
                }
            }
        }
        queuedMarks = StatementBatcher { items in
            try await timed(items.count) {
                let statement = "SELECT switchboard_mark_queued(?, ?, ?)"
                func values(_ marks: [QueuedMark]) -> [any SQLBindable] {
                    [SQLValue.textArray(marks.map(\.tenant)), SQLValue.textArray(marks.map(\.id)),
                     SQLValue.doubleArray(marks.map(\.at))]
                }
                do {
                    _ = try await sql(statement, values(items))
                    return items.map { _ in () }
                } catch {
                    return try await eachAlone(items) { item in _ = try await sql(statement, values([item])) }
                }
            }
        }
        records = StatementBatcher { items in
            try await timed(items.count) {
                let call = "switchboard_record_message(?::text, ?::text, ?::text, ?::text, ?::text, ?::text, ?::text, "
                    + "?::text, ?::text, ?::text, ?::float8, ?::float8, ?::text, ?::text, ?::boolean)"
                // One statement, one transaction; its calls lock rows in one order (by
                // session, then message) so concurrent batches cannot deadlock, and only
                // the last send of each session in the batch touches its health row.
                let order = items.indices.sorted { (items[$0].session, items[$0].id) < (items[$1].session, items[$1].id) }
                var touching: [String: Int] = [:]
                for index in order where touching[items[index].session].map({ items[$0].at <= items[index].at }) ?? true {
                    touching[items[index].session] = index
                }
                func values(_ index: Int, touch: Bool) -> [any SQLBindable] { items[index].values + [touch] }
                do {
                    let rows = try await sql("SELECT " + order.indices.map { "\(call) AS p\($0)" }.joined(separator: ", "),
                                             order.flatMap { values($0, touch: touching[items[$0].session] == $0) })
                    guard let row = rows.first else { throw StoreError.database("no answer to a batch of records") }
                    var pending = [Bool](repeating: false, count: items.count)
                    for (position, index) in order.enumerated() { pending[index] = try row.get("p\(position)") as Bool }
                    return pending
                } catch {
                    return try await eachAlone(Array(items.indices)) { index in
                        try await sql("SELECT \(call) AS pending", values(index, touch: true)).first?.get("pending")
                            as Bool? ?? false
                    }
                }
            }
        }
    }
}

private func claimValues(_ claim: MessageClaim) -> [any SQLBindable] {
    let created = claim.createdAt.timeIntervalSince1970
    return [
        claim.tenant.rawValue, claim.id, claim.idempotencyKey, claim.requestHash, claim.session.rawValue,
        claim.messageClass.rawValue, claim.to.e164, claim.type.rawValue, claim.campaign,
        MessageState.accepting.rawValue, SQLValue.null, SQLValue.null, claim.expiresAt?.timeIntervalSince1970,
        created, created, claim.text,
    ]
}
