import Foundation
import PostgresNIO
public import SwitchboardCore

// Tenants, sessions and api keys. A tenant's sessions change under an advisory lock on
// the tenant, so two instances adding sessions at once agree on which is primary.

private let sessionColumns = "id, tenant_id, provider, phone_number, status, is_primary, sealed_secrets, created_at"

private func decodeTenant(_ row: PostgresSQLRow) throws -> Tenant {
    Tenant(id: try TenantID(try row.get("id") as String), name: try row.get("name"),
           limits: TenantLimits(sessionRate: try row.get("session_rate"), bulkShare: try row.get("bulk_share"),
                                backlogQuota: try row.get("backlog_quota")),
           createdAt: try row.get("created_at"))
}

private func decodeSession(_ row: PostgresSQLRow) throws -> Session {
    let id: String = try row.get("id")
    guard let provider = ProviderKind(rawValue: try row.get("provider")),
          let status = SessionStatus(rawValue: try row.get("status"))
    else { throw StoreError.database("session \(id) has an unknown provider or status") }
    return Session(id: try SessionID(id), tenant: try TenantID(try row.get("tenant_id") as String), provider: provider,
                   phoneNumber: try PhoneNumber(try row.get("phone_number") as String), status: status,
                   isPrimary: try row.get("is_primary"), createdAt: try row.get("created_at"))
}

private func decodeAPIKey(_ row: PostgresSQLRow) throws -> APIKey {
    let isAdmin: Bool = try row.get("is_admin")
    let scope: APIKeyScope = try isAdmin ? .admin : .tenant(TenantID((try row.get("tenant_id") as String?) ?? ""))
    return APIKey(id: try row.get("id"), scope: scope, label: try row.get("label"), createdAt: try row.get("created_at"))
}

private func insertTenant(_ tenant: Tenant, in db: PostgresSQL) async throws {
    try await db.execute("""
        INSERT INTO tenants (id, name, session_rate, bulk_share, backlog_quota, created_at) VALUES (?, ?, ?, ?, ?, ?)
        """, [tenant.id.rawValue, tenant.name, tenant.limits.sessionRate, tenant.limits.bulkShare,
              tenant.limits.backlogQuota, tenant.createdAt])
}

private func insertSession(_ session: Session, sealed: Data, primary: Bool, in db: PostgresSQL) async throws {
    try await db.execute("INSERT INTO sessions (\(sessionColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [
        session.id.rawValue, session.tenant.rawValue, session.provider.rawValue, session.phoneNumber.e164,
        session.status.rawValue, primary, sealed, session.createdAt,
    ])
}

extension PostgresStore: TenantStore {
    public func createTenant(_ tenant: Tenant) async throws(StoreError) {
        do { _ = try tenant.limits.validated() } catch { throw .invalid(error) }
        do {
            try await transaction { db in try await insertTenant(tenant, in: db) }
        } catch .conflict {
            throw .conflict("tenant \(tenant.id)")
        }
        logger.info("tenant created", metadata: [LogKey.tenant: "\(tenant.id)"])
    }

    public func tenant(_ id: TenantID) async throws(StoreError) -> Tenant? {
        try await run { db in try await db.one("SELECT * FROM tenants WHERE id = ?", [id.rawValue]).map(decodeTenant) }
    }

    public func tenants() async throws(StoreError) -> [Tenant] {
        try await run { db in try await db.rows("SELECT * FROM tenants ORDER BY id").map(decodeTenant) }
    }

    public func updateTenant(_ tenant: Tenant) async throws(StoreError) {
        do { _ = try tenant.limits.validated() } catch { throw .invalid(error) }
        let updated = try await transaction { db in
            try await db.execute("""
                UPDATE tenants SET name = ?, session_rate = ?, bulk_share = ?, backlog_quota = ? WHERE id = ? RETURNING 1
                """, [tenant.name, tenant.limits.sessionRate, tenant.limits.bulkShare, tenant.limits.backlogQuota,
                      tenant.id.rawValue])
        }
        guard updated > 0 else { throw .notFound("tenant \(tenant.id)") }
    }

    public func deleteTenant(_ id: TenantID) async throws(StoreError) {
        let deleted = try await transaction { db in
            try await db.execute("DELETE FROM tenants WHERE id = ? RETURNING 1", [id.rawValue])
        }
        guard deleted > 0 else { throw .notFound("tenant \(id)") }
        logger.info("tenant deleted", metadata: [LogKey.tenant: "\(id)"])
    }

    public func createTenants(_ onboardings: [TenantOnboarding]) async throws(StoreError) -> [StoreError?] {
        // Validation and sealing first, outside the transaction.
        var prepared: [Result<(Tenant, [(Session, Data)]), StoreError>] = []
        for onboarding in onboardings {
            do throws(StoreError) {
                do { _ = try onboarding.tenant.limits.validated() } catch { throw .invalid(error) }
                var sessions: [(Session, Data)] = []
                for (session, new) in zip(onboarding.recordedSessions, onboarding.sessions) {
                    guard session.tenant == onboarding.tenant.id else {
                        throw .database("session \(session.id) names tenant \(session.tenant)")
                    }
                    sessions.append((session, try secretBox.sealSecrets(new.secrets, of: session.id)))
                }
                prepared.append(.success((onboarding.tenant, sessions)))
            } catch {
                prepared.append(.failure(error))
            }
        }
        let items = prepared
        let outcomes = try await transaction { db -> [StoreError?] in
            var outcomes: [StoreError?] = []
            for item in items {
                guard case .success(let (tenant, sessions)) = item else {
                    if case .failure(let error) = item { outcomes.append(error) } else { outcomes.append(nil) }
                    continue
                }
                // A savepoint per tenant: one that fails leaves the others in.
                try await db.execute("SAVEPOINT onboarding")
                do {
                    try await insertTenant(tenant, in: db)
                    for (session, sealed) in sessions {
                        try await insertSession(session, sealed: sealed, primary: session.isPrimary, in: db)
                    }
                    try await db.execute("RELEASE SAVEPOINT onboarding")
                    outcomes.append(nil)
                } catch {
                    try await db.execute("ROLLBACK TO SAVEPOINT onboarding")
                    switch Self.map(error) {
                    case .conflict:
                        outcomes.append(.conflict(sessions.isEmpty ? "tenant \(tenant.id)"
                                                  : "tenant \(tenant.id) or one of its sessions"))
                    case let other: outcomes.append(other)
                    }
                }
            }
            return outcomes
        }
        let created = outcomes.filter { $0 == nil }.count
        logger.info("tenants created", metadata: [LogKey.count: "\(created)", LogKey.failures: "\(outcomes.count - created)"])
        return outcomes
    }

    public func existingTenants(among ids: [TenantID]) async throws(StoreError) -> Set<TenantID> {
        guard !ids.isEmpty else { return [] }
        let keys = ids.map(\.rawValue)
        return try await run { db in
            var found: Set<TenantID> = []
            // Chunks keep each statement's parameters well under PostgreSQL's 65,535.
            for chunk in stride(from: 0, to: keys.count, by: 1000).map({ Array(keys[$0..<min($0 + 1000, keys.count)]) }) {
                let marks = Array(repeating: "?", count: chunk.count).joined(separator: ", ")
                for row in try await db.rows("SELECT id FROM tenants WHERE id IN (\(marks))", chunk) {
                    if let id = try? TenantID(try row.get("id") as String) { found.insert(id) }
                }
            }
            return found
        }
    }
}

extension PostgresStore: SessionStore {
    public func addSession(_ session: Session, secrets: SessionSecrets) async throws(StoreError) {
        let sealed = try secretBox.sealSecrets(secrets, of: session.id)
        do {
            try await transaction { db in
                try await db.lock("tenant-sessions:\(session.tenant)")
                guard try await db.one("SELECT 1 AS one FROM tenants WHERE id = ?", [session.tenant.rawValue]) != nil else {
                    throw StoreError.notFound("tenant \(session.tenant)")
                }
                let hasPrimary = try await db.one("""
                    SELECT 1 AS one FROM sessions WHERE tenant_id = ? AND is_primary
                    """, [session.tenant.rawValue]) != nil
                let primary = session.isPrimary || !hasPrimary
                if primary {
                    try await db.execute("UPDATE sessions SET is_primary = false WHERE tenant_id = ? AND is_primary",
                                         [session.tenant.rawValue])
                }
                try await insertSession(session, sealed: sealed, primary: primary, in: db)
            }
        } catch .conflict {
            throw .conflict("session \(session.id)")
        }
        logger.info("session added", metadata: [
            LogKey.tenant: "\(session.tenant)", LogKey.session: "\(session.id)", LogKey.provider: "\(session.provider.rawValue)",
        ])
    }

    public func session(_ id: SessionID) async throws(StoreError) -> Session? {
        try await run { db in
            try await db.one("SELECT \(sessionColumns) FROM sessions WHERE id = ?", [id.rawValue]).map(decodeSession)
        }
    }

    public func allSessions() async throws(StoreError) -> [Session] {
        try await run { db in try await db.rows("SELECT \(sessionColumns) FROM sessions ORDER BY id").map(decodeSession) }
    }

    public func sessions(of tenant: TenantID) async throws(StoreError) -> [Session] {
        try await run { db in
            try await db.rows("SELECT \(sessionColumns) FROM sessions WHERE tenant_id = ? ORDER BY id", [tenant.rawValue])
                .map(decodeSession)
        }
    }

    public func primarySession(of tenant: TenantID) async throws(StoreError) -> Session? {
        try await run { db in
            try await db.one("SELECT \(sessionColumns) FROM sessions WHERE tenant_id = ? AND is_primary",
                             [tenant.rawValue]).map(decodeSession)
        }
    }

    public func sealedSessions() async throws(StoreError) -> [SealedSession] {
        try await run { db in
            try await db.rows("SELECT \(sessionColumns) FROM sessions").map {
                SealedSession(session: try decodeSession($0), sealedSecrets: try $0.get("sealed_secrets"))
            }
        }
    }

    public func open(_ sealed: SealedSession) throws(StoreError) -> SessionSecrets {
        try secretBox.openSecrets(sealed.sealedSecrets, of: sealed.session.id)
    }

    public func existingSessions(among ids: [SessionID]) async throws(StoreError) -> Set<SessionID> {
        guard !ids.isEmpty else { return [] }
        let keys = ids.map(\.rawValue)
        return try await run { db in
            var found: Set<SessionID> = []
            for chunk in stride(from: 0, to: keys.count, by: 1000).map({ Array(keys[$0..<min($0 + 1000, keys.count)]) }) {
                let marks = Array(repeating: "?", count: chunk.count).joined(separator: ", ")
                for row in try await db.rows("SELECT id FROM sessions WHERE id IN (\(marks))", chunk) {
                    if let id = try? SessionID(try row.get("id") as String) { found.insert(id) }
                }
            }
            return found
        }
    }

    public func secrets(of session: SessionID) async throws(StoreError) -> SessionSecrets {
        guard let sealed = try await run({ db in
            try await db.one("SELECT sealed_secrets FROM sessions WHERE id = ?", [session.rawValue])?
                .get("sealed_secrets") as Data?
        }) else {
            throw .notFound("session \(session)")
        }
        return try secretBox.openSecrets(sealed, of: session)
    }

    public func setStatus(_ status: SessionStatus, of session: SessionID) async throws(StoreError) {
        let changed = try await transaction { db in
            try await db.execute("UPDATE sessions SET status = ? WHERE id = ? RETURNING 1", [status.rawValue, session.rawValue])
        }
        guard changed > 0 else { throw .notFound("session \(session)") }
    }

    public func makePrimary(_ session: SessionID) async throws(StoreError) {
        let found = try await transaction { db in
            guard let tenant = try await db.one("SELECT tenant_id FROM sessions WHERE id = ?", [session.rawValue])?
                .get("tenant_id") as String?
            else { return false }
            try await db.lock("tenant-sessions:\(tenant)")
            try await db.execute("UPDATE sessions SET is_primary = false WHERE tenant_id = ? AND is_primary", [tenant])
            return try await db.execute("UPDATE sessions SET is_primary = true WHERE id = ? RETURNING 1",
                                        [session.rawValue]) > 0
        }
        guard found else { throw .notFound("session \(session)") }
    }

    public func replaceSecrets(of session: SessionID, with secrets: SessionSecrets) async throws(StoreError) {
        let sealed = try secretBox.sealSecrets(secrets, of: session)
        let changed = try await transaction { db in
            try await db.execute("UPDATE sessions SET sealed_secrets = ? WHERE id = ? RETURNING 1", [sealed, session.rawValue])
        }
        guard changed > 0 else { throw .notFound("session \(session)") }
        logger.info("session secrets replaced", metadata: [LogKey.session: "\(session)"])
    }

    public func deleteSession(_ id: SessionID) async throws(StoreError) {
        let deleted = try await transaction { db in
            try await db.execute("DELETE FROM sessions WHERE id = ? RETURNING 1", [id.rawValue])
        }
        guard deleted > 0 else { throw .notFound("session \(id)") }
    }
}

extension PostgresStore: APIKeyStore {
    public func createKey(scope: APIKeyScope, label: String?) async throws(StoreError) -> IssuedAPIKey {
        let token = APIKeyToken.generate()
        let tenantID: String? = if case .tenant(let tenant) = scope { tenant.rawValue } else { nil }
        let createdAt = Date()
        try await transaction { db in
            if let tenantID, try await db.one("SELECT 1 AS one FROM tenants WHERE id = ?", [tenantID]) == nil {
                throw StoreError.notFound("tenant \(tenantID)")
            }
            try await db.execute("""
                INSERT INTO api_keys (id, tenant_id, is_admin, secret_hash, label, created_at) VALUES (?, ?, ?, ?, ?, ?)
                """, [token.id, tenantID, scope == .admin, token.secretHash, label, createdAt])
        }
        logger.info("api key created", metadata: [LogKey.key: "\(token.id)", LogKey.scope: "\(scope)"])
        return IssuedAPIKey(key: APIKey(id: token.id, scope: scope, label: label, createdAt: createdAt), token: token.text)
    }

    public func authenticate(_ text: String) async throws(StoreError) -> APIKey? {
        guard let token = APIKeyToken(text) else { return nil }
        let found = try await run { db -> (APIKey, Data)? in
            guard let row = try await db.one("SELECT * FROM api_keys WHERE id = ?", [token.id]) else { return nil }
            return (try decodeAPIKey(row), try row.get("secret_hash"))
        }
        guard let (key, hash) = found, token.matches(hash) else { return nil }
        return key
    }

    public func keys(of tenant: TenantID?) async throws(StoreError) -> [APIKey] {
        try await run { db in
            if let tenant {
                try await db.rows("SELECT * FROM api_keys WHERE tenant_id = ? ORDER BY created_at", [tenant.rawValue])
                    .map(decodeAPIKey)
            } else {
                try await db.rows("SELECT * FROM api_keys ORDER BY created_at").map(decodeAPIKey)
            }
        }
    }

    public func revokeKey(_ id: String) async throws(StoreError) {
        let deleted = try await transaction { db in try await db.execute("DELETE FROM api_keys WHERE id = ? RETURNING 1", [id]) }
        guard deleted > 0 else { throw .notFound("api key \(id)") }
    }
}
