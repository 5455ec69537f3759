import Foundation
import GRDB
public import Logging
public import SwitchboardCore
public import SwitchboardTelemetry

/// The registry's state in one SQLite file (system libsqlite3 through GRDB), in WAL
/// mode so readers never wait for the writer. Migrations are append-only: a shipped
/// migration is never edited, a change is a new one.
public final class SQLiteStore: GatewayStore, Sendable {
    public let path: String
    private let pool: DatabasePool
    /// Message writes from concurrent requests, one transaction per batch.
    let groupCommit: GroupCommit
    let secretBox: SecretBox
    let logger: Logger

    /// Opens (creating when needed) the database at `path` and migrates it. `metrics`
    /// receives the group commit's batch sizes and commit times.
    public init(path: String, secretBox: SecretBox, metrics: GatewayMetrics = .off,
                logger: Logger = Logger(label: "switchboard.store"))
        throws(StoreError)
    {
        self.path = path
        self.secretBox = secretBox
        self.logger = logger
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        configuration.busyMode = .timeout(5)
        configuration.label = "switchboard"
        do {
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            pool = try DatabasePool(path: path, configuration: configuration)
            try Self.migrator.migrate(pool)
            groupCommit = GroupCommit(writer: pool, metrics: metrics)
        } catch {
            throw .database("cannot open \(path): \(error)")
        }
    }

    /// The schema, one registered migration per shipped change.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: tenants, sessions, api keys") { db in
            try db.create(table: "tenants") { t in
                t.primaryKey("id", .text)
                t.column("name", .text).notNull()
                t.column("session_rate", .double).notNull()
                t.column("bulk_share", .double).notNull()
                t.column("backlog_quota", .integer)
                t.column("created_at", .datetime).notNull()
            }
            try db.create(table: "sessions") { t in
                t.primaryKey("id", .text)
                t.column("tenant_id", .text).notNull().indexed().references("tenants", onDelete: .cascade)
                t.column("provider", .text).notNull()
                    .check { ["wasender", "meta", "simulator"].contains($0) }
                t.column("phone_number", .text).notNull()
                t.column("status", .text).notNull()
                t.column("is_primary", .boolean).notNull().defaults(to: false)
                // AES-256-GCM (nonce + ciphertext + tag) of the JSON secrets, bound to the id.
                t.column("sealed_secrets", .blob).notNull()
                t.column("created_at", .datetime).notNull()
            }
            try db.execute(sql: "CREATE UNIQUE INDEX sessions_one_primary ON sessions(tenant_id) WHERE is_primary")
            try db.create(table: "api_keys") { t in
                t.primaryKey("id", .text)
                t.column("tenant_id", .text).indexed().references("tenants", onDelete: .cascade)
                t.column("is_admin", .boolean).notNull()
                t.column("secret_hash", .blob).notNull()
                t.column("label", .text)
                t.column("created_at", .datetime).notNull()
                t.check(sql: "(is_admin AND tenant_id IS NULL) OR (NOT is_admin AND tenant_id IS NOT NULL)")
            }
        }
        migrator.registerMigration("v2: messages, message events") { db in
            // Instants are REAL Unix seconds here: written on every request, they skip the
            // date formatting of text timestamps.
            try db.create(table: "messages") { t in
                t.column("tenant_id", .text).notNull().references("tenants", onDelete: .cascade)
                t.column("id", .text).notNull()
                t.primaryKey(["tenant_id", "id"])
                t.column("idempotency_key", .text).notNull()
                t.column("request_hash", .blob).notNull()
                // No foreign key: the history outlives a deleted session.
                t.column("session_id", .text).notNull()
                t.column("class", .text).notNull()
                t.column("recipient", .text).notNull()
                t.column("type", .text).notNull()
                t.column("campaign", .text)
                t.column("state", .text).notNull()
                t.column("provider_message_id", .text)
                t.column("error", .text)
                t.column("expires_at", .double)
                t.column("created_at", .double).notNull()
                t.column("updated_at", .double).notNull()
            }
            try db.create(index: "messages_idempotency", on: "messages", columns: ["tenant_id", "idempotency_key"],
                          unique: true)
            try db.create(table: "message_events") { t in
                t.autoIncrementedPrimaryKey("seq")
                t.column("tenant_id", .text).notNull()
                t.column("message_id", .text).notNull()
                t.column("state", .text).notNull()
                t.column("at", .double).notNull()
                t.column("detail", .text)
                t.foreignKey(["tenant_id", "message_id"], references: "messages", onDelete: .cascade)
            }
            try db.create(index: "message_events_message", on: "message_events", columns: ["tenant_id", "message_id"])
        }
        migrator.registerMigration("v3: message text, provider ids, inbound log, event dedupe") { db in
            try db.alter(table: "messages") { t in t.add(column: "text", .text) }
            try db.create(index: "messages_provider_id", on: "messages", columns: ["tenant_id", "provider_message_id"])
            try db.create(index: "messages_recipient", on: "messages", columns: ["tenant_id", "recipient", "created_at"])
            // Provider statuses that arrived before the dispatcher recorded the provider's id.
            try db.create(table: "pending_statuses") { t in
                t.column("tenant_id", .text).notNull()
                t.column("provider_message_id", .text).notNull()
                t.column("state", .text).notNull()
                t.primaryKey(["tenant_id", "provider_message_id", "state"])
                t.column("at", .double).notNull()
                t.column("detail", .text)
                t.column("received_at", .double).notNull()
            }
            try db.create(table: "inbound_messages") { t in
                t.column("tenant_id", .text).notNull().references("tenants", onDelete: .cascade)
                t.column("event_id", .text).notNull()
                t.primaryKey(["tenant_id", "event_id"])
                t.column("session_id", .text)
                t.column("provider", .text)
                t.column("provider_message_id", .text)
                t.column("contact", .text)
                t.column("chat", .text)
                t.column("type", .text)
                t.column("text", .text)
                t.column("message", .blob).notNull()
                t.column("occurred_at", .double).notNull()
                t.column("received_at", .double).notNull()
            }
            try db.create(index: "inbound_messages_contact", on: "inbound_messages",
                          columns: ["tenant_id", "contact", "occurred_at"])
            try db.create(table: "inbound_dedupe") { t in
                t.primaryKey("event_id", .text)
                t.column("expires_at", .double).notNull().indexed()
            }
        }
        migrator.registerMigration("v4: contacts, conversations, bot, consumer receipts") { db in
            try db.create(table: "contacts") { t in
                t.column("tenant_id", .text).notNull().references("tenants", onDelete: .cascade)
                t.column("number", .text).notNull()
                t.primaryKey(["tenant_id", "number"])
                t.column("opted_out", .boolean).notNull().defaults(to: false).indexed()
                t.column("opted_out_at", .double)
                t.column("paused_until", .double).indexed()
                t.column("updated_at", .double).notNull()
            }
            try db.create(table: "conversations") { t in
                t.column("tenant_id", .text).notNull().references("tenants", onDelete: .cascade)
                t.column("contact", .text).notNull()
                t.primaryKey(["tenant_id", "contact"])
                t.column("session_id", .text)
                t.column("state", .text).notNull()
                t.column("unread", .integer).notNull()
                t.column("assignee", .text)
                t.column("contact_name", .text)
                t.column("last_message_at", .double).notNull()
                t.column("last_direction", .text).notNull()
                t.column("last_preview", .text)
                t.column("opened_at", .double).notNull()
                t.column("updated_at", .double).notNull()
            }
            try db.create(index: "conversations_recent", on: "conversations", columns: ["tenant_id", "last_message_at"])
            // What each built-in consumer handled, and what it still owes to publish for it.
            try db.create(table: "event_receipts") { t in
                t.column("consumer", .text).notNull()
                t.column("tenant_id", .text).notNull()
                t.column("event_id", .text).notNull()
                t.primaryKey(["consumer", "tenant_id", "event_id"])
                t.column("at", .double).notNull().indexed()
                t.column("pending", .blob)
            }
            // Sealed JSON (AES-GCM, bound to the tenant): the settings hold the forward secret.
            try db.create(table: "bot_settings") { t in
                t.primaryKey("tenant_id", .text).references("tenants", onDelete: .cascade)
                t.column("sealed", .blob).notNull()
                t.column("updated_at", .double).notNull()
            }
            try db.create(table: "bot_rules") { t in
                t.column("tenant_id", .text).notNull().references("tenants", onDelete: .cascade)
                t.column("id", .text).notNull()
                t.primaryKey(["tenant_id", "id"])
                t.column("keywords", .text).notNull()
                t.column("reply", .text).notNull()
                t.column("created_at", .double).notNull()
            }
            try db.create(table: "bot_replies") { t in
                t.column("tenant_id", .text).notNull().references("tenants", onDelete: .cascade)
                t.column("contact", .text).notNull()
                t.column("reason", .text).notNull()
                t.column("at", .double).notNull()
            }
            try db.create(index: "bot_replies_contact", on: "bot_replies", columns: ["tenant_id", "contact", "at"])
            try db.create(table: "bot_forwards") { t in
                t.column("tenant_id", .text).notNull().references("tenants", onDelete: .cascade)
                t.column("event_id", .text).notNull()
                t.primaryKey(["tenant_id", "event_id"])
                t.column("payload", .blob).notNull()
                t.column("attempts", .integer).notNull()
                t.column("due_at", .double).notNull().indexed()
                t.column("lease_until", .double)
            }
        }
        migrator.registerMigration("v5: a session's provider is checked by the provider registry, not the schema") { db in
            // SQLite cannot drop a CHECK: the table is rebuilt without it (same columns,
            // rows and indexes), so adding a provider needs no migration.
            try db.create(table: "sessions_v5") { t in
                t.primaryKey("id", .text)
                t.column("tenant_id", .text).notNull().indexed().references("tenants", onDelete: .cascade)
                t.column("provider", .text).notNull()
                t.column("phone_number", .text).notNull()
                t.column("status", .text).notNull()
                t.column("is_primary", .boolean).notNull().defaults(to: false)
                t.column("sealed_secrets", .blob).notNull()
                t.column("created_at", .datetime).notNull()
            }
            try db.execute(sql: """
                INSERT INTO sessions_v5 (id, tenant_id, provider, phone_number, status, is_primary, sealed_secrets, created_at)
                SELECT id, tenant_id, provider, phone_number, status, is_primary, sealed_secrets, created_at FROM sessions
                """)
            try db.drop(table: "sessions")
            try db.rename(table: "sessions_v5", to: "sessions")
            try db.execute(sql: "CREATE UNIQUE INDEX sessions_one_primary ON sessions(tenant_id) WHERE is_primary")
        }
        migrator.registerMigration("v6: dead-letter archive, its groups, replay jobs, audit log") { db in
            try db.create(table: "dead_letters") { t in
                t.primaryKey("id", .text)
                t.column("fingerprint", .text).notNull().unique()
                // No foreign key: an unroutable message names a tenant that does not exist,
                // and a deleted tenant's dead letters stay for the record.
                t.column("tenant_id", .text).notNull()
                t.column("source", .text).notNull()
                t.column("exchange", .text).notNull()
                t.column("routing_key", .text).notNull()
                t.column("original_exchange", .text)
                t.column("original_routing_key", .text)
                t.column("reason", .text).notNull()
                t.column("error_code", .text).notNull().defaults(to: "")
                t.column("detail", .text)
                t.column("attempts", .integer).notNull()
                t.column("first_failed_at", .double)
                t.column("last_failed_at", .double)
                t.column("message_id", .text)
                t.column("session_id", .text).notNull().defaults(to: "")
                t.column("provider", .text).notNull().defaults(to: "")
                t.column("death_history", .blob).notNull()
                t.column("headers", .blob).notNull()
                t.column("properties", .blob).notNull()
                t.column("body", .blob).notNull()
                t.column("archived_at", .double).notNull()
                t.column("state", .text).notNull()
                t.column("replays", .integer).notNull().defaults(to: 0)
                t.column("replayed_at", .double)
                t.column("discarded_at", .double)
                t.column("resolved_at", .double)
                t.column("job_id", .text)
                t.column("replay_error", .text)
            }
            try db.execute(sql: """
                CREATE INDEX dead_letters_by_tenant ON dead_letters(tenant_id, state, archived_at DESC, id DESC);
                CREATE INDEX dead_letters_by_state ON dead_letters(state, archived_at DESC, id DESC);
                CREATE INDEX dead_letters_by_group ON dead_letters(tenant_id, reason, error_code, state);
                CREATE INDEX dead_letters_resolved ON dead_letters(resolved_at) WHERE resolved_at IS NOT NULL;
                CREATE INDEX dead_letters_by_job ON dead_letters(job_id, archived_at) WHERE job_id IS NOT NULL;
                """)
            try db.create(table: "dead_letter_groups") { t in
                t.column("tenant_id", .text).notNull()
                t.column("reason", .text).notNull()
                t.column("error_code", .text).notNull()
                t.column("session_id", .text).notNull()
                t.column("provider", .text).notNull()
                t.primaryKey(["tenant_id", "reason", "error_code", "session_id", "provider"])
                t.column("count", .integer).notNull()
                t.column("total", .integer).notNull()
                t.column("first_seen", .double).notNull()
                t.column("last_seen", .double).notNull()
            }
            try db.create(table: "replay_jobs") { t in
                t.primaryKey("id", .text)
                t.column("tenant_id", .text)
                t.column("session_id", .text)
                t.column("state", .text).notNull()
                t.column("total", .integer).notNull()
                t.column("replayed", .integer).notNull()
                t.column("failed", .integer).notNull()
                t.column("created_at", .double).notNull()
                t.column("updated_at", .double).notNull()
                t.column("lease_until", .double)
                t.column("actor", .text).notNull()
            }
            try db.create(table: "audit_log") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("at", .double).notNull()
                t.column("actor_id", .text).notNull()
                t.column("actor_label", .text)
                t.column("tenant_id", .text)
                t.column("action", .text).notNull()
                t.column("target", .text).notNull()
                t.column("count", .integer).notNull()
            }
            try db.execute(sql: "CREATE INDEX audit_log_by_tenant ON audit_log(tenant_id, id DESC)")
        }
        migrator.registerMigration("v7: session status history and health") { db in
            try db.create(table: "session_status_history") { t in
                t.autoIncrementedPrimaryKey("id")
                // No foreign key: the history outlives a deleted session, for the record.
                t.column("session_id", .text).notNull()
                t.column("tenant_id", .text).notNull()
                t.column("status", .text).notNull()
                t.column("at", .double).notNull()
                t.column("source", .text).notNull()
                t.column("report_id", .text).notNull()
            }
            try db.execute(sql: "CREATE INDEX session_status_history_by_session ON session_status_history(session_id, at)")
            try db.create(table: "session_health") { t in
                t.primaryKey("session_id", .text).references("sessions", onDelete: .cascade)
                t.column("tenant_id", .text).notNull()
                t.column("status_at", .double)
                t.column("down_since", .double)
                t.column("alerted_at", .double)
                t.column("last_sent_at", .double)
                t.column("quality_rating", .text)
                t.column("messaging_limit_tier", .text)
            }
            try db.create(table: "service_instances") { t in
                t.primaryKey("instance", .text)
                t.column("services", .text).notNull()
                t.column("version", .text).notNull()
                t.column("host", .text).notNull()
                t.column("pid", .integer).notNull()
                t.column("started_at", .double).notNull()
                t.column("last_seen", .double).notNull()
            }
            try db.execute(sql: "CREATE INDEX session_health_down ON session_health(down_since) WHERE down_since IS NOT NULL")
        }
        return migrator
    }

    public var backend: StoreBackend { .sqlite }

    /// SQLite closes its file when the last reference goes.
    public func close() async {}

    /// True when the database answers (for readiness checks).
    public func isReachable() async -> Bool {
        (try? await pool.read { db in try Int.fetchOne(db, sql: "SELECT 1") }) == 1
    }

    // MARK: Running queries with typed errors

    func read<T: Sendable>(_ body: @Sendable @escaping (Database) throws -> T) async throws(StoreError) -> T {
        do { return try await pool.read(body) } catch { throw Self.map(error) }
    }

    func write<T: Sendable>(_ body: @Sendable @escaping (Database) throws -> T) async throws(StoreError) -> T {
        do { return try await pool.write(body) } catch { throw Self.map(error) }
    }

    static func map(_ error: any Error) -> StoreError {
        if let error = error as? StoreError { return error }
        if let error = error as? DatabaseError {
            switch error.extendedResultCode {
            case .SQLITE_CONSTRAINT_PRIMARYKEY, .SQLITE_CONSTRAINT_UNIQUE:
                return .conflict(error.message ?? "a row with the same key")
            case .SQLITE_CONSTRAINT_FOREIGNKEY:
                return .notFound("the tenant")
            default:
                return .database("\(error.resultCode): \(error.message ?? "")")
            }
        }
        return .database("\(error)")
    }
}

// MARK: Records

private struct TenantRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "tenants"
    var id: String
    var name: String
    var session_rate: Double
    var bulk_share: Double
    var backlog_quota: Int?
    var created_at: Date

    init(_ tenant: Tenant) {
        id = tenant.id.rawValue
        name = tenant.name
        session_rate = tenant.limits.sessionRate
        bulk_share = tenant.limits.bulkShare
        backlog_quota = tenant.limits.backlogQuota
        created_at = tenant.createdAt
    }

    func tenant() throws -> Tenant {
        Tenant(id: try TenantID(id), name: name,
               limits: TenantLimits(sessionRate: session_rate, bulkShare: bulk_share, backlogQuota: backlog_quota),
               createdAt: created_at)
    }
}

private struct SessionRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "sessions"
    enum Columns {
        static let id = Column(CodingKeys.id)
        static let tenantID = Column(CodingKeys.tenant_id)
        static let isPrimary = Column(CodingKeys.is_primary)
        static let status = Column(CodingKeys.status)
        static let sealedSecrets = Column(CodingKeys.sealed_secrets)
    }

    var id: String
    var tenant_id: String
    var provider: String
    var phone_number: String
    var status: String
    var is_primary: Bool
    var sealed_secrets: Data
    var created_at: Date

    func session() throws -> Session {
        guard let provider = ProviderKind(rawValue: provider), let status = SessionStatus(rawValue: status) else {
            throw StoreError.database("session \(id) has an unknown provider or status")
        }
        return Session(id: try SessionID(id), tenant: try TenantID(tenant_id), provider: provider,
                       phoneNumber: try PhoneNumber(phone_number), status: status, isPrimary: is_primary,
                       createdAt: created_at)
    }
}

extension SessionRecord {
    init(_ session: Session, sealed: Data) {
        id = session.id.rawValue
        tenant_id = session.tenant.rawValue
        provider = session.provider.rawValue
        phone_number = session.phoneNumber.e164
        status = session.status.rawValue
        is_primary = session.isPrimary
        sealed_secrets = sealed
        created_at = session.createdAt
    }
}

private struct APIKeyRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "api_keys"
    enum Columns {
        static let tenantID = Column(CodingKeys.tenant_id)
    }

    var id: String
    var tenant_id: String?
    var is_admin: Bool
    var secret_hash: Data
    var label: String?
    var created_at: Date

    func key() throws -> APIKey {
        let scope: APIKeyScope = try is_admin ? .admin : .tenant(TenantID(tenant_id ?? ""))
        return APIKey(id: id, scope: scope, label: label, createdAt: created_at)
    }
}

// MARK: TenantStore

extension SQLiteStore: TenantStore {
    public func createTenant(_ tenant: Tenant) async throws(StoreError) {
        do { _ = try tenant.limits.validated() } catch { throw .invalid(error) }
        let record = TenantRecord(tenant)
        do {
            try await write { db in try record.insert(db) }
        } catch .conflict {
            throw .conflict("tenant \(tenant.id)")
        }
        logger.info("tenant created", metadata: [LogKey.tenant: "\(tenant.id)"])
    }

    public func tenant(_ id: TenantID) async throws(StoreError) -> Tenant? {
        try await read { db in try TenantRecord.fetchOne(db, key: id.rawValue)?.tenant() }
    }

    public func tenants() async throws(StoreError) -> [Tenant] {
        try await read { db in try TenantRecord.order(Column("id")).fetchAll(db).map { try $0.tenant() } }
    }

    public func updateTenant(_ tenant: Tenant) async throws(StoreError) {
        do { _ = try tenant.limits.validated() } catch { throw .invalid(error) }
        let record = TenantRecord(tenant)
        let updated = try await write { db in
            guard try TenantRecord.exists(db, key: record.id) else { return false }
            try db.execute(sql: """
                UPDATE tenants SET name = ?, session_rate = ?, bulk_share = ?, backlog_quota = ? WHERE id = ?
                """, arguments: [record.name, record.session_rate, record.bulk_share, record.backlog_quota, record.id])
            return true
        }
        guard updated else { throw .notFound("tenant \(tenant.id)") }
    }

    public func deleteTenant(_ id: TenantID) async throws(StoreError) {
        let deleted = try await write { db in try TenantRecord.deleteOne(db, key: id.rawValue) }
        guard deleted else { throw .notFound("tenant \(id)") }
        logger.info("tenant deleted", metadata: [LogKey.tenant: "\(id)"])
    }

    public func createTenants(_ onboardings: [TenantOnboarding]) async throws(StoreError) -> [StoreError?] {
        // Validation and sealing first, outside the transaction.
        var prepared: [Result<(TenantRecord, [SessionRecord]), StoreError>] = []
        for onboarding in onboardings {
            do throws(StoreError) {
                do { _ = try onboarding.tenant.limits.validated() } catch { throw .invalid(error) }
                var sessions: [SessionRecord] = []
                for (session, new) in zip(onboarding.recordedSessions, onboarding.sessions) {
                    guard session.tenant == onboarding.tenant.id else {
                        throw .database("session \(session.id) names tenant \(session.tenant)")
                    }
                    sessions.append(SessionRecord(session, sealed: try seal(new.secrets, of: session.id)))
                }
                prepared.append(.success((TenantRecord(onboarding.tenant), sessions)))
            } catch {
                prepared.append(.failure(error))
            }
        }
        let items = prepared
        let outcomes = try await write { db -> [StoreError?] in
            items.map { item in
                guard case .success(let (tenant, sessions)) = item else {
                    if case .failure(let error) = item { return error }
                    return nil
                }
                do {
                    try db.inSavepoint {
                        try tenant.insert(db)
                        for session in sessions { try session.insert(db) }
                        return .commit
                    }
                    return nil
                } catch {
                    switch Self.map(error) {
                    case .conflict:
                        return .conflict(sessions.isEmpty ? "tenant \(tenant.id)"
                                         : "tenant \(tenant.id) or one of its sessions")
                    case let other: return other
                    }
                }
            }
        }
        let created = outcomes.filter { $0 == nil }.count
        logger.info("tenants created", metadata: [LogKey.count: "\(created)", LogKey.failures: "\(outcomes.count - created)"])
        return outcomes
    }

    public func existingTenants(among ids: [TenantID]) async throws(StoreError) -> Set<TenantID> {
        let keys = ids.map(\.rawValue)
        return try await read { db in
            Set(try String.fetchAll(db, TenantRecord.select(Column("id")).filter(keys: keys)).compactMap { try? TenantID($0) })
        }
    }
}

// MARK: SessionStore

extension SQLiteStore: SessionStore {
    public func addSession(_ session: Session, secrets: SessionSecrets) async throws(StoreError) {
        let sealed = try seal(secrets, of: session.id)
        let record = SessionRecord(
            id: session.id.rawValue, tenant_id: session.tenant.rawValue, provider: session.provider.rawValue,
            phone_number: session.phoneNumber.e164, status: session.status.rawValue, is_primary: false,
            sealed_secrets: sealed, created_at: session.createdAt)
        let wantsPrimary = session.isPrimary
        do {
            try await write { db in
                guard try TenantRecord.exists(db, key: record.tenant_id) else {
                    throw StoreError.notFound("tenant \(record.tenant_id)")
                }
                let hasPrimary = try SessionRecord.filter(SessionRecord.Columns.tenantID == record.tenant_id)
                    .filter(SessionRecord.Columns.isPrimary == true).fetchCount(db) > 0
                var record = record
                if wantsPrimary || !hasPrimary {
                    try SessionRecord.filter(SessionRecord.Columns.tenantID == record.tenant_id)
                        .updateAll(db, SessionRecord.Columns.isPrimary.set(to: false))
                    record.is_primary = true
                }
                try record.insert(db)
            }
        } catch .conflict {
            throw .conflict("session \(session.id)")
        }
        logger.info("session added", metadata: [
            LogKey.tenant: "\(session.tenant)", LogKey.session: "\(session.id)", LogKey.provider: "\(session.provider.rawValue)",
        ])
    }

    public func session(_ id: SessionID) async throws(StoreError) -> Session? {
        try await read { db in try SessionRecord.fetchOne(db, key: id.rawValue)?.session() }
    }

    public func allSessions() async throws(StoreError) -> [Session] {
        try await read { db in try SessionRecord.order(SessionRecord.Columns.id).fetchAll(db).map { try $0.session() } }
    }

    public func sessions(of tenant: TenantID) async throws(StoreError) -> [Session] {
        try await read { db in
            try SessionRecord.filter(SessionRecord.Columns.tenantID == tenant.rawValue).order(SessionRecord.Columns.id)
                .fetchAll(db).map { try $0.session() }
        }
    }

    public func primarySession(of tenant: TenantID) async throws(StoreError) -> Session? {
        try await read { db in
            try SessionRecord.filter(SessionRecord.Columns.tenantID == tenant.rawValue)
                .filter(SessionRecord.Columns.isPrimary == true).fetchOne(db)?.session()
        }
    }

    public func sealedSessions() async throws(StoreError) -> [SealedSession] {
        try await read { db in
            try SessionRecord.fetchAll(db).map { SealedSession(session: try $0.session(), sealedSecrets: $0.sealed_secrets) }
        }
    }

    public func open(_ sealed: SealedSession) throws(StoreError) -> SessionSecrets {
        try openSecrets(sealed.sealedSecrets, of: sealed.session.id)
    }

    public func existingSessions(among ids: [SessionID]) async throws(StoreError) -> Set<SessionID> {
        let keys = ids.map(\.rawValue)
        return try await read { db in
            Set(try String.fetchAll(db, SessionRecord.select(SessionRecord.Columns.id).filter(keys: keys))
                .compactMap { try? SessionID($0) })
        }
    }

    public func secrets(of session: SessionID) async throws(StoreError) -> SessionSecrets {
        guard let sealed = try await read({ db in
            try Data.fetchOne(db, sql: "SELECT sealed_secrets FROM sessions WHERE id = ?", arguments: [session.rawValue])
        }) else {
            throw .notFound("session \(session)")
        }
        return try openSecrets(sealed, of: session)
    }

    private func openSecrets(_ sealed: Data, of session: SessionID) throws(StoreError) -> SessionSecrets {
        try secretBox.openSecrets(sealed, of: session)
    }

    public func setStatus(_ status: SessionStatus, of session: SessionID) async throws(StoreError) {
        let changed = try await write { db in
            try SessionRecord.filter(key: session.rawValue)
                .updateAll(db, SessionRecord.Columns.status.set(to: status.rawValue))
        }
        guard changed > 0 else { throw .notFound("session \(session)") }
    }

    public func makePrimary(_ session: SessionID) async throws(StoreError) {
        let found = try await write { db in
            guard let record = try SessionRecord.fetchOne(db, key: session.rawValue) else { return false }
            try SessionRecord.filter(SessionRecord.Columns.tenantID == record.tenant_id)
                .updateAll(db, SessionRecord.Columns.isPrimary.set(to: false))
            try SessionRecord.filter(key: session.rawValue).updateAll(db, SessionRecord.Columns.isPrimary.set(to: true))
            return true
        }
        guard found else { throw .notFound("session \(session)") }
    }

    public func replaceSecrets(of session: SessionID, with secrets: SessionSecrets) async throws(StoreError) {
        let sealed = try seal(secrets, of: session)
        let changed = try await write { db in
            try SessionRecord.filter(key: session.rawValue)
                .updateAll(db, SessionRecord.Columns.sealedSecrets.set(to: sealed))
        }
        guard changed > 0 else { throw .notFound("session \(session)") }
        logger.info("session secrets replaced", metadata: [LogKey.session: "\(session)"])
    }

    private func seal(_ secrets: SessionSecrets, of session: SessionID) throws(StoreError) -> Data {
        try secretBox.sealSecrets(secrets, of: session)
    }

    public func deleteSession(_ id: SessionID) async throws(StoreError) {
        let deleted = try await write { db in try SessionRecord.deleteOne(db, key: id.rawValue) }
        guard deleted else { throw .notFound("session \(id)") }
    }
}

// MARK: APIKeyStore

extension SQLiteStore: APIKeyStore {
    public func createKey(scope: APIKeyScope, label: String?) async throws(StoreError) -> IssuedAPIKey {
        let token = APIKeyToken.generate()
        let tenantID: String? = if case .tenant(let tenant) = scope { tenant.rawValue } else { nil }
        let record = APIKeyRecord(id: token.id, tenant_id: tenantID, is_admin: scope == .admin,
                                  secret_hash: token.secretHash, label: label, created_at: Date())
        try await write { db in
            if let tenantID, try !TenantRecord.exists(db, key: tenantID) {
                throw StoreError.notFound("tenant \(tenantID)")
            }
            try record.insert(db)
        }
        logger.info("api key created", metadata: [LogKey.key: "\(token.id)", LogKey.scope: "\(scope)"])
        do { return IssuedAPIKey(key: try record.key(), token: token.text) } catch {
            throw .database("\(error)")
        }
    }

    public func authenticate(_ text: String) async throws(StoreError) -> APIKey? {
        guard let token = APIKeyToken(text) else { return nil }
        guard let record = try await read({ db in try APIKeyRecord.fetchOne(db, key: token.id) }),
              token.matches(record.secret_hash)
        else { return nil }
        do { return try record.key() } catch { throw .database("\(error)") }
    }

    public func keys(of tenant: TenantID?) async throws(StoreError) -> [APIKey] {
        try await read { db in
            var request = APIKeyRecord.order(Column("created_at"))
            if let tenant { request = request.filter(APIKeyRecord.Columns.tenantID == tenant.rawValue) }
            return try request.fetchAll(db).map { try $0.key() }
        }
    }

    public func revokeKey(_ id: String) async throws(StoreError) {
        let deleted = try await write { db in try APIKeyRecord.deleteOne(db, key: id) }
        guard deleted else { throw .notFound("api key \(id)") }
    }
}
