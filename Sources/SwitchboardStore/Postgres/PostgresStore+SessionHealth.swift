public import Foundation
import PostgresNIO
public import SwitchboardCore

// Session health and the instances' heartbeats. A session's status report locks the
// session's row first, so reports from several monitor instances apply one at a time.

extension PostgresStore: SessionHealthStore {
    public func applySessionStatus(_ status: SessionStatus, of session: SessionID, tenant: TenantID, at: Date,
                                   source: String, reportID: String) async throws(StoreError) -> SessionStatusChange {
        let now = at.timeIntervalSince1970
        return try await transaction { db in
            guard let row = try await db.one("SELECT status FROM sessions WHERE id = ? AND tenant_id = ? FOR UPDATE",
                                             [session.rawValue, tenant.rawValue]),
                  let current = SessionStatus(rawValue: try row.get("status"))
            else { throw StoreError.notFound("session \(session) of tenant \(tenant)") }
            let statusAt = try await db.one("SELECT status_at FROM session_health WHERE session_id = ?",
                                            [session.rawValue])?.get("status_at") as Double?
            // A report older than the status the session has changes nothing.
            if let statusAt, statusAt > now {
                return SessionStatusChange(tenant: tenant, session: session, from: current, to: current, at: at,
                                           changed: false, recovered: false)
            }
            let changed = current != status
            if changed {
                try await db.execute("UPDATE sessions SET status = ? WHERE id = ?", [status.rawValue, session.rawValue])
                try await db.execute("""
                    INSERT INTO session_status_history (session_id, tenant_id, status, at, source, report_id)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """, [session.rawValue, tenant.rawValue, status.rawValue, now, source, reportID])
            }
            let down = status != .connected
            try await db.execute("""
                INSERT INTO session_health (session_id, tenant_id, status_at, down_since, alerted_at)
                VALUES (?, ?, ?, ?, NULL)
                ON CONFLICT (session_id) DO UPDATE SET status_at = excluded.status_at,
                    down_since = CASE WHEN ? THEN coalesce(session_health.down_since, excluded.down_since) ELSE NULL END
                """, [session.rawValue, tenant.rawValue, now, down ? now : nil, down])
            var recovered = false
            if !down {
                recovered = try await db.execute("""
                    UPDATE session_health SET alerted_at = NULL WHERE session_id = ? AND alerted_at IS NOT NULL RETURNING 1
                    """, [session.rawValue]) > 0
            }
            return SessionStatusChange(tenant: tenant, session: session, from: current, to: status, at: at,
                                       changed: changed, recovered: recovered)
        }
    }

    public func recordProviderDetails(of session: SessionID, qualityRating: String?, messagingLimitTier: String?)
        async throws(StoreError)
    {
        try await run { db in
            try await db.execute("""
                INSERT INTO session_health (session_id, tenant_id, quality_rating, messaging_limit_tier)
                SELECT id, tenant_id, ?::text, ?::text FROM sessions WHERE id = ?
                ON CONFLICT (session_id) DO UPDATE SET quality_rating = excluded.quality_rating,
                    messaging_limit_tier = excluded.messaging_limit_tier
                """, [qualityRating, messagingLimitTier, session.rawValue])
        }
    }

    public func claimDownSessions(downSince before: Date, at: Date) async throws(StoreError) -> [DownSession] {
        // One conditional update: of several monitors, one claims each alert.
        try await run { db in
            try await db.rows("""
                UPDATE session_health h SET alerted_at = ?
                FROM sessions s
                WHERE s.id = h.session_id AND h.down_since IS NOT NULL AND h.down_since < ? AND h.alerted_at IS NULL
                RETURNING h.session_id, h.tenant_id, h.down_since, s.status
                """, [at.timeIntervalSince1970, before.timeIntervalSince1970]).compactMap { row in
                guard let session = try? SessionID(try row.get("session_id") as String),
                      let tenant = try? TenantID(try row.get("tenant_id") as String),
                      let status = SessionStatus(rawValue: try row.get("status"))
                else { return nil }
                return DownSession(tenant: tenant, session: session, status: status, since: try row.date("down_since"))
            }
        }
    }

    public func sessionStatusHistory(_ session: SessionID, limit: Int) async throws(StoreError) -> [SessionStatusRecord] {
        try await run { db in
            try await db.rows("""
                SELECT status, at, source FROM session_status_history WHERE session_id = ? ORDER BY at DESC, id DESC LIMIT ?
                """, [session.rawValue, max(1, limit)]).compactMap { row in
                guard let status = SessionStatus(rawValue: try row.get("status")) else { return nil }
                return SessionStatusRecord(status: status, at: try row.date("at"), source: try row.get("source"))
            }
        }
    }
}

extension PostgresStore: ServiceInstanceStore {
    public func recordHeartbeat(_ heartbeat: InstanceHeartbeat, at: Date) async throws(StoreError) {
        try await run { db in
            try await db.execute("""
                INSERT INTO service_instances (instance, services, version, host, pid, started_at, last_seen)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (instance) DO UPDATE SET services = excluded.services, last_seen = excluded.last_seen
                """, [heartbeat.instance, heartbeat.services.joined(separator: ","), heartbeat.version, heartbeat.host,
                      heartbeat.pid, heartbeat.startedAt.timeIntervalSince1970, at.timeIntervalSince1970])
        }
    }

    public func serviceInstances(seenSince date: Date) async throws(StoreError) -> [(InstanceHeartbeat, lastSeen: Date)] {
        try await run { db in
            try await db.rows("SELECT * FROM service_instances WHERE last_seen >= ? ORDER BY last_seen DESC",
                              [date.timeIntervalSince1970]).map { row in
                let services: String = try row.get("services")
                return (InstanceHeartbeat(instance: try row.get("instance"),
                                          services: services.split(separator: ",").map(String.init),
                                          version: try row.get("version"), host: try row.get("host"),
                                          pid: try row.get("pid"), startedAt: try row.date("started_at")),
                        lastSeen: try row.date("last_seen"))
            }
        }
    }

    public func sessionHealth() async throws(StoreError) -> [SessionHealth] {
        try await run { db in
            try await db.rows("""
                SELECT s.id, s.tenant_id, s.provider, s.status, h.down_since, h.last_sent_at, h.quality_rating,
                    h.messaging_limit_tier,
                    (SELECT MAX(at) FROM session_status_history WHERE session_id = s.id) AS changed_at
                FROM sessions s LEFT JOIN session_health h ON h.session_id = s.id
                ORDER BY s.tenant_id, s.id
                """).compactMap { row in
                guard let session = try? SessionID(try row.get("id") as String),
                      let tenant = try? TenantID(try row.get("tenant_id") as String),
                      let provider = ProviderKind(rawValue: try row.get("provider")),
                      let status = SessionStatus(rawValue: try row.get("status"))
                else { return nil }
                return SessionHealth(tenant: tenant, session: session, provider: provider, status: status,
                                     statusChangedAt: try row.optionalDate("changed_at"),
                                     downSince: try row.optionalDate("down_since"),
                                     lastSentAt: try row.optionalDate("last_sent_at"),
                                     qualityRating: try row.get("quality_rating"),
                                     messagingLimitTier: try row.get("messaging_limit_tier"))
            }
        }
    }
}
