public import Foundation
import GRDB
public import SwitchboardCore

private struct MessageRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "messages"
    enum Columns {
        static let tenantID = Column(CodingKeys.tenant_id)
        static let id = Column(CodingKeys.id)
        static let idempotencyKey = Column(CodingKeys.idempotency_key)
        static let state = Column(CodingKeys.state)
        static let updatedAt = Column(CodingKeys.updated_at)
    }

    var tenant_id: String
    var id: String
    var idempotency_key: String
    var request_hash: Data
    var session_id: String
    var `class`: String
    var recipient: String
    var type: String
    var campaign: String?
    var state: String
    var provider_message_id: String?
    var error: String?
    var expires_at: Date?
    var created_at: Date
    var updated_at: Date

    init(_ claim: MessageClaim) {
        tenant_id = claim.tenant.rawValue
        id = claim.id
        idempotency_key = claim.idempotencyKey
        request_hash = claim.requestHash
        session_id = claim.session.rawValue
        `class` = claim.messageClass.rawValue
        recipient = claim.to.e164
        type = claim.type.rawValue
        campaign = claim.campaign
        state = MessageState.accepting.rawValue
        expires_at = claim.expiresAt
        created_at = claim.createdAt
        updated_at = claim.createdAt
    }

    func message(history: [MessageStatusEntry]) throws -> StoredMessage {
        guard let messageClass = MessageClass(rawValue: `class`), let type = MessageType(rawValue: type),
              let state = MessageState(rawValue: state)
        else { throw StoreError.database("message \(id) has an unknown class, type or state") }
        return StoredMessage(
            tenant: try TenantID(tenant_id), id: id, idempotencyKey: idempotency_key, requestHash: request_hash,
            session: try SessionID(session_id), messageClass: messageClass, to: try PhoneNumber(recipient),
            type: type, campaign: campaign, state: state, providerMessageID: provider_message_id, error: error,
            expiresAt: expires_at, createdAt: created_at, updatedAt: updated_at, history: history)
    }
}

private struct MessageEventRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "message_events"
    enum Columns {
        static let seq = Column(CodingKeys.seq)
        static let tenantID = Column(CodingKeys.tenant_id)
        static let messageID = Column(CodingKeys.message_id)
    }

    var seq: Int64?
    var tenant_id: String
    var message_id: String
    var state: String
    var at: Date
    var detail: String?
}

extension SQLiteStore: MessageStore {
    public func claim(_ claim: MessageClaim, staleAfter: Duration) async throws(StoreError) -> ClaimOutcome {
        let record = MessageRecord(claim)
        let staleBefore = claim.createdAt.addingTimeInterval(-staleAfter.seconds)
        return try await write { db in
            // The common case is a new key: insert, and only look around on a conflict.
            do {
                try record.insert(db)
                return .claimed
            } catch let error as DatabaseError
                where error.extendedResultCode == .SQLITE_CONSTRAINT_PRIMARYKEY
                || error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE
            {
                guard let holder = try MessageRecord
                    .filter(MessageRecord.Columns.tenantID == record.tenant_id)
                    .filter(MessageRecord.Columns.idempotencyKey == record.idempotency_key)
                    .fetchOne(db)
                else {
                    return .idTaken
                }
                let stored = try holder.message(history: Self.history(of: holder, in: db))
                guard holder.request_hash == record.request_hash else { return .keyReused(stored) }
                switch stored.state {
                case .unconfirmed:
                    return .resumed(stored)
                case .accepting where holder.updated_at < staleBefore:
                    try db.execute(sql: "UPDATE messages SET updated_at = ? WHERE tenant_id = ? AND id = ?",
                                   arguments: [claim.createdAt, holder.tenant_id, holder.id])
                    return .resumed(stored)
                case .accepting:
                    return .inProgress(stored)
                default:
                    return .accepted(stored)
                }
            }
        }
    }

    public func markQueued(_ id: String, of tenant: TenantID, at: Date) async throws(StoreError) {
        let changed = try await write { db in
            try db.execute(sql: """
                UPDATE messages SET state = 'queued', updated_at = ?
                WHERE tenant_id = ? AND id = ? AND state IN ('accepting', 'unconfirmed')
                """, arguments: [at, tenant.rawValue, id])
            guard db.changesCount > 0 else { return false }
            try MessageEventRecord(tenant_id: tenant.rawValue, message_id: id, state: MessageState.queued.rawValue,
                                   at: at).insert(db)
            return true
        }
        if !changed, try await message(id, of: tenant) == nil { throw .notFound("message \(id)") }
    }

    public func markUnconfirmed(_ id: String, of tenant: TenantID) async throws(StoreError) {
        try await write { db in
            try db.execute(sql: """
                UPDATE messages SET state = 'unconfirmed', updated_at = ?
                WHERE tenant_id = ? AND id = ? AND state = 'accepting'
                """, arguments: [Date(), tenant.rawValue, id])
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
        try await read { db in
            guard let record = try MessageRecord.fetchOne(db, key: ["tenant_id": tenant.rawValue, "id": id]) else {
                return nil
            }
            return try record.message(history: Self.history(of: record, in: db))
        }
    }

    private static func history(of record: MessageRecord, in db: Database) throws -> [MessageStatusEntry] {
        try MessageEventRecord
            .filter(MessageEventRecord.Columns.tenantID == record.tenant_id)
            .filter(MessageEventRecord.Columns.messageID == record.id)
            .order(MessageEventRecord.Columns.seq)
            .fetchAll(db)
            .compactMap { event in
                MessageState(rawValue: event.state).map { MessageStatusEntry(state: $0, at: event.at, detail: event.detail) }
            }
    }
}

extension Duration {
    /// The duration in seconds, as a `TimeInterval`.
    var seconds: TimeInterval {
        let (seconds, attoseconds) = components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }
}
