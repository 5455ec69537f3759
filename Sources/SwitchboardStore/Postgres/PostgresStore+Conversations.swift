public import Foundation
import PostgresNIO
public import SwitchboardCore

// Contacts, conversations, the consumers' receipts and the bot. Whatever reads a
// contact's state and writes it back (the inbox, the bot, an agent) first takes the
// contact's advisory lock, so instances of those consumers serialize per contact.

private func contactLock(_ tenant: String, _ contact: String) -> String { "contact:\(tenant):\(contact)" }

private func encodeOwed(_ items: [OutboxItem]) throws -> Data? {
    items.isEmpty ? nil : try JSONEncoder().encode(items)
}

private func decodeOwed(_ data: Data?) throws -> [OutboxItem] {
    guard let data else { return [] }
    return try JSONDecoder().decode([OutboxItem].self, from: data)
}

/// Inserts the consumer's receipt for the event; false when it was there already.
private func insertReceipt(consumer: String, tenant: String, eventID: String, at: Date, in db: PostgresSQL)
    async throws -> Bool
{
    try await db.execute("""
        INSERT INTO event_receipts (consumer, tenant_id, event_id, at) VALUES (?, ?, ?, ?)
        ON CONFLICT DO NOTHING RETURNING 1
        """, [consumer, tenant, eventID, at.timeIntervalSince1970]) > 0
}

private func setReceiptPending(_ items: [OutboxItem], consumer: String, tenant: String, eventID: String,
                               in db: PostgresSQL) async throws
{
    guard let data = try encodeOwed(items) else { return }
    try await db.execute("UPDATE event_receipts SET pending = ? WHERE consumer = ? AND tenant_id = ? AND event_id = ?",
                         [data, consumer, tenant, eventID])
}

private func policy(from row: PostgresSQLRow) throws -> ContactPolicy {
    ContactPolicy(optedOut: try row.get("opted_out"), optedOutAt: try row.optionalDate("opted_out_at"),
                  pausedUntil: try row.optionalDate("paused_until"))
}

private func fetchPolicy(tenant: String, contact: String, in db: PostgresSQL) async throws -> ContactPolicy {
    guard let row = try await db.one("""
        SELECT opted_out, opted_out_at, paused_until FROM contacts WHERE tenant_id = ? AND number = ?
        """, [tenant, contact])
    else { return ContactPolicy() }
    return try policy(from: row)
}

/// Writes the contact's opt-out and pause (nil leaves a field as it is). The caller
/// holds the contact's lock.
private func writeContact(tenant: String, contact: String, optedOut: Bool?, pausedUntil: Date??, at: Date,
                          in db: PostgresSQL) async throws
{
    var policy = try await fetchPolicy(tenant: tenant, contact: contact, in: db)
    if let optedOut, optedOut != policy.optedOut {
        policy.optedOut = optedOut
        policy.optedOutAt = optedOut ? at : nil
    }
    if let pausedUntil { policy.pausedUntil = pausedUntil }
    try await db.execute("""
        INSERT INTO contacts (tenant_id, number, opted_out, opted_out_at, paused_until, updated_at)
        VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (tenant_id, number) DO UPDATE SET opted_out = excluded.opted_out,
            opted_out_at = excluded.opted_out_at, paused_until = excluded.paused_until, updated_at = excluded.updated_at
        """, [tenant, contact, policy.optedOut, policy.optedOutAt?.timeIntervalSince1970,
              policy.pausedUntil?.timeIntervalSince1970, at.timeIntervalSince1970])
}

private func fetchConversation(tenant: String, contact: String, in db: PostgresSQL) async throws -> Conversation? {
    try await db.one("SELECT * FROM conversations WHERE tenant_id = ? AND contact = ?", [tenant, contact])
        .map(conversation(from:))
}

private func conversation(from row: PostgresSQLRow) throws -> Conversation {
    Conversation(
        tenant: try TenantID(try row.get("tenant_id") as String), contact: try PhoneNumber(try row.get("contact") as String),
        session: (try row.get("session_id") as String?).flatMap { try? SessionID($0) },
        state: ConversationState(rawValue: try row.get("state")) ?? .open, unread: try row.get("unread"),
        assignee: try row.get("assignee"), contactName: try row.get("contact_name"),
        lastMessageAt: try row.date("last_message_at"),
        lastMessageDirection: ContactMessageDirection(rawValue: try row.get("last_direction")) ?? .inbound,
        lastMessagePreview: try row.get("last_preview"), openedAt: try row.date("opened_at"),
        updatedAt: try row.date("updated_at"))
}

extension PostgresStore: EventReceiptStore {
    public func pendingPublications(consumer: String, tenant: TenantID, eventID: String) async throws(StoreError)
        -> [OutboxItem]?
    {
        try await run { db in
            guard let row = try await db.one("""
                SELECT pending FROM event_receipts WHERE consumer = ? AND tenant_id = ? AND event_id = ?
                """, [consumer, tenant.rawValue, eventID])
            else { return nil }
            return try decodeOwed(try row.get("pending"))
        }
    }

    public func clearPending(consumer: String, tenant: TenantID, eventID: String) async throws(StoreError) {
        try await run { db in
            try await db.execute("""
                UPDATE event_receipts SET pending = NULL WHERE consumer = ? AND tenant_id = ? AND event_id = ?
                """, [consumer, tenant.rawValue, eventID])
        }
    }

    public func forgetReceipts(before date: Date) async throws(StoreError) -> Int {
        // Receipts still owing a publication stay until it is made.
        try await run { db in
            try await db.execute("DELETE FROM event_receipts WHERE at < ? AND pending IS NULL RETURNING 1",
                                 [date.timeIntervalSince1970])
        }
    }
}

extension PostgresStore: ContactStore {
    public func contactPolicy(_ contact: PhoneNumber, of tenant: TenantID) async throws(StoreError) -> ContactPolicy {
        try await run { db in try await fetchPolicy(tenant: tenant.rawValue, contact: contact.e164, in: db) }
    }

    public func restrictedContacts(at date: Date) async throws(StoreError) -> [TenantID: [String: ContactPolicy]] {
        try await run { db in
            var result: [TenantID: [String: ContactPolicy]] = [:]
            for row in try await db.rows("""
                SELECT tenant_id, number, opted_out, opted_out_at, paused_until FROM contacts
                WHERE opted_out OR paused_until > ?
                """, [date.timeIntervalSince1970]) {
                guard let tenant = try? TenantID(try row.get("tenant_id") as String) else { continue }
                result[tenant, default: [:]][try row.get("number")] = try policy(from: row)
            }
            return result
        }
    }

    public func updateContact(_ contact: PhoneNumber, of tenant: TenantID, optedOut: Bool?, pausedUntil: Date??,
                              at: Date) async throws(StoreError) -> ContactPolicy
    {
        try await transaction { db in
            guard try await db.one("SELECT 1 AS one FROM tenants WHERE id = ?", [tenant.rawValue]) != nil else {
                throw StoreError.notFound("tenant \(tenant)")
            }
            try await db.lock(contactLock(tenant.rawValue, contact.e164))
            try await writeContact(tenant: tenant.rawValue, contact: contact.e164, optedOut: optedOut,
                                   pausedUntil: pausedUntil, at: at, in: db)
            return try await fetchPolicy(tenant: tenant.rawValue, contact: contact.e164, in: db)
        }
    }
}

extension PostgresStore: InboxStore {
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
        return try await transaction { db -> (update: InboxUpdate, owed: [OutboxItem])? in
            guard try await insertReceipt(consumer: consumer, tenant: tenant, eventID: event.id, at: now, in: db) else {
                return nil
            }
            try await db.lock(contactLock(tenant, number))
            // The contact's thread shows the message even before the logger gets to it.
            try await db.execute("""
                INSERT INTO inbound_messages (tenant_id, event_id, session_id, provider, provider_message_id,
                    contact, chat, type, text, message, occurred_at, received_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                """, [tenant, event.id, event.session?.rawValue, event.provider?.rawValue, message?.providerID, number,
                      message?.chat, message?.type, message?.text, payload, event.occurredAt.timeIntervalSince1970,
                      event.receivedAt.timeIntervalSince1970])
            let before = try await fetchConversation(tenant: tenant, contact: number, in: db)
            let reopened = before?.state != .open
            let at = event.occurredAt.timeIntervalSince1970
            if let before {
                let newest = event.occurredAt >= before.lastMessageAt
                try await db.execute("""
                    UPDATE conversations SET state = 'open', unread = unread + 1,
                        session_id = coalesce(?, session_id), contact_name = coalesce(?, contact_name),
                        last_message_at = CASE WHEN ? THEN ? ELSE last_message_at END,
                        last_direction = CASE WHEN ? THEN 'inbound' ELSE last_direction END,
                        last_preview = CASE WHEN ? THEN ? ELSE last_preview END,
                        opened_at = CASE WHEN ? THEN ? ELSE opened_at END, updated_at = ?
                    WHERE tenant_id = ? AND contact = ?
                    """, [event.session?.rawValue, message?.contactName, newest, at, newest, newest, preview, reopened,
                          now.timeIntervalSince1970, now.timeIntervalSince1970, tenant, number])
            } else {
                try await db.execute("""
                    INSERT INTO conversations (tenant_id, contact, session_id, state, unread, assignee, contact_name,
                        last_message_at, last_direction, last_preview, opened_at, updated_at)
                    VALUES (?, ?, ?, 'open', 1, NULL, ?, ?, 'inbound', ?, ?, ?)
                    """, [tenant, number, event.session?.rawValue, message?.contactName, at, preview,
                          now.timeIntervalSince1970, now.timeIntervalSince1970])
            }
            var pausedUntil: Date?
            if let pauseUntil {
                let current = try await fetchPolicy(tenant: tenant, contact: number, in: db).pausedUntil
                let until = max(current ?? pauseUntil, pauseUntil)
                try await writeContact(tenant: tenant, contact: number, optedOut: nil, pausedUntil: .some(until), at: now,
                                       in: db)
                pausedUntil = until
            }
            guard let after = try await fetchConversation(tenant: tenant, contact: number, in: db) else {
                throw StoreError.database("conversation \(number) vanished")
            }
            let update = InboxUpdate(conversation: after, reopened: reopened, pausedUntil: pausedUntil)
            let items = owed(update)
            try await setReceiptPending(items, consumer: consumer, tenant: tenant, eventID: event.id, in: db)
            return (update, items)
        }
    }

    public func conversations(of tenant: TenantID, state: ConversationState?, assignee: String?, before: Date?,
                              limit: Int) async throws(StoreError) -> [Conversation]
    {
        var sql = "SELECT * FROM conversations WHERE tenant_id = ? AND last_message_at < ?"
        var values: [any SQLBindable] = [tenant.rawValue, (before ?? .distantFuture).timeIntervalSince1970]
        if let state {
            sql += " AND state = ?"
            values.append(state.rawValue)
        }
        if let assignee {
            sql += " AND assignee = ?"
            values.append(assignee)
        }
        sql += " ORDER BY last_message_at DESC LIMIT ?"
        values.append(max(1, limit))
        let query = sql
        let arguments = values
        return try await run { db in try await db.rows(query, arguments).map(conversation(from:)) }
    }

    public func conversation(with contact: PhoneNumber, of tenant: TenantID) async throws(StoreError) -> Conversation? {
        try await run { db in try await fetchConversation(tenant: tenant.rawValue, contact: contact.e164, in: db) }
    }

    public func recordAgentReply(to contact: PhoneNumber, of tenant: TenantID, text: String?, type: String, at: Date)
        async throws(StoreError) -> Conversation
    {
        try await changeConversation(contact, of: tenant, sql: """
            UPDATE conversations SET state = 'waiting', unread = 0, last_message_at = greatest(last_message_at, ?),
                last_direction = 'outbound', last_preview = ?, updated_at = ?
            WHERE tenant_id = ? AND contact = ? RETURNING 1
            """, values: [at.timeIntervalSince1970, Conversation.preview(text: text, type: type), at.timeIntervalSince1970])
    }

    public func assign(_ contact: PhoneNumber, of tenant: TenantID, to assignee: String?, at: Date)
        async throws(StoreError) -> Conversation
    {
        try await changeConversation(contact, of: tenant, sql: """
            UPDATE conversations SET assignee = ?, updated_at = ? WHERE tenant_id = ? AND contact = ? RETURNING 1
            """, values: [assignee, at.timeIntervalSince1970])
    }

    public func markRead(_ contact: PhoneNumber, of tenant: TenantID, at: Date) async throws(StoreError) -> Conversation {
        try await changeConversation(contact, of: tenant, sql: """
            UPDATE conversations SET unread = 0, updated_at = ? WHERE tenant_id = ? AND contact = ? RETURNING 1
            """, values: [at.timeIntervalSince1970])
    }

    public func resolve(_ contact: PhoneNumber, of tenant: TenantID, at: Date) async throws(StoreError) -> Conversation {
        try await changeConversation(contact, of: tenant, sql: """
            UPDATE conversations SET state = 'resolved', unread = 0, updated_at = ?
            WHERE tenant_id = ? AND contact = ? RETURNING 1
            """, values: [at.timeIntervalSince1970], liftPause: at)
    }

    /// Runs an update of one conversation (the statement's last two values are the
    /// tenant and contact, appended here); 404 when there is none.
    private func changeConversation(_ contact: PhoneNumber, of tenant: TenantID, sql: String,
                                    values: [any SQLBindable], liftPause: Date? = nil) async throws(StoreError)
        -> Conversation
    {
        let arguments = values + [tenant.rawValue, contact.e164]
        return try await transaction { db in
            try await db.lock(contactLock(tenant.rawValue, contact.e164))
            guard try await db.execute(sql, arguments) > 0,
                  let changed = try await fetchConversation(tenant: tenant.rawValue, contact: contact.e164, in: db)
            else { throw StoreError.notFound("conversation with \(contact)") }
            if let liftPause {
                try await writeContact(tenant: tenant.rawValue, contact: contact.e164, optedOut: nil,
                                       pausedUntil: .some(nil), at: liftPause, in: db)
            }
            return changed
        }
    }
}

extension PostgresStore: BotStore {
    public func botSettings(of tenant: TenantID) async throws(StoreError) -> BotSettings {
        guard let sealed = try await run({ db in
            try await db.one("SELECT sealed FROM bot_settings WHERE tenant_id = ?", [tenant.rawValue])?.get("sealed") as Data?
        }) else { return BotSettings() }
        return try secretBox.openBotSettings(sealed, of: tenant)
    }

    public func setBotSettings(_ settings: BotSettings, of tenant: TenantID) async throws(StoreError) {
        do { _ = try settings.validated() } catch { throw .invalid(error) }
        let sealed = try secretBox.sealBotSettings(settings, of: tenant)
        try await run { db in
            try await db.execute("""
                INSERT INTO bot_settings (tenant_id, sealed, updated_at) VALUES (?, ?, ?)
                ON CONFLICT (tenant_id) DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at
                """, [tenant.rawValue, sealed, Date().timeIntervalSince1970])
        }
    }

    public func botRules(of tenant: TenantID) async throws(StoreError) -> [BotRule] {
        try await run { db in
            try await db.rows("SELECT * FROM bot_rules WHERE tenant_id = ? ORDER BY created_at, id", [tenant.rawValue])
                .map { row in
                    BotRule(id: try row.get("id"),
                            keywords: try JSONDecoder().decode([String].self, from: Data((try row.get("keywords") as String).utf8)),
                            reply: try row.get("reply"), createdAt: try row.date("created_at"))
                }
        }
    }

    public func putBotRule(_ rule: BotRule, of tenant: TenantID) async throws(StoreError) {
        do { _ = try rule.validated() } catch { throw .invalid(error) }
        let keywords: String
        do { keywords = String(decoding: try JSONEncoder().encode(rule.keywords), as: UTF8.self) } catch {
            throw .database("\(error)")
        }
        try await run { db in
            try await db.execute("""
                INSERT INTO bot_rules (tenant_id, id, keywords, reply, created_at) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (tenant_id, id) DO UPDATE SET keywords = excluded.keywords, reply = excluded.reply
                """, [tenant.rawValue, rule.id, keywords, rule.reply, rule.createdAt.timeIntervalSince1970])
        }
    }

    public func deleteBotRule(_ id: String, of tenant: TenantID) async throws(StoreError) {
        let deleted = try await run { db in
            try await db.execute("DELETE FROM bot_rules WHERE tenant_id = ? AND id = ? RETURNING 1", [tenant.rawValue, id])
        }
        guard deleted > 0 else { throw .notFound("bot rule \(id)") }
    }

    public func applyBotDecision(eventID: String, tenant: TenantID, contact: PhoneNumber, at: Date, consumer: String,
                                 replyWindow: TimeInterval, forwardPayload: Data,
                                 decide: @escaping @Sendable (BotContactState) -> BotOutcome) async throws(StoreError)
        -> BotOutcome?
    {
        let tenantID = tenant.rawValue
        let number = contact.e164
        let now = at.timeIntervalSince1970
        return try await transaction { db -> BotOutcome? in
            guard try await insertReceipt(consumer: consumer, tenant: tenantID, eventID: eventID, at: at, in: db) else {
                return nil
            }
            try await db.lock(contactLock(tenantID, number))
            let policy = try await fetchPolicy(tenant: tenantID, contact: number, in: db)
            let replies: Int = try await db.one("""
                SELECT count(*) AS n FROM bot_replies WHERE tenant_id = ? AND contact = ? AND at > ?
                """, [tenantID, number, now - replyWindow])?.get("n") ?? 0
            let lastOutOfHours = try await db.one("""
                SELECT max(at) AS last FROM bot_replies WHERE tenant_id = ? AND contact = ? AND reason = 'out-of-hours'
                """, [tenantID, number])?.optionalDate("last")
            let outcome = decide(BotContactState(policy: policy, repliesInWindow: replies,
                                                 lastOutOfHoursReplyAt: lastOutOfHours))
            switch outcome.decision.contactChange {
            case .optOut?:
                try await writeContact(tenant: tenantID, contact: number, optedOut: true, pausedUntil: nil, at: at, in: db)
            case .optIn?:
                try await writeContact(tenant: tenantID, contact: number, optedOut: false, pausedUntil: nil, at: at, in: db)
            case nil:
                break
            }
            if let reply = outcome.decision.reply {
                try await db.execute("INSERT INTO bot_replies (tenant_id, contact, reason, at) VALUES (?, ?, ?, ?)",
                                     [tenantID, number, reply.reason, now])
            }
            if outcome.decision.forward {
                try await db.execute("""
                    INSERT INTO bot_forwards (tenant_id, event_id, payload, attempts, due_at) VALUES (?, ?, ?, 0, ?)
                    ON CONFLICT DO NOTHING
                    """, [tenantID, eventID, forwardPayload, now])
            }
            try await setReceiptPending(outcome.owed, consumer: consumer, tenant: tenantID, eventID: eventID, in: db)
            return outcome
        }
    }

    public func admitForwardReply(tenant: TenantID, contact: PhoneNumber, limit: Int, window: TimeInterval, at: Date)
        async throws(StoreError) -> Bool
    {
        let now = at.timeIntervalSince1970
        return try await transaction { db in
            try await db.lock(contactLock(tenant.rawValue, contact.e164))
            let replies: Int = try await db.one("""
                SELECT count(*) AS n FROM bot_replies WHERE tenant_id = ? AND contact = ? AND at > ?
                """, [tenant.rawValue, contact.e164, now - window])?.get("n") ?? 0
            guard replies < limit else { return false }
            try await db.execute("INSERT INTO bot_replies (tenant_id, contact, reason, at) VALUES (?, ?, 'forward', ?)",
                                 [tenant.rawValue, contact.e164, now])
            return true
        }
    }

    public func claimForwards(at date: Date, limit: Int, lease: Duration, skipping busy: [TenantID: Int],
                              perTenant: Int) async throws(StoreError) -> [BotForward]
    {
        let now = date.timeIntervalSince1970
        let leaseUntil = now + lease.seconds
        return try await transaction { db in
            // Rows another instance is claiming right now are skipped, not waited for.
            let rows = try await db.rows("""
                SELECT tenant_id, event_id, payload, attempts FROM bot_forwards
                WHERE due_at <= ? AND (lease_until IS NULL OR lease_until <= ?) ORDER BY due_at LIMIT ?
                FOR UPDATE SKIP LOCKED
                """, [now, now, limit * 8])
            var taken = busy
            var claimed: [BotForward] = []
            for row in rows where claimed.count < limit {
                guard let tenant = try? TenantID(try row.get("tenant_id") as String), taken[tenant, default: 0] < perTenant
                else { continue }
                taken[tenant, default: 0] += 1
                let eventID: String = try row.get("event_id")
                try await db.execute("""
                    UPDATE bot_forwards SET lease_until = ?, attempts = attempts + 1 WHERE tenant_id = ? AND event_id = ?
                    """, [leaseUntil, tenant.rawValue, eventID])
                claimed.append(BotForward(tenant: tenant, eventID: eventID, payload: try row.get("payload"),
                                          attempts: (try row.get("attempts") as Int) + 1))
            }
            return claimed
        }
    }

    public func finishForward(tenant: TenantID, eventID: String) async throws(StoreError) {
        try await run { db in
            try await db.execute("DELETE FROM bot_forwards WHERE tenant_id = ? AND event_id = ?", [tenant.rawValue, eventID])
        }
    }

    public func postponeForward(tenant: TenantID, eventID: String, until date: Date) async throws(StoreError) {
        try await run { db in
            try await db.execute("UPDATE bot_forwards SET due_at = ?, lease_until = NULL WHERE tenant_id = ? AND event_id = ?",
                                 [date.timeIntervalSince1970, tenant.rawValue, eventID])
        }
    }
}
