public import Foundation
import GRDB
public import SwitchboardCore

// Contacts, conversations and the consumers' receipts. Instants are REAL Unix seconds.

private func encodeOwed(_ items: [OutboxItem]) throws -> Data? {
    items.isEmpty ? nil : try JSONEncoder().encode(items)
}

private func decodeOwed(_ data: Data?) throws -> [OutboxItem] {
    guard let data else { return [] }
    return try JSONDecoder().decode([OutboxItem].self, from: data)
}

/// Inserts the consumer's receipt for the event; false when it was there already.
func insertReceipt(consumer: String, tenant: String, eventID: String, at: Date, in db: Database) throws -> Bool {
    try db.cachedStatement(sql: """
        INSERT INTO event_receipts (consumer, tenant_id, event_id, at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING
        """).execute(arguments: [consumer, tenant, eventID, at.timeIntervalSince1970])
    return db.changesCount > 0
}

func setReceiptPending(_ items: [OutboxItem], consumer: String, tenant: String, eventID: String, in db: Database) throws {
    guard let data = try encodeOwed(items) else { return }
    try db.cachedStatement(sql: "UPDATE event_receipts SET pending = ? WHERE consumer = ? AND tenant_id = ? AND event_id = ?")
        .execute(arguments: [data, consumer, tenant, eventID])
}

func fetchPolicy(tenant: String, contact: String, in db: Database) throws -> ContactPolicy {
    guard let row = try Row.fetchOne(db.cachedStatement(sql: """
        SELECT opted_out, opted_out_at, paused_until FROM contacts WHERE tenant_id = ? AND number = ?
        """), arguments: [tenant, contact])
    else { return ContactPolicy() }
    return policy(from: row)
}

private func policy(from row: Row) -> ContactPolicy {
    ContactPolicy(optedOut: row["opted_out"],
                  optedOutAt: (row["opted_out_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
                  pausedUntil: (row["paused_until"] as Double?).map(Date.init(timeIntervalSince1970:)))
}

/// Writes the contact's opt-out and pause (nil leaves a field as it is).
func writeContact(tenant: String, contact: String, optedOut: Bool?, pausedUntil: Date??, at: Date, in db: Database) throws {
    var policy = try fetchPolicy(tenant: tenant, contact: contact, in: db)
    if let optedOut, optedOut != policy.optedOut {
        policy.optedOut = optedOut
        policy.optedOutAt = optedOut ? at : nil
    }
    if let pausedUntil { policy.pausedUntil = pausedUntil }
    try db.cachedStatement(sql: """
        INSERT INTO contacts (tenant_id, number, opted_out, opted_out_at, paused_until, updated_at)
        VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (tenant_id, number) DO UPDATE SET opted_out = excluded.opted_out,
            opted_out_at = excluded.opted_out_at, paused_until = excluded.paused_until, updated_at = excluded.updated_at
        """).execute(arguments: [tenant, contact, policy.optedOut, policy.optedOutAt?.timeIntervalSince1970,
                                 policy.pausedUntil?.timeIntervalSince1970, at.timeIntervalSince1970])
}

private func fetchConversation(tenant: String, contact: String, in db: Database) throws -> Conversation? {
    guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM conversations WHERE tenant_id = ? AND contact = ?"),
                                     arguments: [tenant, contact])
    else { return nil }
    return try conversation(from: row)
}

private func conversation(from row: Row) throws -> Conversation {
    Conversation(
        tenant: try TenantID(row["tenant_id"] as String), contact: try PhoneNumber(row["contact"] as String),
        session: (row["session_id"] as String?).flatMap { try? SessionID($0) },
        state: ConversationState(rawValue: row["state"]) ?? .open, unread: row["unread"], assignee: row["assignee"],
        contactName: row["contact_name"],
        lastMessageAt: Date(timeIntervalSince1970: row["last_message_at"]),
        lastMessageDirection: ContactMessageDirection(rawValue: row["last_direction"]) ?? .inbound,
        lastMessagePreview: row["last_preview"], openedAt: Date(timeIntervalSince1970: row["opened_at"]),
        updatedAt: Date(timeIntervalSince1970: row["updated_at"]))
}

extension SQLiteStore: EventReceiptStore {
    public func pendingPublications(consumer: String, tenant: TenantID, eventID: String) async throws(StoreError)
        -> [OutboxItem]?
    {
        try await read { db in
            guard let row = try Row.fetchOne(db.cachedStatement(sql: """
                SELECT pending FROM event_receipts WHERE consumer = ? AND tenant_id = ? AND event_id = ?
                """), arguments: [consumer, tenant.rawValue, eventID])
            else { return nil }
            return try decodeOwed(row["pending"])
        }
    }

    public func clearPending(consumer: String, tenant: TenantID, eventID: String) async throws(StoreError) {
        try await write { db in
            try db.execute(sql: """
                UPDATE event_receipts SET pending = NULL WHERE consumer = ? AND tenant_id = ? AND event_id = ?
                """, arguments: [consumer, tenant.rawValue, eventID])
        }
    }

    public func forgetReceipts(before date: Date) async throws(StoreError) -> Int {
        try await write { db in
            // Receipts still owing a publication stay until it is made.
            try db.execute(sql: "DELETE FROM event_receipts WHERE at < ? AND pending IS NULL",
                           arguments: [date.timeIntervalSince1970])
            return db.changesCount
        }
    }
}

extension SQLiteStore: ContactStore {
    public func contactPolicy(_ contact: PhoneNumber, of tenant: TenantID) async throws(StoreError) -> ContactPolicy {
        try await read { db in try fetchPolicy(tenant: tenant.rawValue, contact: contact.e164, in: db) }
    }

    public func restrictedContacts(at date: Date) async throws(StoreError) -> [TenantID: [String: ContactPolicy]] {
        try await read { db in
            var result: [TenantID: [String: ContactPolicy]] = [:]
            let rows = try Row.fetchCursor(db, sql: """
                SELECT tenant_id, number, opted_out, opted_out_at, paused_until FROM contacts
                WHERE opted_out OR paused_until > ?
                """, arguments: [date.timeIntervalSince1970])
            while let row = try rows.next() {
                guard let tenant = try? TenantID(row["tenant_id"] as String) else { continue }
                result[tenant, default: [:]][row["number"]] = policy(from: row)
            }
            return result
        }
    }

    public func updateContact(_ contact: PhoneNumber, of tenant: TenantID, optedOut: Bool?, pausedUntil: Date??,
                              at: Date) async throws(StoreError) -> ContactPolicy
    {
        try await write { db in
            guard try Int.fetchOne(db, sql: "SELECT 1 FROM tenants WHERE id = ?", arguments: [tenant.rawValue]) != nil
            else { throw StoreError.notFound("tenant \(tenant)") }
            try writeContact(tenant: tenant.rawValue, contact: contact.e164, optedOut: optedOut,
                             pausedUntil: pausedUntil, at: at, in: db)
            return try fetchPolicy(tenant: tenant.rawValue, contact: contact.e164, in: db)
        }
    }
}

extension SQLiteStore: InboxStore {
    public func recordContactMessage(_ event: NormalizedEvent, contact: PhoneNumber, pauseUntil: Date?,
                                     consumer: String, owed: @escaping @Sendable (InboxUpdate) -> [OutboxItem])
        async throws(StoreError) -> (update: InboxUpdate, owed: [OutboxItem])?
    {
        let tenant = event.tenant.rawValue
        let number = contact.e164
        let message = event.message
        let payload: Data
        do { payload = try WireJSON.sharedEncoder.encode(message) } catch { throw .database("\(error)") }
        let now = Date()
        let preview = Conversation.preview(text: message?.text, type: message?.type)
        return try await write { db -> (update: InboxUpdate, owed: [OutboxItem])? in
            guard try insertReceipt(consumer: consumer, tenant: tenant, eventID: event.id, at: now, in: db) else {
                return nil
            }
            // The contact's thread shows the message even before the logger gets to it.
            try db.cachedStatement(sql: """
                INSERT INTO inbound_messages (tenant_id, event_id, session_id, provider, provider_message_id,
                    contact, chat, type, text, message, occurred_at, received_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                """).execute(arguments: [
                    tenant, event.id, event.session?.rawValue, event.provider?.rawValue, message?.providerID, number,
                    message?.chat, message?.type, message?.text, payload, event.occurredAt.timeIntervalSince1970,
                    event.receivedAt.timeIntervalSince1970,
                ])
            let before = try fetchConversation(tenant: tenant, contact: number, in: db)
            let reopened = before?.state != .open
            let at = event.occurredAt.timeIntervalSince1970
            if let before {
                let newest = event.occurredAt >= before.lastMessageAt
                try db.cachedStatement(sql: """
                    UPDATE conversations SET state = 'open', unread = unread + 1,
                        session_id = coalesce(?, session_id), contact_name = coalesce(?, contact_name),
                        last_message_at = CASE WHEN ? THEN ? ELSE last_message_at END,
                        last_direction = CASE WHEN ? THEN 'inbound' ELSE last_direction END,
                        last_preview = CASE WHEN ? THEN ? ELSE last_preview END,
                        opened_at = CASE WHEN ? THEN ? ELSE opened_at END, updated_at = ?
                    WHERE tenant_id = ? AND contact = ?
                    """).execute(arguments: [
                        event.session?.rawValue, message?.contactName, newest, at, newest, newest, preview, reopened,
                        now.timeIntervalSince1970, now.timeIntervalSince1970, tenant, number,
                    ])
            } else {
                try db.cachedStatement(sql: """
                    INSERT INTO conversations (tenant_id, contact, session_id, state, unread, assignee, contact_name,
                        last_message_at, last_direction, last_preview, opened_at, updated_at)
                    VALUES (?, ?, ?, 'open', 1, NULL, ?, ?, 'inbound', ?, ?, ?)
                    """).execute(arguments: [
                        tenant, number, event.session?.rawValue, message?.contactName, at, preview,
                        now.timeIntervalSince1970, now.timeIntervalSince1970,
                    ])
            }
            var pausedUntil: Date?
            if let pauseUntil {
                let current = try fetchPolicy(tenant: tenant, contact: number, in: db).pausedUntil
                let until = max(current ?? pauseUntil, pauseUntil)
                try writeContact(tenant: tenant, contact: number, optedOut: nil, pausedUntil: .some(until), at: now, in: db)
                pausedUntil = until
            }
            guard let after = try fetchConversation(tenant: tenant, contact: number, in: db) else {
                throw StoreError.database("conversation \(number) vanished")
            }
            let update = InboxUpdate(conversation: after, reopened: reopened, pausedUntil: pausedUntil)
            let items = owed(update)
            try setReceiptPending(items, consumer: consumer, tenant: tenant, eventID: event.id, in: db)
            return (update, items)
        }
    }

    public func conversations(of tenant: TenantID, state: ConversationState?, assignee: String?, before: Date?,
                              limit: Int) async throws(StoreError) -> [Conversation]
    {
        var sql = "SELECT * FROM conversations WHERE tenant_id = ? AND last_message_at < ?"
        var arguments: StatementArguments = [tenant.rawValue, (before ?? .distantFuture).timeIntervalSince1970]
        if let state {
            sql += " AND state = ?"
            arguments += [state.rawValue]
        }
        if let assignee {
            sql += " AND assignee = ?"
            arguments += [assignee]
        }
        sql += " ORDER BY last_message_at DESC LIMIT ?"
        arguments += [max(1, limit)]
        let query = sql
        let values = arguments
        return try await read { db in try Row.fetchAll(db, sql: query, arguments: values).map(conversation(from:)) }
    }

    public func conversation(with contact: PhoneNumber, of tenant: TenantID) async throws(StoreError) -> Conversation? {
        try await read { db in try fetchConversation(tenant: tenant.rawValue, contact: contact.e164, in: db) }
    }

    public func recordAgentReply(to contact: PhoneNumber, of tenant: TenantID, text: String?, type: String, at: Date)
        async throws(StoreError) -> Conversation
    {
        try await changeConversation(contact, of: tenant, sql: """
            UPDATE conversations SET state = 'waiting', unread = 0, last_message_at = max(last_message_at, ?),
                last_direction = 'outbound', last_preview = ?, updated_at = ?
            WHERE tenant_id = ? AND contact = ?
            """, arguments: [at.timeIntervalSince1970, Conversation.preview(text: text, type: type),
                             at.timeIntervalSince1970])
    }

    public func assign(_ contact: PhoneNumber, of tenant: TenantID, to assignee: String?, at: Date)
        async throws(StoreError) -> Conversation
    {
        try await changeConversation(contact, of: tenant, sql: """
            UPDATE conversations SET assignee = ?, updated_at = ? WHERE tenant_id = ? AND contact = ?
            """, arguments: [assignee, at.timeIntervalSince1970])
    }

    public func markRead(_ contact: PhoneNumber, of tenant: TenantID, at: Date) async throws(StoreError) -> Conversation {
        try await changeConversation(contact, of: tenant, sql: """
            UPDATE conversations SET unread = 0, updated_at = ? WHERE tenant_id = ? AND contact = ?
            """, arguments: [at.timeIntervalSince1970])
    }

    public func resolve(_ contact: PhoneNumber, of tenant: TenantID, at: Date) async throws(StoreError) -> Conversation {
        try await changeConversation(contact, of: tenant, sql: """
            UPDATE conversations SET state = 'resolved', unread = 0, updated_at = ? WHERE tenant_id = ? AND contact = ?
            """, arguments: [at.timeIntervalSince1970], liftPause: at)
    }

    /// Runs an update of one conversation (the statement's last two arguments are the
    /// tenant and contact, appended here); 404 when there is none.
    private func changeConversation(_ contact: PhoneNumber, of tenant: TenantID, sql: String,
                                    arguments: StatementArguments, liftPause: Date? = nil) async throws(StoreError)
        -> Conversation
    {
        let values = arguments + [tenant.rawValue, contact.e164]
        return try await write { db in
            try db.execute(sql: sql, arguments: values)
            guard db.changesCount > 0,
                  let changed = try fetchConversation(tenant: tenant.rawValue, contact: contact.e164, in: db)
            else { throw StoreError.notFound("conversation with \(contact)") }
            if let liftPause {
                try writeContact(tenant: tenant.rawValue, contact: contact.e164, optedOut: nil,
                                 pausedUntil: .some(nil), at: liftPause, in: db)
            }
            return changed
        }
    }
}
