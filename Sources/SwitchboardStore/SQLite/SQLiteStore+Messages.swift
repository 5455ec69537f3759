public import Foundation
import GRDB
public import SwitchboardCore

// The message table is written on every accepted request, so its statements are plain
// cached SQL (no query building per call), its instants are Unix seconds, and its
// writes go through the group commit.

private let messageColumns = """
    tenant_id, id, idempotency_key, request_hash, session_id, class, recipient, type, campaign, state,
    provider_message_id, error, expires_at, created_at, updated_at, text
    """

private func storedMessage(_ row: Row, history: [MessageStatusEntry]) throws -> StoredMessage {
    let id: String = row["id"]
    guard let messageClass = MessageClass(rawValue: row["class"]), let type = MessageType(rawValue: row["type"]),
          let state = MessageState(rawValue: row["state"])
    else { throw StoreError.database("message \(id) has an unknown class, type or state") }
    let expiresAt: Double? = row["expires_at"]
    return StoredMessage(
        tenant: try TenantID(row["tenant_id"] as String), id: id, idempotencyKey: row["idempotency_key"],
        requestHash: row["request_hash"], session: try SessionID(row["session_id"] as String),
        messageClass: messageClass, to: try PhoneNumber(row["recipient"] as String), type: type,
        campaign: row["campaign"], text: row["text"], state: state, providerMessageID: row["provider_message_id"], error: row["error"],
        expiresAt: expiresAt.map(Date.init(timeIntervalSince1970:)),
        createdAt: Date(timeIntervalSince1970: row["created_at"]), updatedAt: Date(timeIntervalSince1970: row["updated_at"]),
        history: history)
}

private func history(tenant: String, id: String, in db: Database) throws -> [MessageStatusEntry] {
    try Row.fetchAll(db.cachedStatement(sql: """
        SELECT state, at, detail FROM message_events WHERE tenant_id = ? AND message_id = ? ORDER BY seq
        """), arguments: [tenant, id])
        .compactMap { row in
            MessageState(rawValue: row["state"]).map {
                MessageStatusEntry(state: $0, at: Date(timeIntervalSince1970: row["at"]), detail: row["detail"])
            }
        }
}

private func fetchMessage(tenant: String, where condition: String, _ value: String, in db: Database) throws
    -> StoredMessage?
{
    guard let row = try Row.fetchOne(
        db.cachedStatement(sql: "SELECT \(messageColumns) FROM messages WHERE tenant_id = ? AND \(condition) = ?"),
        arguments: [tenant, value])
    else { return nil }
    return try storedMessage(row, history: history(tenant: tenant, id: row["id"], in: db))
}

extension SQLiteStore: MessageStore {
    public func claim(_ claim: MessageClaim, staleAfter: Duration) async throws(StoreError) -> ClaimOutcome {
        let staleBefore = claim.createdAt.addingTimeInterval(-staleAfter.seconds).timeIntervalSince1970
        let tenant = claim.tenant.rawValue
        let arguments: StatementArguments = [
            tenant, claim.id, claim.idempotencyKey, claim.requestHash, claim.session.rawValue,
            claim.messageClass.rawValue, claim.to.e164, claim.type.rawValue, claim.campaign,
            MessageState.accepting.rawValue, nil, nil, claim.expiresAt?.timeIntervalSince1970,
            claim.createdAt.timeIntervalSince1970, claim.createdAt.timeIntervalSince1970, claim.text,
        ]
        let insert = "INSERT INTO messages (\(messageColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        do {
            return try await groupCommit.write { db -> ClaimOutcome in
                // The common case is a new key: insert, and only look around on a conflict.
                do {
                    try db.cachedStatement(sql: insert).execute(arguments: arguments)
                    return .claimed
                } catch let error as DatabaseError
                    where error.extendedResultCode == .SQLITE_CONSTRAINT_PRIMARYKEY
                    || error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE
                {
                    guard let holder = try fetchMessage(tenant: tenant, where: "idempotency_key", claim.idempotencyKey,
                                                        in: db)
                    else { return .idTaken }
                    guard holder.requestHash == claim.requestHash else { return .keyReused(holder) }
                    switch holder.state {
                    case .unconfirmed:
                        return .resumed(holder)
                    case .accepting where holder.updatedAt.timeIntervalSince1970 < staleBefore:
                        try db.execute(sql: "UPDATE messages SET updated_at = ? WHERE tenant_id = ? AND id = ?",
                                       arguments: [claim.createdAt.timeIntervalSince1970, tenant, holder.id])
                        return .resumed(holder)
                    case .accepting:
                        return .inProgress(holder)
                    default:
                        return .accepted(holder)
                    }
                }
            }
        } catch {
            throw Self.map(error)
        }
    }

    public func markQueued(_ id: String, of tenant: TenantID, at: Date) async {
        let logger = logger
        await groupCommit.writeBehind({ db in
            try db.cachedStatement(sql: """
                UPDATE messages SET state = 'queued', updated_at = ?
                WHERE tenant_id = ? AND id = ? AND state IN ('accepting', 'unconfirmed')
                """).execute(arguments: [at.timeIntervalSince1970, tenant.rawValue, id])
            guard db.changesCount > 0 else { return }
            try db.cachedStatement(sql: "INSERT INTO message_events (tenant_id, message_id, state, at) VALUES (?, ?, ?, ?)")
                .execute(arguments: [tenant.rawValue, id, MessageState.queued.rawValue, at.timeIntervalSince1970])
        }, onFailure: { error in
            // The broker has the message; only its record lags (it stays `accepting`, and a
            // retry after the stale time publishes it again under the same id).
            logger.error("message queued but not recorded", metadata: [
                LogKey.tenant: "\(tenant)", LogKey.messageID: "\(id)", LogKey.error: "\(error)",
            ])
        })
    }

    public func recordQueued(_ message: MessageClaim, at: Date) async {
        let logger = logger
        let arguments: StatementArguments = [
            message.tenant.rawValue, message.id, message.idempotencyKey, message.requestHash, message.session.rawValue,
            message.messageClass.rawValue, message.to.e164, message.type.rawValue, message.campaign,
            MessageState.queued.rawValue, nil, nil, message.expiresAt?.timeIntervalSince1970,
            message.createdAt.timeIntervalSince1970, at.timeIntervalSince1970, message.text,
        ]
        let event: StatementArguments = [
            message.tenant.rawValue, message.id, MessageState.queued.rawValue, at.timeIntervalSince1970,
        ]
        await groupCommit.writeBehind({ db in
            // This write trails the 202: the dispatcher may have sent the message and
            // recorded it first. Its row stays as it is (never backwards); the history
            // still gains `queued`, at the instant the api accepted it.
            try db.cachedStatement(sql: """
                INSERT INTO messages (\(messageColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (tenant_id, id) DO NOTHING
                """).execute(arguments: arguments)
            try db.cachedStatement(sql: "INSERT INTO message_events (tenant_id, message_id, state, at) VALUES (?, ?, ?, ?)")
                .execute(arguments: event)
        }, onFailure: { error in
            logger.error("message queued but not recorded", metadata: [
                LogKey.tenant: "\(message.tenant)", LogKey.messageID: "\(message.id)", LogKey.error: "\(error)",
            ])
        })
    }

    public func providerAcceptance(of id: String, tenant: TenantID) async throws(StoreError) -> String? {
        try await read { db in
            try Row.fetchOne(db.cachedStatement(sql: """
                SELECT provider_message_id FROM messages
                WHERE tenant_id = ? AND id = ? AND state IN ('sent', 'delivered', 'read', 'played')
                """), arguments: [tenant.rawValue, id]).map { ($0["provider_message_id"] as String?) ?? "" }
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
    /// it came over AMQP, and adds the step to its history.
    private func record(_ envelope: OutboundEnvelope, session: SessionID?, state: MessageState,
                        providerMessageID: String?, error: String?, detail: String?, at: Date) async throws(StoreError)
    {
        let seconds = at.timeIntervalSince1970
        let tenant = envelope.tenant.rawValue
        // A message whose session is unknown cannot get a row of its own (every row names
        // its session); an existing row is still moved on.
        let insertable = session != nil
        let insert: StatementArguments = [
            tenant, envelope.id, "amqp:\(envelope.id)", Data(), session?.rawValue ?? "",
            envelope.messageClass.rawValue, envelope.to.e164, envelope.type.rawValue, envelope.campaign,
            state.rawValue, providerMessageID, error, envelope.expiresAt?.timeIntervalSince1970, seconds, seconds,
            envelope.text,
        ]
        let update: StatementArguments = [state.rawValue, providerMessageID, error, seconds, tenant, envelope.id]
        let event: StatementArguments = [tenant, envelope.id, state.rawValue, seconds, detail]
        do {
            try await groupCommit.write { db in
                var inserted = false
                if insertable {
                    try db.cachedStatement(sql: """
                        INSERT INTO messages (\(messageColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT (tenant_id, id) DO NOTHING
                        """).execute(arguments: insert)
                    inserted = db.changesCount > 0
                }
                if !inserted {
                    try db.cachedStatement(sql: """
                        UPDATE messages SET state = ?, provider_message_id = coalesce(?, provider_message_id),
                            error = ?, updated_at = ?
                        WHERE tenant_id = ? AND id = ?
                            AND state IN ('accepting', 'unconfirmed', 'queued', 'failed', 'expired')
                        """).execute(arguments: update)
                    guard db.changesCount > 0 else {
                        // Already further on (never backwards), e.g. the logger applied our own
                        // `sent` event first: statuses that waited for the provider's id still apply.
                        if let providerMessageID {
                            try db.cachedStatement(sql: """
                                UPDATE messages SET provider_message_id = ?
                                WHERE tenant_id = ? AND id = ? AND provider_message_id IS NULL
                                """).execute(arguments: [providerMessageID, tenant, envelope.id])
                            try applyPendingStatuses(providerMessageID: providerMessageID, toMessage: envelope.id,
                                                     tenant: tenant, in: db)
                        }
                        return
                    }
                }
                try db.cachedStatement(sql: """
                    INSERT INTO message_events (tenant_id, message_id, state, at, detail) VALUES (?, ?, ?, ?, ?)
                    """).execute(arguments: event)
                if state == .sent, let session {
                    // The session's last successful send, for the health view (only for a
                    // session that still exists: one deleted mid-send must not fail the record).
                    try db.cachedStatement(sql: """
                        INSERT INTO session_health (session_id, tenant_id, last_sent_at)
                        SELECT id, tenant_id, ? FROM sessions WHERE id = ?
                        ON CONFLICT (session_id) DO UPDATE SET
                            last_sent_at = max(coalesce(last_sent_at, 0), excluded.last_sent_at)
                        """).execute(arguments: [seconds, session.rawValue])
                }
                if let providerMessageID {
                    try applyPendingStatuses(providerMessageID: providerMessageID, toMessage: envelope.id,
                                             tenant: tenant, in: db)
                }
            }
        } catch {
            throw Self.map(error)
        }
    }

    public func markUnconfirmed(_ id: String, of tenant: TenantID) async throws(StoreError) {
        try await write { db in
            try db.execute(sql: """
                UPDATE messages SET state = 'unconfirmed', updated_at = ?
                WHERE tenant_id = ? AND id = ? AND state = 'accepting'
                """, arguments: [Date().timeIntervalSince1970, tenant.rawValue, id])
        }
    }

    public func releaseClaim(_ id: String, of tenant: TenantID) async throws(StoreError) {
        try await write { db in
            try db.execute(sql: """
                DELETE FROM messages WHERE tenant_id = ? AND id = ? AND state IN ('accepting', 'unconfirmed')
                """, arguments: [tenant.rawValue, id])
        }
    }

    public func message(_ id: String, of tenant: TenantID) async throws(StoreError) -> StoredMessage? {
        try await read { db in try fetchMessage(tenant: tenant.rawValue, where: "id", id, in: db) }
    }

    /// How many messages of every tenant are in each state (benchmarks wait on it).
    public func messageCounts() async throws(StoreError) -> [MessageState: Int] {
        try await read { db in
            var counts: [MessageState: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM messages GROUP BY state") {
                if let state = MessageState(rawValue: row["state"]) { counts[state] = row["n"] }
            }
            return counts
        }
    }
}
