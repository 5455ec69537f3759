public import Foundation
import GRDB
public import SwitchboardCore

extension SQLiteStore: SessionHealthStore {
    public func applySessionStatus(_ status: SessionStatus, of session: SessionID, tenant: TenantID, at: Date,
                                   source: String, reportID: String) async throws(StoreError) -> SessionStatusChange {
        let now = at.timeIntervalSince1970
        return try await write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT status FROM sessions WHERE id = ? AND tenant_id = ?",
                                             arguments: [session.rawValue, tenant.rawValue]),
                  let current = SessionStatus(rawValue: row["status"])
            else { throw StoreError.notFound("session \(session) of tenant \(tenant)") }
            let statusAt = try Double.fetchOne(db, sql: "SELECT status_at FROM session_health WHERE session_id = ?",
                                               arguments: [session.rawValue])
            // A report older than the status the session has changes nothing.
            if let statusAt, statusAt > now {
                return SessionStatusChange(tenant: tenant, session: session, from: current, to: current, at: at,
                                           changed: false, recovered: false)
            }
            let changed = current != status
            if changed {
                try db.execute(sql: "UPDATE sessions SET status = ? WHERE id = ?",
                               arguments: [status.rawValue, session.rawValue])
                try db.execute(sql: """
                    INSERT INTO session_status_history (session_id, tenant_id, status, at, source, report_id)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """, arguments: [session.rawValue, tenant.rawValue, status.rawValue, now, source, reportID])
            }
            let down = status != .connected
            try db.execute(sql: """
                INSERT INTO session_health (session_id, tenant_id, status_at, down_since, alerted_at)
                VALUES (?, ?, ?, ?, NULL)
                ON CONFLICT (session_id) DO UPDATE SET status_at = excluded.status_at,
                    down_since = CASE WHEN ? THEN coalesce(down_since, excluded.down_since) ELSE NULL END
                """, arguments: [session.rawValue, tenant.rawValue, now, down ? now : nil, down])
            var recovered = false
            if !down {
                try db.execute(sql: """
                    UPDATE session_health SET alerted_at = NULL WHERE session_id = ? AND alerted_at IS NOT NULL
                    """, arguments: [session.rawValue])
                recovered = db.changesCount > 0
            }
            return SessionStatusChange(tenant: tenant, session: session, from: current, to: status, at: at,
                                       changed: changed, recovered: recovered)
        }
    }

    public func recordProviderDetails(of session: SessionID, qualityRating: String?, messagingLimitTier: String?)
        async throws(StoreError)
    {
        try await write { db in
            try db.execute(sql: """
                INSERT INTO session_health (session_id, tenant_id, quality_rating, messaging_limit_tier)
                SELECT id, tenant_id, ?, ? FROM sessions WHERE id = ?
                ON CONFLICT (session_id) DO UPDATE SET quality_rating = excluded.quality_rating,
                    messaging_limit_tier = excluded.messaging_limit_tier
                """, arguments: [qualityRating, messagingLimitTier, session.rawValue])
        }
    }

    public func claimDownSessions(downSince before: Date, at: Date) async throws(StoreError) -> [DownSession] {
        try await write { db in
            let rows = try Row.fetchAll(db, sql: """
                UPDATE session_health SET alerted_at = ?
                WHERE down_since IS NOT NULL AND down_since < ? AND alerted_at IS NULL
                RETURNING session_id, tenant_id, down_since
                """, arguments: [at.timeIntervalSince1970, before.timeIntervalSince1970])
            return try rows.compactMap { row in
                let id: String = row["session_id"]
                guard let session = try? SessionID(id), let tenant = try? TenantID(row["tenant_id"] as String),
                      let status = try String.fetchOne(db, sql: "SELECT status FROM sessions WHERE id = ?", arguments: [id])
                        .flatMap(SessionStatus.init(rawValue:))
                else { return nil }
                return DownSession(tenant: tenant, session: session, status: status,
                                   since: Date(timeIntervalSince1970: row["down_since"]))
            }
        }
    }

    public func sessionStatusHistory(_ session: SessionID, limit: Int) async throws(StoreError) -> [SessionStatusRecord] {
        try await read { db in
            try Row.fetchAll(db, sql: """
                SELECT status, at, source FROM session_status_history WHERE session_id = ? ORDER BY at DESC, id DESC LIMIT ?
                """, arguments: [session.rawValue, max(1, limit)]).compactMap { row in
                SessionStatus(rawValue: row["status"]).map {
                    SessionStatusRecord(status: $0, at: Date(timeIntervalSince1970: row["at"]), source: row["source"])
                }
            }
        }
    }
}

extension SQLiteStore: ServiceInstanceStore {
    public func recordHeartbeat(_ heartbeat: InstanceHeartbeat, at: Date) async throws(StoreError) {
        try await write { db in
            try db.execute(sql: """
                INSERT INTO service_instances (instance, services, version, host, pid, started_at, last_seen)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (instance) DO UPDATE SET services = excluded.services, last_seen = excluded.last_seen
                """, arguments: [heartbeat.instance, heartbeat.services.joined(separator: ","), heartbeat.version,
                                 heartbeat.host, heartbeat.pid, heartbeat.startedAt.timeIntervalSince1970,
                                 at.timeIntervalSince1970])
        }
    }

    public func serviceInstances(seenSince date: Date) async throws(StoreError) -> [(InstanceHeartbeat, lastSeen: Date)] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM service_instances WHERE last_seen >= ? ORDER BY last_seen DESC",
                             arguments: [date.timeIntervalSince1970]).map { row in
                let services: String = row["services"]
                return (InstanceHeartbeat(instance: row["instance"], services: services.split(separator: ",").map(String.init),
                                          version: row["version"], host: row["host"], pid: row["pid"],
                                          startedAt: Date(timeIntervalSince1970: row["started_at"])),
                        lastSeen: Date(timeIntervalSince1970: row["last_seen"]))
            }
        }
    }

    public func sessionHealth() async throws(StoreError) -> [SessionHealth] {
        try await read { db in
            try Row.fetchAll(db, sql: """
                SELECT s.id, s.tenant_id, s.provider, s.status, h.down_since, h.last_sent_at, h.quality_rating,
                    h.messaging_limit_tier,
                    (SELECT MAX(at) FROM session_status_history WHERE session_id = s.id) AS changed_at
                FROM sessions s LEFT JOIN session_health h ON h.session_id = s.id
                ORDER BY s.tenant_id, s.id
                """).compactMap { row in
                guard let session = try? SessionID(row["id"] as String), let tenant = try? TenantID(row["tenant_id"] as String),
                      let provider = ProviderKind(rawValue: row["provider"]), let status = SessionStatus(rawValue: row["status"])
                else { return nil }
                func date(_ column: String) -> Date? { (row[column] as Double?).map(Date.init(timeIntervalSince1970:)) }
                return SessionHealth(tenant: tenant, session: session, provider: provider, status: status,
                                     statusChangedAt: date("changed_at"), downSince: date("down_since"),
                                     lastSentAt: date("last_sent_at"), qualityRating: row["quality_rating"],
                                     messagingLimitTier: row["messaging_limit_tier"])
            }
        }
    }
}
