public import Foundation
import GRDB
public import SwitchboardCore

// The message log and the normalizer's dedupe memory. Writes go through the group
// commit: under load, many events share one transaction.

/// Adds `state` to the history of the tenant's message `id` (once per state) and moves
/// the message on when `state` is further along than where it is (a failure's text goes
/// when a provider reports the message delivered after all).
func applyStatus(_ state: MessageState, at: Date, detail: String?, providerMessageID: String?, toMessage id: String,
                 currentState: MessageState, tenant: String, in db: Database) throws -> StatusReportOutcome
{
    try db.cachedStatement(sql: """
        INSERT INTO message_events (tenant_id, message_id, state, at, detail)
        SELECT ?, ?, ?, ?, ?
        WHERE NOT EXISTS (SELECT 1 FROM message_events WHERE tenant_id = ? AND message_id = ? AND state = ?)
        """).execute(arguments: [tenant, id, state.rawValue, at.timeIntervalSince1970, detail, tenant, id, state.rawValue])
    guard db.changesCount > 0 else { return .duplicate }
    guard currentState.advances(to: state) else { return .recorded }
    try db.cachedStatement(sql: """
        UPDATE messages SET state = ?, provider_message_id = coalesce(provider_message_id, ?),
            error = CASE WHEN ? = 'failed' THEN ? ELSE NULL END, updated_at = ?
        WHERE tenant_id = ? AND id = ?
        """).execute(arguments: [state.rawValue, providerMessageID, state.rawValue, detail,
                                 Date().timeIntervalSince1970, tenant, id])
    return .advanced
}

/// Applies the provider statuses that came before the tenant's message `id` had the
/// provider's id `providerMessageID`, and forgets them.
func applyPendingStatuses(providerMessageID: String, toMessage id: String, tenant: String, in db: Database) throws {
    let pending = try Row.fetchAll(db.cachedStatement(sql: """
        SELECT state, at, detail FROM pending_statuses WHERE tenant_id = ? AND provider_message_id = ? ORDER BY at
        """), arguments: [tenant, providerMessageID])
    guard !pending.isEmpty else { return }
    for row in pending {
        guard let state = MessageState(rawValue: row["state"]),
              let current = try String.fetchOne(db.cachedStatement(
                  sql: "SELECT state FROM messages WHERE tenant_id = ? AND id = ?"), arguments: [tenant, id])
                .flatMap(MessageState.init(rawValue:))
        else { continue }
        _ = try applyStatus(state, at: Date(timeIntervalSince1970: row["at"]), detail: row["detail"],
                            providerMessageID: providerMessageID, toMessage: id, currentState: current,
                            tenant: tenant, in: db)
    }
    try db.cachedStatement(sql: "DELETE FROM pending_statuses WHERE tenant_id = ? AND provider_message_id = ?")
        .execute(arguments: [tenant, providerMessageID])
}

extension SQLiteStore: MessageLogStore {
    public func messageID(forProviderID providerMessageID: String, tenant: TenantID) async throws(StoreError)
        -> String?
    {
        try await read { db in
            try String.fetchOne(db.cachedStatement(sql: """
                SELECT id FROM messages WHERE tenant_id = ? AND provider_message_id = ? ORDER BY created_at DESC LIMIT 1
                """), arguments: [tenant.rawValue, providerMessageID])
        }
    }

    public func applyStatuses(_ reports: [StatusReport]) async throws(StoreError) -> [AppliedStatus] {
        guard !reports.isEmpty else { return [] }
        do {
            return try await groupCommit.write { db in try reports.map { try Self.apply($0, in: db) } }
        } catch {
            throw Self.map(error)
        }
    }

    private static func apply(_ report: StatusReport, in db: Database) throws -> AppliedStatus {
        let tenant = report.tenant.rawValue
        var row: Row?
        if let id = report.messageID {
            row = try Row.fetchOne(db.cachedStatement(
                sql: "SELECT id, state FROM messages WHERE tenant_id = ? AND id = ?"), arguments: [tenant, id])
        }
        if row == nil, let providerID = report.providerMessageID {
            row = try Row.fetchOne(db.cachedStatement(sql: """
                SELECT id, state FROM messages WHERE tenant_id = ? AND provider_message_id = ? ORDER BY created_at DESC LIMIT 1
                """), arguments: [tenant, providerID])
        }
        guard let row, let current = MessageState(rawValue: row["state"]) else {
            guard let providerID = report.providerMessageID else { return AppliedStatus(outcome: .unknown, messageID: nil) }
            try db.cachedStatement(sql: """
                INSERT INTO pending_statuses (tenant_id, provider_message_id, state, at, detail, received_at)
                VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                """).execute(arguments: [tenant, providerID, report.state.rawValue, report.at.timeIntervalSince1970,
                                         report.detail, Date().timeIntervalSince1970])
            return AppliedStatus(outcome: db.changesCount > 0 ? .pending : .duplicate, messageID: nil)
        }
        let id: String = row["id"]
        let outcome = try SwitchboardStore.applyStatus(
            report.state, at: report.at, detail: report.detail, providerMessageID: report.providerMessageID,
            toMessage: id, currentState: current, tenant: tenant, in: db)
        if outcome != .duplicate, let providerID = report.providerMessageID {
            // The id may be new to the message: statuses that waited for it apply now.
            try applyPendingStatuses(providerMessageID: providerID, toMessage: id, tenant: tenant, in: db)
        }
        return AppliedStatus(outcome: outcome, messageID: id)
    }

    public func recordInbound(_ event: NormalizedEvent) async throws(StoreError) -> Bool {
        let message = event.message
        let payload: Data
        do { payload = try WireJSON.sharedEncoder.encode(message) } catch { throw .database("\(error)") }
        let arguments: StatementArguments = [
            event.tenant.rawValue, event.id, event.session?.rawValue, event.provider?.rawValue, message?.providerID,
            message?.from, message?.chat, message?.type, message?.text, payload, event.occurredAt.timeIntervalSince1970,
            event.receivedAt.timeIntervalSince1970,
        ]
        do {
            return try await groupCommit.write { db in
                try db.cachedStatement(sql: """
                    INSERT INTO inbound_messages (tenant_id, event_id, session_id, provider, provider_message_id,
                        contact, chat, type, text, message, occurred_at, received_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                    """).execute(arguments: arguments)
                return db.changesCount > 0
            }
        } catch {
            throw Self.map(error)
        }
    }

    public func contactMessages(_ contact: PhoneNumber, of tenant: TenantID, before: Date?, limit: Int)
        async throws(StoreError) -> [ContactMessage]
    {
        let before = (before ?? .distantFuture).timeIntervalSince1970
        let arguments: StatementArguments = [tenant.rawValue, contact.e164, before, tenant.rawValue, contact.e164,
                                             before, max(1, limit)]
        return try await read { db in
            try Row.fetchAll(db.cachedStatement(sql: """
                SELECT 'outbound' AS direction, id, session_id, provider_message_id, type, text, state, created_at AS at
                FROM messages WHERE tenant_id = ? AND recipient = ? AND created_at < ?
                UNION ALL
                SELECT 'inbound', event_id, session_id, provider_message_id, type, text, NULL, occurred_at
                FROM inbound_messages WHERE tenant_id = ? AND contact = ? AND occurred_at < ?
                ORDER BY at DESC LIMIT ?
                """), arguments: arguments).map { row in
                ContactMessage(
                    direction: ContactMessage.Direction(rawValue: row["direction"]) ?? .inbound, id: row["id"],
                    session: (row["session_id"] as String?).flatMap { try? SessionID($0) },
                    providerMessageID: row["provider_message_id"], type: row["type"], text: row["text"],
                    state: (row["state"] as String?).flatMap(MessageState.init(rawValue:)),
                    at: Date(timeIntervalSince1970: row["at"]))
            }
        }
    }
}

extension SQLiteStore: EventDedupeStore {
    public func seenEvents(among ids: [String]) async throws(StoreError) -> Set<String> {
        guard !ids.isEmpty else { return [] }
        let now = Date().timeIntervalSince1970
        return try await read { db in
            var seen: Set<String> = []
            let statement = try db.cachedStatement(
                sql: "SELECT 1 FROM inbound_dedupe WHERE event_id = ? AND expires_at > ?")
            for id in ids where try Int.fetchOne(statement, arguments: [id, now]) != nil {
                seen.insert(id)
            }
            return seen
        }
    }

    public func markEventsSeen(_ ids: [String], until: Date) async throws(StoreError) {
        guard !ids.isEmpty else { return }
        let expiry = until.timeIntervalSince1970
        do {
            try await groupCommit.write { db in
                let statement = try db.cachedStatement(sql: """
                    INSERT INTO inbound_dedupe (event_id, expires_at) VALUES (?, ?)
                    ON CONFLICT (event_id) DO UPDATE SET expires_at = excluded.expires_at
                    """)
                for id in ids { try statement.execute(arguments: [id, expiry]) }
            }
        } catch {
            throw Self.map(error)
        }
    }

    public func forgetExpired(before date: Date, pendingStatusesBefore: Date) async throws(StoreError) -> Int {
        let cutoff = date.timeIntervalSince1970
        let pendingCutoff = pendingStatusesBefore.timeIntervalSince1970
        return try await write { db in
            try db.execute(sql: "DELETE FROM inbound_dedupe WHERE expires_at < ?", arguments: [cutoff])
            var removed = db.changesCount
            try db.execute(sql: "DELETE FROM pending_statuses WHERE received_at < ?", arguments: [pendingCutoff])
            removed += db.changesCount
            return removed
        }
    }
}
