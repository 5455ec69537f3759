public import Foundation
public import Logging
import NIOSSL
import PostgresNIO
import SwitchboardCore
public import SwitchboardTelemetry

/// The gateway's state on a PostgreSQL server (PostgresNIO's pooled client), for
/// deployments where several hosts run api, dispatcher and consumer instances over one
/// database. The schema is the SQLite store's; its migrations are its own, ordered and
/// never edited. Anything two instances may do at once is decided by the database:
/// unique keys with `ON CONFLICT`, conditional updates, row locks (`FOR UPDATE SKIP
/// LOCKED`) and per-conversation advisory locks, never a read followed by a write.
public final class PostgresStore: GatewayStore, Sendable {
    /// The server, the credentials and the pool, from a `postgres://` URL.
    public struct Configuration: Sendable, Hashable {
        public var host: String
        public var port: Int
        public var user: String
        public var password: String?
        public var database: String
        /// The schema the tables live in (created when missing); the server's default
        /// search path when nil. Tests give each store a schema of its own.
        public var schema: String?
        /// Connections the pool may open (`SWITCHBOARD_DATABASE_POOL_SIZE`).
        public var poolSize: Int
        /// libpq's `sslmode`: `disable`, `prefer` (the default) or `require`.
        public var tlsMode: String

        public init(host: String = "127.0.0.1", port: Int = 5432, user: String = "switchboard",
                    password: String? = nil, database: String = "switchboard", schema: String? = nil,
                    poolSize: Int = 10, tlsMode: String = "prefer") {
            self.host = host
            self.port = port
            self.user = user
            self.password = password
            self.database = database
            self.schema = schema
            self.poolSize = poolSize
            self.tlsMode = tlsMode
        }

        /// `postgres://user:password@host:port/database?sslmode=…&schema=…&pool_size=…`.
        public init(url text: String) throws(StoreError) {
            guard let components = URLComponents(string: text),
                  ["postgres", "postgresql"].contains(components.scheme ?? ""), let host = components.host,
                  !host.isEmpty
            else { throw .database("not a PostgreSQL URL: postgres://user:password@host:port/database") }
            self.init(host: host, port: components.port ?? 5432, user: components.user ?? "switchboard",
                      password: components.password)
            let path = components.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
            if !path.isEmpty { database = path }
            for item in components.queryItems ?? [] {
                switch item.name {
                case "sslmode":
                    guard let mode = item.value, ["disable", "prefer", "require"].contains(mode) else {
                        throw .database("sslmode must be disable, prefer or require")
                    }
                    tlsMode = mode
                case "schema":
                    guard let schema = item.value, Self.isIdentifier(schema) else {
                        throw .database("schema must be a plain identifier (letters, digits, _)")
                    }
                    self.schema = schema
                case "pool_size":
                    guard let size = item.value.flatMap(Int.init), (1...1000).contains(size) else {
                        throw .database("pool_size must be 1 to 1000")
                    }
                    poolSize = size
                default:
                    throw .database("unknown PostgreSQL URL parameter \(item.name)")
                }
            }
        }

        /// The URL that gives this configuration back (password included: not for logs).
        public var url: String {
            let credentials = password.map { "\(user):\(Self.escape($0))" } ?? user
            var query = ["sslmode=\(tlsMode)", "pool_size=\(poolSize)"]
            if let schema { query.append("schema=\(schema)") }
            return "postgres://\(credentials)@\(host):\(port)/\(database)?" + query.joined(separator: "&")
        }

        private static func escape(_ text: String) -> String {
            text.addingPercentEncoding(withAllowedCharacters: .urlUserAllowed.subtracting(CharacterSet(charactersIn: ":@/"))) ?? text
        }

        /// The URL with the password hidden.
        public var redactedURL: String {
            let credentials = password == nil ? user : "\(user):***"
            let schemaPart = schema.map { "?schema=\($0)" } ?? ""
            return "postgres://\(credentials)@\(host):\(port)/\(database)\(schemaPart)"
        }

        static func isIdentifier(_ text: String) -> Bool {
            !text.isEmpty && text.count <= 63 && text.first.map { !$0.isNumber } == true
                && text.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || $0 == "_" }
                && text.allSatisfy(\.isASCII)
        }
    }

    public var backend: StoreBackend { .postgres }
    public let configuration: Configuration
    let client: PostgresClient
    private let runner: Task<Void, Never>
    let secretBox: SecretBox
    let logger: Logger
    /// The hot path's writes, batched per statement.
    let batches: MessageBatches

    /// Connects, creates the schema when it names one, and migrates. `metrics` receives
    /// the hot path's batch sizes and commit times.
    public init(configuration: Configuration, secretBox: SecretBox, metrics: GatewayMetrics = .off,
                logger: Logger = Logger(label: "switchboard.store")) async throws(StoreError)
    {
        if let schema = configuration.schema, !Configuration.isIdentifier(schema) {
            throw .database("schema must be a plain identifier (letters, digits, _)")
        }
        self.configuration = configuration
        self.secretBox = secretBox
        self.logger = logger
        let postgres = PostgresClient(configuration: Self.clientConfiguration(configuration), backgroundLogger: logger)
        self.client = postgres
        batches = MessageBatches(client: postgres, metrics: metrics, logger: logger)
        runner = Self.start(postgres)
        await Self.waitUntilRunning()
        do {
            // A server that cannot be reached fails the start with why, instead of the
            // pool's endless retries holding the process.
            try await Self.withDeadline(Self.openTimeout, "the PostgreSQL server \(configuration.redactedURL)") {
                try await self.migrate()
            }
        } catch {
            runner.cancel()
            throw Self.map(error)
        }
        logger.info("store opened", metadata: [LogKey.database: "\(configuration.redactedURL)"])
    }

    deinit { runner.cancel() }

    /// Drops `configuration`'s schema and everything in it (scratch stores of tests and
    /// benchmarks); the server's default schema is never dropped.
    public static func dropSchema(of configuration: Configuration, logger: Logger) async throws(StoreError) {
        guard let schema = configuration.schema, Configuration.isIdentifier(schema) else { return }
        var plain = configuration
        plain.schema = nil
        plain.poolSize = 1
        let client = PostgresClient(configuration: Self.clientConfiguration(plain), backgroundLogger: logger)
        let runner = start(client)
        defer { runner.cancel() }
        await waitUntilRunning()
        do {
            try await client.query(PostgresQuery(unsafeSQL: "DROP SCHEMA IF EXISTS \(schema) CASCADE"), logger: logger)
        } catch {
            throw map(error)
        }
    }

    /// Runs the client's pool in a task of its own (ended by `close()`).
    private static func start(_ client: PostgresClient) -> Task<Void, Never> {
        Task { await client.run() }
    }

    /// Gives the pool's task the moment it needs to start: a lease asked before it runs
    /// still works, but makes PostgresNIO warn in every process's first lines.
    private static func waitUntilRunning() async {
        try? await Task.sleep(for: .milliseconds(5))
    }

    private static func clientConfiguration(_ configuration: Configuration) -> PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS = switch configuration.tlsMode {
        case "disable": .disable
        case "require": .require(.makeClientConfiguration())
        default: .prefer(.makeClientConfiguration())
        }
        var client = PostgresClient.Configuration(host: configuration.host, port: configuration.port,
                                                  username: configuration.user, password: configuration.password,
                                                  database: configuration.database, tls: tls)
        client.options.maximumConnections = configuration.poolSize
        client.options.minimumConnections = 0
        if let schema = configuration.schema {
            client.options.additionalStartupParameters = [("search_path", schema)]
        }
        return client
    }

    public func close() async {
        runner.cancel()
        _ = await runner.value
    }

    public func isReachable() async -> Bool {
        let answer = try? await Self.withDeadline(.seconds(2), "the PostgreSQL server") {
            try await self.run { db in try await db.one("SELECT 1 AS one")?.get("one") as Int? }
        }
        return answer == 1
    }

    /// How long opening the store may wait for the server.
    static let openTimeout: Duration = .seconds(30)

    /// `body`'s result, or a `StoreError` naming `what` when none comes within `limit`
    /// (the pool's wait for a connection is cancelled).
    static func withDeadline<T: Sendable>(_ limit: Duration, _ what: String,
                                          _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else {
                throw StoreError.database("\(what) did not answer within \(limit)")
            }
            return value
        }
    }

    // MARK: Running statements with typed errors

    /// Runs `body` on a pooled connection, outside a transaction (each statement commits alone).
    @discardableResult
    func run<T: Sendable>(_ body: (PostgresSQL) async throws -> T) async throws(StoreError) -> T {
        do {
            return try await client.withConnection { connection in
                try await body(PostgresSQL(connection: connection, logger: logger))
            }
        } catch {
            throw Self.map(error)
        }
    }

    /// Runs `body` in one transaction (READ COMMITTED), rolled back when it throws; run
    /// again (up to three times) when the server chose it as a deadlock's victim.
    @discardableResult
    func transaction<T: Sendable>(_ body: (PostgresSQL) async throws -> T) async throws(StoreError) -> T {
        var attempt = 1
        while true {
            do {
                return try await client.withTransaction(logger: logger) { connection in
                    try await body(PostgresSQL(connection: connection, logger: logger))
                }
            } catch {
                guard attempt < 3, Self.isRetryable(error) else { throw Self.map(error) }
                attempt += 1
            }
        }
    }

    /// A deadlock or serialization failure: the transaction may simply run again.
    private static func isRetryable(_ error: any Error) -> Bool {
        if let error = error as? PostgresTransactionError,
           let inner = error.closureError ?? error.commitError { return isRetryable(inner) }
        let state = (error as? PSQLError)?.serverInfo?[.sqlState]
        return state == "40P01" || state == "40001"
    }

    static func map(_ error: any Error) -> StoreError {
        if let error = error as? StoreError { return error }
        if let error = error as? PostgresTransactionError {
            if let inner = error.closureError ?? error.beginError ?? error.commitError { return map(inner) }
            return .database("transaction failed")
        }
        if let error = error as? PSQLError {
            let message = error.serverInfo?[.message] ?? "\(error.code)"
            switch error.serverInfo?[.sqlState] {
            case "23505": return .conflict(error.serverInfo?[.detail] ?? message)
            case "23503": return .notFound("the tenant")
            default: return .database("\(error.serverInfo?[.sqlState] ?? "\(error.code)"): \(message)")
            }
        }
        return .database(String(describing: error))
    }

    /// True when the error is a broken unique key (the caller looks at what holds it).
    static func isUniqueViolation(_ error: any Error) -> Bool {
        (error as? PSQLError)?.serverInfo?[.sqlState] == "23505"
    }

    // MARK: Migrations

    /// Applies every migration not yet applied, in order, in one transaction, under an
    /// advisory lock on the schema: instances starting together migrate once.
    private func migrate() async throws(StoreError) {
        if let schema = configuration.schema {
            _ = try await run { db in try await db.execute("CREATE SCHEMA IF NOT EXISTS \(schema)") }
        }
        try await transaction { db in
            try await db.execute("SELECT pg_advisory_xact_lock(hashtextextended('switchboard-migrations:' || current_schema(), 0))")
            try await db.execute("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    id text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())
                """)
            let applied = Set(try await db.rows("SELECT id FROM schema_migrations").map { try $0.get("id") as String })
            for migration in PostgresMigrations.all where !applied.contains(migration.id) {
                for statement in migration.statements { try await db.execute(statement) }
                try await db.execute("INSERT INTO schema_migrations (id) VALUES (?)", [migration.id])
                logger.info("store migrated", metadata: [LogKey.migration: "\(migration.id)"])
            }
        }
    }
}

/// A value bound to a statement's `?` placeholder.
enum SQLValue: Sendable {
    case null
    case text(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    case bytes(Data)
    case date(Date)
    case textArray([String])
    case doubleArray([Double])
}

/// What a statement's placeholders take.
protocol SQLBindable: Sendable {
    var sqlValue: SQLValue { get }
}

extension SQLValue: SQLBindable { var sqlValue: SQLValue { self } }
extension String: SQLBindable { var sqlValue: SQLValue { .text(self) } }
extension Int: SQLBindable { var sqlValue: SQLValue { .int(self) } }
extension Int64: SQLBindable { var sqlValue: SQLValue { .int(Int(self)) } }
extension Double: SQLBindable { var sqlValue: SQLValue { .double(self) } }
extension Bool: SQLBindable { var sqlValue: SQLValue { .bool(self) } }
extension Data: SQLBindable { var sqlValue: SQLValue { .bytes(self) } }
extension Date: SQLBindable { var sqlValue: SQLValue { .date(self) } }
extension Optional: SQLBindable where Wrapped: SQLBindable {
    var sqlValue: SQLValue { self?.sqlValue ?? .null }
}

/// One connection (in a transaction or not) with the store's statement helpers:
/// statements keep SQLite's `?` placeholders, numbered here for PostgreSQL.
struct PostgresSQL {
    let connection: PostgresConnection
    let logger: Logger

    func rows(_ sql: String, _ values: [any SQLBindable] = []) async throws -> [PostgresSQLRow] {
        try await connection.query(Self.query(sql, values), logger: logger).collect()
            .map { PostgresSQLRow(row: $0.makeRandomAccess()) }
    }

    func one(_ sql: String, _ values: [any SQLBindable] = []) async throws -> PostgresSQLRow? {
        try await rows(sql, values).first
    }

    /// Runs a statement; returns how many rows it returned (a `RETURNING` clause tells
    /// how many it changed).
    @discardableResult
    func execute(_ sql: String, _ values: [any SQLBindable] = []) async throws -> Int {
        try await rows(sql, values).count
    }

    /// Serializes the rest of the transaction with every other holding the same key.
    func lock(_ key: String) async throws {
        try await execute("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", [key])
    }

    static func query(_ sql: String, _ values: [any SQLBindable]) throws -> PostgresQuery {
        var text = ""
        text.reserveCapacity(sql.utf8.count + 16)
        var number = 0
        var quoted = false
        for character in sql {
            if character == "'" { quoted.toggle() }
            if character == "?" && !quoted {
                number += 1
                text += "$\(number)"
            } else {
                text.append(character)
            }
        }
        guard number == values.count else {
            throw StoreError.database("statement has \(number) placeholders for \(values.count) values")
        }
        var binds = PostgresBindings(capacity: values.count)
        for value in values {
            switch value.sqlValue {
            case .null: binds.appendNull()
            case .text(let text): binds.append(text)
            case .int(let int): binds.append(int)
            case .double(let double): binds.append(double)
            case .bool(let bool): binds.append(bool)
            case .bytes(let data): try binds.append(data)
            case .date(let date): binds.append(date)
            case .textArray(let texts): binds.append(texts)
            case .doubleArray(let doubles): binds.append(doubles)
            }
        }
        return PostgresQuery(unsafeSQL: text, binds: binds)
    }
}

/// A row read by name, as GRDB's rows are.
struct PostgresSQLRow {
    let row: PostgresRandomAccessRow

    func get<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws -> T {
        try row[column].decode(T.self, context: .default)
    }

    /// A Unix-seconds column as a date.
    func date(_ column: String) throws -> Date { Date(timeIntervalSince1970: try get(column) as Double) }

    func optionalDate(_ column: String) throws -> Date? {
        (try get(column) as Double?).map(Date.init(timeIntervalSince1970:))
    }
}
