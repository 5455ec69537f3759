public import Foundation
import PostgresNIO
import SwitchboardCore

// The dead-letter archive, as in the SQLite store: groups are a summary table kept in
// the same transaction. A letter leaves the waiting state by one conditional update
// whose returned rows are what the groups are moved by, so two instances acting on the
// same letters count each once; job claims skip rows another instance holds.

private let deadLetterColumns = """
    id, fingerprint, tenant_id, source, exchange, routing_key, original_exchange, original_routing_key, reason,
    error_code, detail, attempts, first_failed_at, last_failed_at, message_id, session_id, provider, death_history,
    headers, properties, body, archived_at, state, replays, replayed_at, discarded_at, replay_error
    """

private func nonEmpty(_ text: String?) -> String? { text.flatMap { $0.isEmpty ? nil : $0 } }

private func archivedDeadLetter(_ row: PostgresSQLRow) throws -> ArchivedDeadLetter {
    ArchivedDeadLetter(
        id: try row.get("id"), fingerprint: try row.get("fingerprint"), tenant: try row.get("tenant_id"),
        source: try row.get("source"), exchange: try row.get("exchange"), routingKey: try row.get("routing_key"),
        originalExchange: try row.get("original_exchange"), originalRoutingKey: try row.get("original_routing_key"),
        reason: try row.get("reason"), errorCode: nonEmpty(try row.get("error_code")), detail: try row.get("detail"),
        attempts: try row.get("attempts"), firstFailedAt: try row.optionalDate("first_failed_at"),
        lastFailedAt: try row.optionalDate("last_failed_at"), messageID: try row.get("message_id"),
        session: nonEmpty(try row.get("session_id")), provider: nonEmpty(try row.get("provider")),
        deathHistory: try row.get("death_history"), headers: try row.get("headers"),
        properties: try row.get("properties"), body: try row.get("body"), archivedAt: try row.date("archived_at"),
        state: ArchivedDeadLetter.State(rawValue: try row.get("state")) ?? .archived, replays: try row.get("replays"),
        replayedAt: try row.optionalDate("replayed_at"), discardedAt: try row.optionalDate("discarded_at"),
        replayError: try row.get("replay_error"))
}

private func decodeReplayJob(_ row: PostgresSQLRow) throws -> ReplayJob {
    ReplayJob(id: try row.get("id"), tenant: try row.get("tenant_id"), session: try row.get("session_id"),
              state: ReplayJob.State(rawValue: try row.get("state")) ?? .pending, total: try row.get("total"),
              replayed: try row.get("replayed"), failed: try row.get("failed"), createdAt: try row.date("created_at"),
              updatedAt: try row.date("updated_at"), actor: try row.get("actor"))
}

/// The WHERE clause and values of a filter (`dead_letters` columns).
private func whereClause(_ filter: DeadLetterFilter) -> (String, [any SQLBindable]) {
    var clauses: [String] = []
    var values: [any SQLBindable] = []
    let states = filter.states.isEmpty ? Set(ArchivedDeadLetter.State.allCases) : filter.states
    clauses.append("state IN (\(states.map { _ in "?" }.joined(separator: ", ")))")
    for state in states.map(\.rawValue).sorted() { values.append(state) }
    for (column, value) in [("tenant_id", filter.tenant), ("reason", filter.reason), ("error_code", filter.errorCode),
                            ("session_id", filter.session), ("provider", filter.provider)] {
        if let value {
            clauses.append("\(column) = ?")
            values.append(value)
        }
    }
    if let since = filter.since {
        clauses.append("archived_at >= ?")
        values.append(since.timeIntervalSince1970)
    }
    if let until = filter.until {
        clauses.append("archived_at < ?")
        values.append(until.timeIntervalSince1970)
    }
    return (clauses.joined(separator: " AND "), values)
}

/// Moves every waiting letter `selection` matches to `state`, and its group's count
/// down by the letters this statement moved; returns how many.
private func leaveWaiting(_ selection: String, _ values: [any SQLBindable], to state: ArchivedDeadLetter.State,
                          at now: Date, in db: PostgresSQL) async throws -> Int {
    let column = state == .replayed ? "replayed_at" : "discarded_at"
    let replays = state == .replayed ? ", replays = replays + 1, job_id = NULL" : ""
    let moved = try await db.rows("""
        UPDATE dead_letters SET state = ?, \(column) = ?, resolved_at = ?\(replays)
        WHERE state = 'archived' AND (\(selection))
        RETURNING tenant_id, reason, error_code, session_id, provider
        """, [state.rawValue, now.timeIntervalSince1970, now.timeIntervalSince1970] + values)
    var groups: [[String]: Int] = [:]
    for row in moved {
        let key = try ["tenant_id", "reason", "error_code", "session_id", "provider"].map { try row.get($0) as String }
        groups[key, default: 0] += 1
    }
    for (key, count) in groups { try await adjustGroup(key, by: -count, in: db) }
    return moved.count
}

/// Moves a group's count of waiting letters by `delta`; `key` is tenant, reason, code,
/// session, provider.
private func adjustGroup(_ key: [String], by delta: Int, in db: PostgresSQL) async throws {
    try await db.execute("""
        UPDATE dead_letter_groups SET count = greatest(0, count + ?)
        WHERE tenant_id = ? AND reason = ? AND error_code = ? AND session_id = ? AND provider = ?
        """, [delta] + key)
}

extension PostgresStore: DeadLetterStore {
    public func archive(_ letters: [ArchivedDeadLetter]) async throws(StoreError) -> Int {
        guard !letters.isEmpty else { return 0 }
        return try await transaction { db in
            var archived = 0
            for letter in letters {
                let inserted = try await db.execute("""
                    INSERT INTO dead_letters (\(deadLetterColumns))
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (fingerprint) DO NOTHING RETURNING 1
                    """, [
                        letter.id, letter.fingerprint, letter.tenant, letter.source, letter.exchange, letter.routingKey,
                        letter.originalExchange, letter.originalRoutingKey, letter.reason, letter.errorCode ?? "",
                        letter.detail, letter.attempts, letter.firstFailedAt?.timeIntervalSince1970,
                        letter.lastFailedAt?.timeIntervalSince1970, letter.messageID, letter.session ?? "",
                        letter.provider ?? "", letter.deathHistory, letter.headers, letter.properties, letter.body,
                        letter.archivedAt.timeIntervalSince1970, ArchivedDeadLetter.State.archived.rawValue, 0,
                        SQLValue.null, SQLValue.null, SQLValue.null,
                    ])
                guard inserted > 0 else { continue }
                archived += 1
                let at = letter.archivedAt.timeIntervalSince1970
                try await db.execute("""
                    INSERT INTO dead_letter_groups (tenant_id, reason, error_code, session_id, provider, count, total,
                        first_seen, last_seen)
                    VALUES (?, ?, ?, ?, ?, 1, 1, ?, ?)
                    ON CONFLICT (tenant_id, reason, error_code, session_id, provider) DO UPDATE SET
                        count = dead_letter_groups.count + 1, total = dead_letter_groups.total + 1,
                        first_seen = least(dead_letter_groups.first_seen, excluded.first_seen),
                        last_seen = greatest(dead_letter_groups.last_seen, excluded.last_seen)
                    """, [letter.tenant, letter.reason, letter.errorCode ?? "", letter.session ?? "",
                          letter.provider ?? "", at, at])
            }
            return archived
        }
    }

    public func deadLetter(_ id: String) async throws(StoreError) -> ArchivedDeadLetter? {
        try await run { db in
            try await db.one("SELECT \(deadLetterColumns) FROM dead_letters WHERE id = ?", [id]).map(archivedDeadLetter)
        }
    }

    public func deadLetters(matching filter: DeadLetterFilter, after cursor: DeadLetterCursor?, limit: Int)
        async throws(StoreError) -> [ArchivedDeadLetter]
    {
        var (clause, values) = whereClause(filter)
        if let cursor {
            clause += " AND (archived_at < ? OR (archived_at = ? AND id < ?))"
            let at = cursor.archivedAt.timeIntervalSince1970
            values += [at, at, cursor.id] as [any SQLBindable]
        }
        values.append(max(1, limit))
        let query = clause
        let arguments = values
        return try await run { db in
            try await db.rows("""
                SELECT \(deadLetterColumns) FROM dead_letters WHERE \(query) ORDER BY archived_at DESC, id DESC LIMIT ?
                """, arguments).map(archivedDeadLetter)
        }
    }

    public func countDeadLetters(matching filter: DeadLetterFilter) async throws(StoreError) -> Int {
        let (clause, values) = whereClause(filter)
        return try await run { db in
            try await db.one("SELECT COUNT(*) AS n FROM dead_letters WHERE \(clause)", values)?.get("n") ?? 0
        }
    }

    public func deadLetterGroups(tenant: String?, by grouping: DeadLetterGrouping, includeEmpty: Bool)
        async throws(StoreError) -> [DeadLetterGroup]
    {
        let keys = switch grouping {
        case .reason: "reason, error_code"
        case .session: "session_id"
        case .provider: "provider"
        }
        let scope = tenant == nil ? "" : "WHERE tenant_id = ?"
        let values: [any SQLBindable] = tenant.map { [$0] } ?? []
        let having = includeEmpty ? "" : "HAVING SUM(count) > 0"
        return try await run { db in
            try await db.rows("""
                SELECT tenant_id, \(keys), SUM(count)::bigint AS count, SUM(total)::bigint AS total,
                    MIN(first_seen) AS first_seen, MAX(last_seen) AS last_seen
                FROM dead_letter_groups \(scope) GROUP BY tenant_id, \(keys) \(having)
                ORDER BY count DESC, last_seen DESC
                """, values).map { row in
                DeadLetterGroup(
                    tenant: try row.get("tenant_id"),
                    reason: grouping == .reason ? try row.get("reason") : nil,
                    errorCode: grouping == .reason ? nonEmpty(try row.get("error_code")) : nil,
                    session: grouping == .session ? nonEmpty(try row.get("session_id")) : nil,
                    provider: grouping == .provider ? nonEmpty(try row.get("provider")) : nil,
                    count: try row.get("count"), total: try row.get("total"), firstSeen: try row.date("first_seen"),
                    lastSeen: try row.date("last_seen"))
            }
        }
    }

    public func setDiscarded(_ ids: [String], _ discarded: Bool, tenant: String?, at now: Date)
        async throws(StoreError) -> [String: DeadLetterActionOutcome]
    {
        try await transaction { db in
            var outcomes: [String: DeadLetterActionOutcome] = [:]
            for id in Set(ids).sorted() {
                guard let row = try await db.one("""
                    SELECT state, tenant_id, reason, error_code, session_id, provider FROM dead_letters WHERE id = ?
                    FOR UPDATE
                    """, [id]), try tenant == nil || row.get("tenant_id") as String == tenant
                else {
                    outcomes[id] = .notFound
                    continue
                }
                switch (ArchivedDeadLetter.State(rawValue: try row.get("state")) ?? .archived, discarded) {
                case (.archived, true):
                    _ = try await leaveWaiting("id = ?", [id], to: .discarded, at: now, in: db)
                    outcomes[id] = .accepted
                case (.discarded, false):
                    try await db.execute("""
                        UPDATE dead_letters SET state = 'archived', discarded_at = NULL, resolved_at = NULL WHERE id = ?
                        """, [id])
                    let key = try ["tenant_id", "reason", "error_code", "session_id", "provider"].map {
                        try row.get($0) as String
                    }
                    try await adjustGroup(key, by: 1, in: db)
                    outcomes[id] = .accepted
                case (.discarded, true): outcomes[id] = .alreadyDiscarded
                case (.replayed, _): outcomes[id] = .alreadyReplayed
                case (.archived, false): outcomes[id] = .notDiscarded
                }
            }
            return outcomes
        }
    }

    public func discard(matching filter: DeadLetterFilter, at now: Date) async throws(StoreError) -> Int {
        var waiting = filter
        waiting.states = [.archived]
        let (clause, values) = whereClause(waiting)
        return try await transaction { db in
            try await leaveWaiting("\(clause) AND job_id IS NULL", values, to: .discarded, at: now, in: db)
        }
    }

    public func markReplayed(_ id: String, at now: Date) async throws(StoreError) -> Bool {
        try await transaction { db in try await leaveWaiting("id = ?", [id], to: .replayed, at: now, in: db) > 0 }
    }

    public func purgeDeadLetters(resolvedBefore date: Date) async throws(StoreError) -> Int {
        try await run { db in
            try await db.execute("DELETE FROM dead_letters WHERE resolved_at IS NOT NULL AND resolved_at < ? RETURNING 1",
                                 [date.timeIntervalSince1970])
        }
    }

    // MARK: Replay jobs

    public func createReplayJob(ids: [String], tenant: String?, session: String?, actor: String, at now: Date)
        async throws(StoreError) -> (job: ReplayJob, outcomes: [String: DeadLetterActionOutcome])
    {
        let jobID = MessageID.make(at: now)
        return try await transaction { db in
            var outcomes: [String: DeadLetterActionOutcome] = [:]
            var taken = 0
            for id in Set(ids).sorted() {
                guard let row = try await db.one("SELECT state, tenant_id, job_id FROM dead_letters WHERE id = ? FOR UPDATE",
                                                 [id]),
                      try tenant == nil || row.get("tenant_id") as String == tenant
                else {
                    outcomes[id] = .notFound
                    continue
                }
                switch ArchivedDeadLetter.State(rawValue: try row.get("state")) ?? .archived {
                case .replayed:
                    outcomes[id] = .alreadyReplayed
                case .discarded:
                    outcomes[id] = .discarded
                case .archived:
                    if (try row.get("job_id") as String?) != nil {
                        outcomes[id] = .alreadyReplayed
                    } else {
                        try await db.execute("UPDATE dead_letters SET job_id = ? WHERE id = ?", [jobID, id])
                        outcomes[id] = .accepted
                        taken += 1
                    }
                }
            }
            let job = try await Self.insertJob(jobID, tenant: tenant, session: session, total: taken, actor: actor,
                                               at: now, in: db)
            return (job, outcomes)
        }
    }

    public func createReplayJob(matching filter: DeadLetterFilter, session: String?, actor: String, at now: Date)
        async throws(StoreError) -> ReplayJob
    {
        let jobID = MessageID.make(at: now)
        var waiting = filter
        waiting.states = [.archived]
        let (clause, values) = whereClause(waiting)
        return try await transaction { db in
            let taken = try await db.execute("UPDATE dead_letters SET job_id = ? WHERE \(clause) AND job_id IS NULL RETURNING 1",
                                             [jobID] + values)
            return try await Self.insertJob(jobID, tenant: filter.tenant, session: session, total: taken, actor: actor,
                                            at: now, in: db)
        }
    }

    private static func insertJob(_ id: String, tenant: String?, session: String?, total: Int, actor: String,
                                  at now: Date, in db: PostgresSQL) async throws -> ReplayJob {
        let state: ReplayJob.State = total == 0 ? .done : .pending
        try await db.execute("""
            INSERT INTO replay_jobs (id, tenant_id, session_id, state, total, replayed, failed, created_at, updated_at,
                lease_until, actor)
            VALUES (?, ?, ?, ?, ?, 0, 0, ?, ?, NULL, ?)
            """, [id, tenant, session, state.rawValue, total, now.timeIntervalSince1970, now.timeIntervalSince1970, actor])
        return ReplayJob(id: id, tenant: tenant, session: session, state: state, total: total, replayed: 0, failed: 0,
                         createdAt: now, updatedAt: now, actor: actor)
    }

    public func replayJob(_ id: String) async throws(StoreError) -> ReplayJob? {
        try await run { db in try await db.one("SELECT * FROM replay_jobs WHERE id = ?", [id]).map(decodeReplayJob(_:)) }
    }

    public func claimReplayJob(_ id: String?, leaseUntil until: Date) async throws(StoreError) -> ReplayJob? {
        let now = Date().timeIntervalSince1970
        return try await transaction { db in
            let free = "state != 'done' AND (lease_until IS NULL OR lease_until < ?)"
            let row = if let id {
                try await db.one("SELECT * FROM replay_jobs WHERE id = ? AND \(free) FOR UPDATE SKIP LOCKED", [id, now])
            } else {
                try await db.one("SELECT * FROM replay_jobs WHERE \(free) ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED",
                                 [now])
            }
            guard let row else { return nil }
            try await db.execute("UPDATE replay_jobs SET state = 'running', lease_until = ?, updated_at = ? WHERE id = ?",
                                 [until.timeIntervalSince1970, now, try row.get("id") as String])
            var claimed = try decodeReplayJob(row)
            claimed.state = .running
            return claimed
        }
    }

    public func renewReplayJob(_ id: String, leaseUntil until: Date) async throws(StoreError) {
        try await run { db in
            try await db.execute("UPDATE replay_jobs SET lease_until = ? WHERE id = ?", [until.timeIntervalSince1970, id])
        }
    }

    public func nextToReplay(job: String, limit: Int) async throws(StoreError) -> [ArchivedDeadLetter] {
        try await run { db in
            try await db.rows("""
                SELECT \(deadLetterColumns) FROM dead_letters WHERE job_id = ? AND state = 'archived'
                ORDER BY archived_at, id LIMIT ?
                """, [job, max(1, limit)]).map(archivedDeadLetter)
        }
    }

    public func settleReplays(job id: String, replayed: [String], failed: [String: String], at now: Date)
        async throws(StoreError) -> ReplayJob
    {
        try await transaction { db in
            var done = 0
            for letter in replayed {
                done += try await leaveWaiting("id = ? AND job_id = ?", [letter, id], to: .replayed, at: now, in: db)
            }
            for (letter, why) in failed {
                // Back to waiting, out of the job, with why: an operator may fix and replay it.
                try await db.execute("UPDATE dead_letters SET job_id = NULL, replay_error = ? WHERE id = ? AND job_id = ?",
                                     [why, letter, id])
            }
            try await db.execute("""
                UPDATE replay_jobs SET replayed = replayed + ?, failed = failed + ?, updated_at = ? WHERE id = ?
                """, [done, failed.count, now.timeIntervalSince1970, id])
            let left: Int = try await db.one("SELECT COUNT(*) AS n FROM dead_letters WHERE job_id = ? AND state = 'archived'",
                                             [id])?.get("n") ?? 0
            if left == 0 {
                try await db.execute("UPDATE replay_jobs SET state = 'done', lease_until = NULL WHERE id = ?", [id])
            }
            guard let row = try await db.one("SELECT * FROM replay_jobs WHERE id = ?", [id]) else {
                throw StoreError.notFound("replay job \(id)")
            }
            return try decodeReplayJob(row)
        }
    }

    // MARK: Audit

    public func recordAudit(_ entry: AuditEntry) async throws(StoreError) {
        try await run { db in
            try await db.execute("""
                INSERT INTO audit_log (at, actor_id, actor_label, tenant_id, action, target, count)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """, [entry.at.timeIntervalSince1970, entry.actorID, entry.actorLabel, entry.tenant, entry.action,
                      entry.target, entry.count])
        }
    }

    public func auditEntries(tenant: String?, before id: Int64?, limit: Int) async throws(StoreError) -> [AuditEntry] {
        var conditions = ["id < ?"]
        var values: [any SQLBindable] = [id ?? Int64.max]
        if let tenant {
            conditions.append("tenant_id = ?")
            values.append(tenant)
        }
        values.append(max(1, limit))
        let clause = conditions.joined(separator: " AND ")
        let arguments = values
        return try await run { db in
            try await db.rows("SELECT * FROM audit_log WHERE \(clause) ORDER BY id DESC LIMIT ?", arguments).map { row in
                AuditEntry(id: try row.get("id"), at: try row.date("at"), actorID: try row.get("actor_id"),
                           actorLabel: try row.get("actor_label"), tenant: try row.get("tenant_id"),
                           action: try row.get("action"), target: try row.get("target"), count: try row.get("count"))
            }
        }
    }
}
