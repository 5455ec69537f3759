public import Foundation
import GRDB
public import SwitchboardCore

// The bot's settings, rules, reply counts and forward queue.

extension SQLiteStore: BotStore {
    public func botSettings(of tenant: TenantID) async throws(StoreError) -> BotSettings {
        guard let sealed = try await read({ db in
            try Data.fetchOne(db, sql: "SELECT sealed FROM bot_settings WHERE tenant_id = ?", arguments: [tenant.rawValue])
        }) else { return BotSettings() }
        return try secretBox.openBotSettings(sealed, of: tenant)
    }

    public func setBotSettings(_ settings: BotSettings, of tenant: TenantID) async throws(StoreError) {
        do { _ = try settings.validated() } catch { throw .invalid(error) }
        let sealed = try secretBox.sealBotSettings(settings, of: tenant)
        try await write { db in
            try db.execute(sql: """
                INSERT INTO bot_settings (tenant_id, sealed, updated_at) VALUES (?, ?, ?)
                ON CONFLICT (tenant_id) DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at
                """, arguments: [tenant.rawValue, sealed, Date().timeIntervalSince1970])
        }
    }

    public func botRules(of tenant: TenantID) async throws(StoreError) -> [BotRule] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM bot_rules WHERE tenant_id = ? ORDER BY created_at, id",
                             arguments: [tenant.rawValue]).map { row in
                BotRule(id: row["id"], keywords: try JSONDecoder().decode([String].self, from: Data((row["keywords"] as String).utf8)),
                        reply: row["reply"], createdAt: Date(timeIntervalSince1970: row["created_at"]))
            }
        }
    }

    public func putBotRule(_ rule: BotRule, of tenant: TenantID) async throws(StoreError) {
        do { _ = try rule.validated() } catch { throw .invalid(error) }
        let keywords: String
        do { keywords = String(decoding: try JSONEncoder().encode(rule.keywords), as: UTF8.self) } catch {
            throw .database("\(error)")
        }
        try await write { db in
            try db.execute(sql: """
                INSERT INTO bot_rules (tenant_id, id, keywords, reply, created_at) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (tenant_id, id) DO UPDATE SET keywords = excluded.keywords, reply = excluded.reply
                """, arguments: [tenant.rawValue, rule.id, keywords, rule.reply, rule.createdAt.timeIntervalSince1970])
        }
    }

    public func deleteBotRule(_ id: String, of tenant: TenantID) async throws(StoreError) {
        let deleted = try await write { db in
            try db.execute(sql: "DELETE FROM bot_rules WHERE tenant_id = ? AND id = ?", arguments: [tenant.rawValue, id])
            return db.changesCount
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
        return try await write { db -> BotOutcome? in
            guard try insertReceipt(consumer: consumer, tenant: tenantID, eventID: eventID, at: at, in: db) else {
                return nil
            }
            let policy = try fetchPolicy(tenant: tenantID, contact: number, in: db)
            let replies = try Int.fetchOne(db.cachedStatement(sql: """
                SELECT count(*) FROM bot_replies WHERE tenant_id = ? AND contact = ? AND at > ?
                """), arguments: [tenantID, number, now - replyWindow]) ?? 0
            let lastOutOfHours = try Double.fetchOne(db.cachedStatement(sql: """
                SELECT max(at) FROM bot_replies WHERE tenant_id = ? AND contact = ? AND reason = 'out-of-hours'
                """), arguments: [tenantID, number])
            let outcome = decide(BotContactState(policy: policy, repliesInWindow: replies,
                                                 lastOutOfHoursReplyAt: lastOutOfHours.map(Date.init(timeIntervalSince1970:))))
            switch outcome.decision.contactChange {
            case .optOut?:
                try writeContact(tenant: tenantID, contact: number, optedOut: true, pausedUntil: nil, at: at, in: db)
            case .optIn?:
                try writeContact(tenant: tenantID, contact: number, optedOut: false, pausedUntil: nil, at: at, in: db)
            case nil:
                break
            }
            if let reply = outcome.decision.reply {
                try db.cachedStatement(sql: "INSERT INTO bot_replies (tenant_id, contact, reason, at) VALUES (?, ?, ?, ?)")
                    .execute(arguments: [tenantID, number, reply.reason, now])
            }
            if outcome.decision.forward {
                try db.cachedStatement(sql: """
                    INSERT INTO bot_forwards (tenant_id, event_id, payload, attempts, due_at) VALUES (?, ?, ?, 0, ?)
                    ON CONFLICT DO NOTHING
                    """).execute(arguments: [tenantID, eventID, forwardPayload, now])
            }
            try setReceiptPending(outcome.owed, consumer: consumer, tenant: tenantID, eventID: eventID, in: db)
            return outcome
        }
    }

    public func admitForwardReply(tenant: TenantID, contact: PhoneNumber, limit: Int, window: TimeInterval, at: Date)
        async throws(StoreError) -> Bool
    {
        let now = at.timeIntervalSince1970
        return try await write { db in
            let replies = try Int.fetchOne(db, sql: """
                SELECT count(*) FROM bot_replies WHERE tenant_id = ? AND contact = ? AND at > ?
                """, arguments: [tenant.rawValue, contact.e164, now - window]) ?? 0
            guard replies < limit else { return false }
            try db.execute(sql: "INSERT INTO bot_replies (tenant_id, contact, reason, at) VALUES (?, ?, 'forward', ?)",
                           arguments: [tenant.rawValue, contact.e164, now])
            return true
        }
    }

    public func claimForwards(at date: Date, limit: Int, lease: Duration, skipping busy: [TenantID: Int],
                              perTenant: Int) async throws(StoreError) -> [BotForward]
    {
        let now = date.timeIntervalSince1970
        let leaseUntil = now + lease.seconds
        return try await write { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT tenant_id, event_id, payload, attempts FROM bot_forwards
                WHERE due_at <= ? AND (lease_until IS NULL OR lease_until <= ?) ORDER BY due_at LIMIT ?
                """, arguments: [now, now, limit * 8])
            var taken = busy
            var claimed: [BotForward] = []
            for row in rows where claimed.count < limit {
                guard let tenant = try? TenantID(row["tenant_id"] as String), taken[tenant, default: 0] < perTenant else {
                    continue
                }
                taken[tenant, default: 0] += 1
                let eventID: String = row["event_id"]
                try db.execute(sql: """
                    UPDATE bot_forwards SET lease_until = ?, attempts = attempts + 1 WHERE tenant_id = ? AND event_id = ?
                    """, arguments: [leaseUntil, tenant.rawValue, eventID])
                claimed.append(BotForward(tenant: tenant, eventID: eventID, payload: row["payload"],
                                          attempts: (row["attempts"] as Int) + 1))
            }
            return claimed
        }
    }

    public func finishForward(tenant: TenantID, eventID: String) async throws(StoreError) {
        try await write { db in
            try db.execute(sql: "DELETE FROM bot_forwards WHERE tenant_id = ? AND event_id = ?",
                           arguments: [tenant.rawValue, eventID])
        }
    }

    public func postponeForward(tenant: TenantID, eventID: String, until date: Date) async throws(StoreError) {
        try await write { db in
            try db.execute(sql: """
                UPDATE bot_forwards SET due_at = ?, lease_until = NULL WHERE tenant_id = ? AND event_id = ?
                """, arguments: [date.timeIntervalSince1970, tenant.rawValue, eventID])
        }
    }
}
