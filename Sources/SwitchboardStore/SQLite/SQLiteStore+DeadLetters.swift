public import Foundation
import GRDB
import SwitchboardCore

// The dead-letter archive. Groups are kept as a summary table updated in the same
// transaction as the rows they count, so listing groups never scans the archive.
// Absent error codes, sessions and providers are stored as '' so a group of letters
// without one is a value a filter can name.

private let deadLetterColumns = """
    id, fingerprint, tenant_id, source, exchange, routing_key, original_exchange, original_routing_key, reason,
    error_code, detail, attempts, first_failed_at, last_failed_at, message_id, session_id, provider, death_history,
    headers, properties, body, archived_at, state, replays, replayed_at, discarded_at, replay_error
    """

private func seconds(_ date: Date?) -> Double? { date?.timeIntervalSince1970 }
private func date(_ seconds: Double?) -> Date? { seconds.map(Date.init(timeIntervalSince1970:)) }
private func nonEmpty(_ text: String?) -> String? { text.flatMap { $0.isEmpty ? nil : $0 } }

private func archivedDeadLetter(_ row: Row) -> ArchivedDeadLetter {
    ArchivedDeadLetter(
        id: row["id"], fingerprint: row["fingerprint"], tenant: row["tenant_id"], source: row["source"],
        exchange: row["exchange"], routingKey: row["routing_key"], originalExchange: row["original_exchange"],
        originalRoutingKey: row["original_routing_key"], reason: row["reason"],
        errorCode: nonEmpty(row["error_code"]), detail: row["detail"], attempts: row["attempts"],
        firstFailedAt: date(row["first_failed_at"]), lastFailedAt: date(row["last_failed_at"]),
        messageID: row["message_id"], session: nonEmpty(row["session_id"]), provider: nonEmpty(row["provider"]),
        deathHistory: row["death_history"], headers: row["headers"], properties: row["properties"], body: row["body"],
        archivedAt: Date(timeIntervalSince1970: row["archived_at"]),
        state: ArchivedDeadLetter.State(rawValue: row["state"]) ?? .archived, replays: row["replays"],
        replayedAt: date(row["replayed_at"]), discardedAt: date(row["discarded_at"]), replayError: row["replay_error"])
}

private func replayJobRecord(_ row: Row) -> ReplayJob {
    ReplayJob(id: row["id"], tenant: row["tenant_id"], session: row["session_id"],
              state: ReplayJob.State(rawValue: row["state"]) ?? .pending, total: row["total"],
              replayed: row["replayed"], failed: row["failed"],
              createdAt: Date(timeIntervalSince1970: row["created_at"]),
              updatedAt: Date(timeIntervalSince1970: row["updated_at"]), actor: row["actor"])
}

/// The WHERE clause and arguments of a filter (`dead_letters` columns).
private func whereClause(_ filter: DeadLetterFilter) -> (String, StatementArguments) {
    var clauses: [String] = []
    var arguments: StatementArguments = []
    let states = filter.states.isEmpty ? Set(ArchivedDeadLetter.State.allCases) : filter.states
    clauses.append("state IN (\(states.map { _ in "?" }.joined(separator: ", ")))")
    for state in states.map(\.rawValue).sorted() { arguments += [state] }
    for (column, value) in [("tenant_id", filter.tenant), ("reason", filter.reason),
                            ("error_code", filter.errorCode), ("session_id", filter.session),
                            ("provider", filter.provider)] {
        if let value {
            clauses.append("\(column) = ?")
            arguments += [value]
        }
    }
    if let since = filter.since {
        clauses.append("archived_at >= ?")
        arguments += [since.timeIntervalSince1970]
    }
    if let until = filter.until {
        clauses.append("archived_at < ?")
        arguments += [until.timeIntervalSince1970]
    }
    return (clauses.joined(separator: " AND "), arguments)
}

/// Moves a group's count of waiting letters by `delta` (a row left or re-entered the
/// waiting state).
private func adjustGroup(of letter: Row, by delta: Int, in db: Database) throws {
    try db.cachedStatement(sql: """
        UPDATE dead_letter_groups SET count = max(0, count + ?)
        WHERE tenant_id = ? AND reason = ? AND error_code = ? AND session_id = ? AND provider = ?
        """).execute(arguments: [delta, letter["tenant_id"], letter["reason"], letter["error_code"],
                                 letter["session_id"], letter["provider"]])
}

/// Moves every waiting letter `selection` matches (SQL over `dead_letters`, with its
/// arguments) to `state`, keeping the groups' counts; returns how many moved.
private func leaveWaiting(_ selection: String, _ arguments: StatementArguments, to state: ArchivedDeadLetter.State,
                          at now: Date, in db: Database) throws -> Int {
    let moved = try Row.fetchAll(db, sql: """
        SELECT tenant_id, reason, error_code, session_id, provider, COUNT(*) AS n FROM dead_letters
        WHERE state = 'archived' AND (\(selection)) GROUP BY tenant_id, reason, error_code, session_id, provider
        """, arguments: arguments)
    let column = state == .replayed ? "replayed_at" : "discarded_at"
    let replays = state == .replayed ? ", replays = replays + 1, job_id = NULL" : ""
    try db.execute(sql: """
        UPDATE dead_letters SET state = ?, \(column) = ?, resolved_at = ?\(replays)
        WHERE state = 'archived' AND (\(selection))
        """, arguments: [state.rawValue, now.timeIntervalSince1970, now.timeIntervalSince1970] + arguments)
    var total = 0
    for group in moved {
        let count: Int = group["n"]
        total += count
        try adjustGroup(of: group, by: -count, in: db)
    }
    return total
}

extension SQLiteStore: DeadLetterStore {
    public func archive(_ letters: [ArchivedDeadLetter]) async throws(StoreError) -> Int {
        guard !letters.isEmpty else { return 0 }
        do {
            return try await groupCommit.write { db in
                var archived = 0
                for letter in letters {
                    try db.cachedStatement(sql: """
                        INSERT INTO dead_letters (\(deadLetterColumns))
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT (fingerprint) DO NOTHING
                        """).execute(arguments: [
                            letter.id, letter.fingerprint, letter.tenant, letter.source, letter.exchange,
                            letter.routingKey, letter.originalExchange, letter.originalRoutingKey, letter.reason,
                            letter.errorCode ?? "", letter.detail, letter.attempts, seconds(letter.firstFailedAt),
                            seconds(letter.lastFailedAt), letter.messageID, letter.session ?? "", letter.provider ?? "",
                            letter.deathHistory, letter.headers, letter.properties, letter.body,
                            letter.archivedAt.timeIntervalSince1970, ArchivedDeadLetter.State.archived.rawValue, 0,
                            nil, nil, nil,
                        ])
                    guard db.changesCount > 0 else { continue }
                    archived += 1
                    let at = letter.archivedAt.timeIntervalSince1970
                    try db.cachedStatement(sql: """
                        INSERT INTO dead_letter_groups (tenant_id, reason, error_code, session_id, provider, count, total,
                            first_seen, last_seen)
                        VALUES (?, ?, ?, ?, ?, 1, 1, ?, ?)
                        ON CONFLICT (tenant_id, reason, error_code, session_id, provider) DO UPDATE SET
                            count = count + 1, total = total + 1, first_seen = min(first_seen, excluded.first_seen),
                            last_seen = max(last_seen, excluded.last_seen)
                        """).execute(arguments: [letter.tenant, letter.reason, letter.errorCode ?? "",
                                                 letter.session ?? "", letter.provider ?? "", at, at])
                }
                return archived
            }
        } catch {
            throw Self.map(error)
        }
    }

    public func deadLetter(_ id: String) async throws(StoreError) -> ArchivedDeadLetter? {
        try await read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT \(deadLetterColumns) FROM dead_letters WHERE id = ?"),
                             arguments: [id]).map(archivedDeadLetter)
        }
    }

    public func deadLetters(matching filter: DeadLetterFilter, after cursor: DeadLetterCursor?, limit: Int)
        async throws(StoreError) -> [ArchivedDeadLetter]
    {
        var (clause, arguments) = whereClause(filter)
        if let cursor {
            clause += " AND (archived_at < ? OR (archived_at = ? AND id < ?))"
            let at = cursor.archivedAt.timeIntervalSince1970
            arguments += [at, at, cursor.id]
        }
        arguments += [max(1, limit)]
        let query = clause
        let values = arguments
        return try await read { db in
            try Row.fetchAll(db, sql: """
                SELECT \(deadLetterColumns) FROM dead_letters WHERE \(query)
                ORDER BY archived_at DESC, id DESC LIMIT ?
                """, arguments: values).map(archivedDeadLetter)
        }
    }

    public func countDeadLetters(matching filter: DeadLetterFilter) async throws(StoreError) -> Int {
        let (clause, arguments) = whereClause(filter)
        return try await read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM dead_letters WHERE \(clause)", arguments: arguments) ?? 0
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
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if let tenant {
            conditions.append("tenant_id = ?")
            arguments += [tenant]
        }
        let having = includeEmpty ? "" : "HAVING SUM(count) > 0"
        let scope = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let values = arguments
        return try await read { db in
            try Row.fetchAll(db, sql: """
                SELECT tenant_id, \(keys), SUM(count) AS count, SUM(total) AS total, MIN(first_seen) AS first_seen,
                    MAX(last_seen) AS last_seen
                FROM dead_letter_groups \(scope) GROUP BY tenant_id, \(keys) \(having)
                ORDER BY count DESC, last_seen DESC
                """, arguments: values).map { row in
                DeadLetterGroup(
                    tenant: row["tenant_id"],
                    reason: grouping == .reason ? row["reason"] : nil,
                    errorCode: grouping == .reason ? nonEmpty(row["error_code"]) : nil,
                    session: grouping == .session ? nonEmpty(row["session_id"]) : nil,
                    provider: grouping == .provider ? nonEmpty(row["provider"]) : nil,
                    count: row["count"], total: row["total"],
                    firstSeen: Date(timeIntervalSince1970: row["first_seen"]),
                    lastSeen: Date(timeIntervalSince1970: row["last_seen"]))
            }
        }
    }

    public func setDiscarded(_ ids: [String], _ discarded: Bool, tenant: String?, at now: Date)
        async throws(StoreError) -> [String: DeadLetterActionOutcome]
    {
        try await write { db in
            var outcomes: [String: DeadLetterActionOutcome] = [:]
            for id in Set(ids) {
                guard let row = try Row.fetchOne(db.cachedStatement(sql: """
                    SELECT state, tenant_id, reason, error_code, session_id, provider FROM dead_letters WHERE id = ?
                    """), arguments: [id]), tenant == nil || row["tenant_id"] == tenant
                else {
                    outcomes[id] = .notFound
                    continue
                }
                let state = ArchivedDeadLetter.State(rawValue: row["state"]) ?? .archived
                switch (state, discarded) {
                case (.archived, true):
                    _ = try leaveWaiting("id = ?", [id], to: .discarded, at: now, in: db)
                    outcomes[id] = .accepted
                case (.discarded, false):
                    try db.execute(sql: """
                        UPDATE dead_letters SET state = 'archived', discarded_at = NULL, resolved_at = NULL WHERE id = ?
                        """, arguments: [id])
                    try adjustGroup(of: row, by: 1, in: db)
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
        let (clause, arguments) = whereClause(waiting)
        return try await write { db in
            try leaveWaiting("id IN (SELECT id FROM dead_letters WHERE \(clause) AND job_id IS NULL)", arguments,
                             to: .discarded, at: now, in: db)
        }
    }

    public func markReplayed(_ id: String, at now: Date) async throws(StoreError) -> Bool {
        try await write { db in try leaveWaiting("id = ?", [id], to: .replayed, at: now, in: db) > 0 }
    }

    public func purgeDeadLetters(resolvedBefore date: Date) async throws(StoreError) -> Int {
        try await write { db in
            try db.execute(sql: "DELETE FROM dead_letters WHERE resolved_at IS NOT NULL AND resolved_at < ?",
                           arguments: [date.timeIntervalSince1970])
            return db.changesCount
        }
    }

    // MARK: Replay jobs

    public func createReplayJob(ids: [String], tenant: String?, session: String?, actor: String, at now: Date)
        async throws(StoreError) -> (job: ReplayJob, outcomes: [String: DeadLetterActionOutcome])
    {
        let jobID = MessageID.make(at: now)
        return try await write { db in
            var outcomes: [String: DeadLetterActionOutcome] = [:]
            var taken = 0
            for id in Set(ids) {
                guard let row = try Row.fetchOne(db.cachedStatement(
                    sql: "SELECT state, tenant_id, job_id FROM dead_letters WHERE id = ?"), arguments: [id]),
                    tenant == nil || row["tenant_id"] == tenant
                else {
                    outcomes[id] = .notFound
                    continue
                }
                switch ArchivedDeadLetter.State(rawValue: row["state"]) ?? .archived {
                case .replayed:
                    outcomes[id] = .alreadyReplayed
                case .discarded:
                    outcomes[id] = .discarded
                case .archived:
                    if (row["job_id"] as String?) != nil {
                        outcomes[id] = .alreadyReplayed
                    } else {
                        try db.execute(sql: "UPDATE dead_letters SET job_id = ? WHERE id = ?", arguments: [jobID, id])
                        outcomes[id] = .accepted
                        taken += 1
                    }
                }
            }
            let job = try Self.insertJob(jobID, tenant: tenant, session: session, total: taken, actor: actor, at: now,
                                         in: db)
            return (job, outcomes)
        }
    }

    public func createReplayJob(matching filter: DeadLetterFilter, session: String?, actor: String, at now: Date)
        async throws(StoreError) -> ReplayJob
    {
        let jobID = MessageID.make(at: now)
        var waiting = filter
        waiting.states = [.archived]
        let (clause, arguments) = whereClause(waiting)
        return try await write { db in
            try db.execute(sql: "UPDATE dead_letters SET job_id = ? WHERE \(clause) AND job_id IS NULL",
                           arguments: [jobID] + arguments)
            return try Self.insertJob(jobID, tenant: filter.tenant, session: session, total: db.changesCount,
                                      actor: actor, at: now, in: db)
        }
    }

    private static func insertJob(_ id: String, tenant: String?, session: String?, total: Int, actor: String,
                                  at now: Date, in db: Database) throws -> ReplayJob {
        let state: ReplayJob.State = total == 0 ? .done : .pending
        try db.execute(sql: """
            INSERT INTO replay_jobs (id, tenant_id, session_id, state, total, replayed, failed, created_at, updated_at,
                lease_until, actor)
            VALUES (?, ?, ?, ?, ?, 0, 0, ?, ?, NULL, ?)
            """, arguments: [id, tenant, session, state.rawValue, total, now.timeIntervalSince1970,
                             now.timeIntervalSince1970, actor])
        return ReplayJob(id: id, tenant: tenant, session: session, state: state, total: total, replayed: 0, failed: 0,
                         createdAt: now, updatedAt: now, actor: actor)
    }

    public func replayJob(_ id: String) async throws(StoreError) -> ReplayJob? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM replay_jobs WHERE id = ?", arguments: [id]).map(replayJobRecord)
        }
    }

    public func claimReplayJob(_ id: String?, leaseUntil until: Date) async throws(StoreError) -> ReplayJob? {
        let now = Date().timeIntervalSince1970
        return try await write { db in
            let free = "state != 'done' AND (lease_until IS NULL OR lease_until < ?)"
            let row = if let id {
                try Row.fetchOne(db, sql: "SELECT * FROM replay_jobs WHERE id = ? AND \(free)", arguments: [id, now])
            } else {
                try Row.fetchOne(db, sql: "SELECT * FROM replay_jobs WHERE \(free) ORDER BY created_at LIMIT 1",
                                 arguments: [now])
            }
            guard let row else { return nil }
            try db.execute(sql: "UPDATE replay_jobs SET state = 'running', lease_until = ?, updated_at = ? WHERE id = ?",
                           arguments: [until.timeIntervalSince1970, now, row["id"]])
            var claimed = replayJobRecord(row)
            claimed.state = .running
            return claimed
        }
    }

    public func renewReplayJob(_ id: String, leaseUntil until: Date) async throws(StoreError) {
        try await write { db in
            try db.execute(sql: "UPDATE replay_jobs SET lease_until = ? WHERE id = ?",
                           arguments: [until.timeIntervalSince1970, id])
        }
    }

    public func nextToReplay(job: String, limit: Int) async throws(StoreError) -> [ArchivedDeadLetter] {
        try await read { db in
            try Row.fetchAll(db, sql: """
                SELECT \(deadLetterColumns) FROM dead_letters WHERE job_id = ? AND state = 'archived'
                ORDER BY archived_at, id LIMIT ?
                """, arguments: [job, max(1, limit)]).map(archivedDeadLetter)
        }
    }

    public func settleReplays(job id: String, replayed: [String], failed: [String: String], at now: Date)
        async throws(StoreError) -> ReplayJob
    {
        try await write { db in
            var done = 0
            for letter in replayed {
                done += try leaveWaiting("id = ? AND job_id = ?", [letter, id], to: .replayed, at: now, in: db)
            }
            for (letter, why) in failed {
                // Back to waiting, out of the job, with why: an operator may fix and replay it.
                try db.execute(sql: "UPDATE dead_letters SET job_id = NULL, replay_error = ? WHERE id = ? AND job_id = ?",
                               arguments: [why, letter, id])
            }
            try db.execute(sql: """
                UPDATE replay_jobs SET replayed = replayed + ?, failed = failed + ?, updated_at = ? WHERE id = ?
                """, arguments: [done, failed.count, now.timeIntervalSince1970, id])
            let left = try Int.fetchOne(db, sql: """
                SELECT COUNT(*) FROM dead_letters WHERE job_id = ? AND state = 'archived'
                """, arguments: [id]) ?? 0
            if left == 0 {
                try db.execute(sql: "UPDATE replay_jobs SET state = 'done', lease_until = NULL WHERE id = ?",
                               arguments: [id])
            }
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM replay_jobs WHERE id = ?", arguments: [id]) else {
                throw StoreError.notFound("replay job \(id)")
            }
            return replayJobRecord(row)
        }
    }

    // MARK: Audit

    public func recordAudit(_ entry: AuditEntry) async throws(StoreError) {
        try await write { db in
            try db.execute(sql: """
                INSERT INTO audit_log (at, actor_id, actor_label, tenant_id, action, target, count)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """, arguments: [entry.at.timeIntervalSince1970, entry.actorID, entry.actorLabel, entry.tenant,
                                 entry.action, entry.target, entry.count])
        }
    }

    public func auditEntries(tenant: String?, before id: Int64?, limit: Int) async throws(StoreError) -> [AuditEntry] {
        var conditions = ["id < ?"]
        var arguments: StatementArguments = [id ?? Int64.max]
        if let tenant {
            conditions.append("tenant_id = ?")
            arguments += [tenant]
        }
        arguments += [max(1, limit)]
        let clause = conditions.joined(separator: " AND ")
        let values = arguments
        return try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM audit_log WHERE \(clause) ORDER BY id DESC LIMIT ?",
                             arguments: values).map { row in
                AuditEntry(id: row["id"], at: Date(timeIntervalSince1970: row["at"]), actorID: row["actor_id"],
                           actorLabel: row["actor_label"], tenant: row["tenant_id"], action: row["action"],
                           target: row["target"], count: row["count"])
            }
        }
    }
}
