public import Foundation
import PostgresNIO
public import SwitchboardCore

// The message log and the normalizer's dedupe memory. A status and the send that
// brings the provider's id may meet from two instances: both take the advisory lock of
// that provider id first (then the message row), so the status either finds the
// message or waits in `pending_statuses` for the send to apply it, never neither.

private func providerLock(tenant: String, providerMessageID: String) -> String {
    "provider-message:\(tenant):\(providerMessageID)"
}

/// Adds `state` to the history of the tenant's message `id` (once per state) and moves
/// the message on when `state` is further along than where it is. The caller holds the
/// message's row lock.
private func applyStatusStep(_ state: MessageState, at: Date, detail: String?, providerMessageID: String?,
                         toMessage id: String, currentState: MessageState, tenant: String, in db: PostgresSQL)
    async throws -> StatusReportOutcome
{
    let added = try await db.execute("""
        INSERT INTO message_events (tenant_id, message_id, state, at, detail)
        SELECT ?, ?, ?, ?, ?
        WHERE NOT EXISTS (SELECT 1 FROM message_events WHERE tenant_id = ? AND message_id = ? AND state = ?)
        RETURNING 1
        """, [tenant, id, state.rawValue, at.timeIntervalSince1970, detail, tenant, id, state.rawValue])
    guard added > 0 else { return .duplicate }
    guard currentState.advances(to: state) else { return .recorded }
    try await db.execute("""
        UPDATE messages SET state = ?, provider_message_id = coalesce(provider_message_id, ?),
            error = CASE WHEN ? = 'failed' THEN ? ELSE NULL END, updated_at = ?
        WHERE tenant_id = ? AND id = ?
        """, [state.rawValue, providerMessageID, state.rawValue, detail, Date().timeIntervalSince1970, tenant, id])
    return .advanced
}

/// Applies the provider statuses that came before the tenant's message `id` had the
/// provider's id, and forgets them. The caller holds the provider id's lock.
func applyPendingStatuses(providerMessageID: String, toMessage id: String, tenant: String, in db: PostgresSQL)
    async throws
{
    let pending = try await db.rows("""
        SELECT state, at, detail FROM pending_statuses WHERE tenant_id = ? AND provider_message_id = ? ORDER BY at
        """, [tenant, providerMessageID])
    guard !pending.isEmpty else { return }
    for row in pending {
        guard let state = MessageState(rawValue: try row.get("state")),
              let current = try await db.one("SELECT state FROM messages WHERE tenant_id = ? AND id = ? FOR UPDATE",
                                             [tenant, id]).flatMap({ MessageState(rawValue: try $0.get("state")) })
        else { continue }
        _ = try await applyStatusStep(state, at: try row.date("at"), detail: try row.get("detail"),
                                  providerMessageID: providerMessageID, toMessage: id, currentState: current,
                                  tenant: tenant, in: db)
    }
    try await db.execute("DELETE FROM pending_statuses WHERE tenant_id = ? AND provider_message_id = ?",
                         [tenant, providerMessageID])
}

/// Takes the provider id's lock (see above) before a send records it.
func lockProviderMessage(_ providerMessageID: String, tenant: String, in db: PostgresSQL) async throws {
    try await db.lock(providerLock(tenant: tenant, providerMessageID: providerMessageID))
}

extension PostgresStore: MessageLogStore {
    public func messageID(forProviderID providerMessageID: String, tenant: TenantID) async throws(StoreError)
        -> String?
    {
        try await run { db in
            try await db.one("""
                SELECT id FROM messages WHERE tenant_id = ? AND provider_message_id = ? ORDER BY created_at DESC LIMIT 1
                """, [tenant.rawValue, providerMessageID])?.get("id") as String?
        }
    }

    public func applyStatuses(_ reports: [StatusReport]) async throws(StoreError) -> [AppliedStatus] {
        guard !reports.isEmpty else { return [] }
        return try await transaction { db in
            var applied: [AppliedStatus] = []
            for report in reports { applied.append(try await Self.apply(report, in: db)) }
            return applied
        }
    }

    private static func apply(_ report: StatusReport, in db: PostgresSQL) async throws -> AppliedStatus {
        let tenant = report.tenant.rawValue
        if let providerID = report.providerMessageID {
            try await lockProviderMessage(providerID, tenant: tenant, in: db)
        }
        var row: PostgresSQLRow?
        if let id = report.messageID {
            row = try await db.one("SELECT id, state FROM messages WHERE tenant_id = ? AND id = ? FOR UPDATE", [tenant, id])
        }
        if row == nil, let providerID = report.providerMessageID {
            row = try await db.one("""
                SELECT id, state FROM messages WHERE tenant_id = ? AND provider_message_id = ?
                ORDER BY created_at DESC LIMIT 1 FOR UPDATE
                """, [tenant, providerID])
        }
        guard let row, let current = MessageState(rawValue: try row.get("state")) else {
            guard let providerID = report.providerMessageID else { return AppliedStatus(outcome: .unknown, messageID: nil) }
            let kept = try await db.execute("""
                INSERT INTO pending_statuses (tenant_id, provider_message_id, state, at, detail, received_at)
                VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING 1
                """, [tenant, providerID, report.state.rawValue, report.at.timeIntervalSince1970, report.detail,
                      Date().timeIntervalSince1970])
            return AppliedStatus(outcome: kept > 0 ? .pending : .duplicate, messageID: nil)
        }
        let id: String = try row.get("id")
        let outcome = try await applyStatusStep(report.state, at: report.at, detail: report.detail,
                                            providerMessageID: report.providerMessageID, toMessage: id,
                                            currentState: current, tenant: tenant, in: db)
        if outcome != .duplicate, let providerID = report.providerMessageID {
            // The id may be new to the message: statuses that waited for it apply now.
            try await applyPendingStatuses(providerMessageID: providerID, toMessage: id, tenant: tenant, in: db)
        }
        return AppliedStatus(outcome: outcome, messageID: id)
    }

    public func recordInbound(_ event: NormalizedEvent) async throws(StoreError) -> Bool {
        let message = event.message
        let payload: Data
        do { payload = try WireJSON.sharedEncoder.encode(message) } catch { throw .database("\(error)") }
        return try await run { db in
            try await db.execute("""
                INSERT INTO inbound_messages (tenant_id, event_id, session_id, provider, provider_message_id,
                    contact, chat, type, text, message, occurred_at, received_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING 1
                """, [event.tenant.rawValue, event.id, event.session?.rawValue, event.provider?.rawValue,
                      message?.providerID, message?.from, message?.chat, message?.type, message?.text, payload,
                      event.occurredAt.timeIntervalSince1970, event.receivedAt.timeIntervalSince1970]) > 0
        }
    }

    public func contactMessages(_ contact: PhoneNumber, of tenant: TenantID, before: Date?, limit: Int)
        async throws(StoreError) -> [ContactMessage]
    {
        let before = (before ?? .distantFuture).timeIntervalSince1970
        return try await run { db in
            try await db.rows("""
                SELECT 'outbound' AS direction, id, session_id, provider_message_id, type, text, state, created_at AS at
                FROM messages WHERE tenant_id = ? AND recipient = ? AND created_at < ?
                UNION ALL
                SELECT 'inbound', event_id, session_id, provider_message_id, type, text, NULL, occurred_at
                FROM inbound_messages WHERE tenant_id = ? AND contact = ? AND occurred_at < ?
                ORDER BY at DESC LIMIT ?
                """, [tenant.rawValue, contact.e164, before, tenant.rawValue, contact.e164, before, max(1, limit)])
                .map { row in
                    ContactMessage(
                        direction: ContactMessage.Direction(rawValue: try row.get("direction")) ?? .inbound,
                        id: try row.get("id"),
                        session: (try row.get("session_id") as String?).flatMap { try? SessionID($0) },
                        providerMessageID: try row.get("provider_message_id"), type: try row.get("type"),
                        text: try row.get("text"),
                        state: (try row.get("state") as String?).flatMap(MessageState.init(rawValue:)),
                        at: try row.date("at"))
                }
        }
    }
}

extension PostgresStore: EventDedupeStore {
    public func seenEvents(among ids: [String]) async throws(StoreError) -> Set<String> {
        guard !ids.isEmpty else { return [] }
        let now = Date().timeIntervalSince1970
        return try await run { db in
            let marks = Array(repeating: "?", count: ids.count).joined(separator: ", ")
            return Set(try await db.rows("SELECT event_id FROM inbound_dedupe WHERE expires_at > ? AND event_id IN (\(marks))",
                                         [now] + ids).map { try $0.get("event_id") as String })
        }
    }

    public func markEventsSeen(_ ids: [String], until: Date) async throws(StoreError) {
        guard !ids.isEmpty else { return }
        let expiry = until.timeIntervalSince1970
        let unique = Array(Set(ids))
        try await run { db in
            let rows = Array(repeating: "(?, ?)", count: unique.count).joined(separator: ", ")
            try await db.execute("""
                INSERT INTO inbound_dedupe (event_id, expires_at) VALUES \(rows)
                ON CONFLICT (event_id) DO UPDATE SET expires_at = excluded.expires_at
                """, unique.flatMap { [$0, expiry] as [any SQLBindable] })
        }
    }

    public func forgetExpired(before date: Date, pendingStatusesBefore: Date) async throws(StoreError) -> Int {
        try await transaction { db in
            try await db.execute("DELETE FROM inbound_dedupe WHERE expires_at < ? RETURNING 1", [date.timeIntervalSince1970])
                + db.execute("DELETE FROM pending_statuses WHERE received_at < ? RETURNING 1",
                             [pendingStatusesBefore.timeIntervalSince1970])
        }
    }
}
