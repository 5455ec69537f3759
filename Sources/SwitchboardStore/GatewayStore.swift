public import Foundation
public import Logging
public import SwitchboardCore
public import SwitchboardTelemetry

/// Everything the gateway keeps, as one store: each service sees only the protocols of
/// its concern, the composition root opens one of these and hands it out.
public protocol GatewayStore: TenantStore, SessionStore, APIKeyStore, MessageStore, MessageLogStore, EventDedupeStore,
    ContactStore, InboxStore, BotStore, EventReceiptStore, DeadLetterStore, SessionHealthStore, ServiceInstanceStore,
    AnyObject
{
    /// `sqlite` or `postgres`, for logs and health answers.
    var backend: StoreBackend { get }
    /// True when the database answers (for readiness checks).
    func isReachable() async -> Bool
    /// How many messages of every tenant are in each state (benchmarks wait on it).
    func messageCounts() async throws(StoreError) -> [MessageState: Int]
    /// Ends the store's connections; the store is unusable afterwards.
    func close() async
}

/// The database engines the store runs on.
public enum StoreBackend: String, Sendable, Hashable, CaseIterable {
    /// One file on one machine: the embedded default.
    case sqlite
    /// A PostgreSQL server shared by every instance on every host.
    case postgres
}

/// Where the store lives, from `SWITCHBOARD_DATABASE` or `--database`: a
/// `postgres://` (or `postgresql://`) URL, or else a SQLite file's path.
public enum StoreLocation: Sendable, Hashable, CustomStringConvertible {
    case sqlite(path: String)
    case postgres(PostgresStore.Configuration)

    /// Parses a setting: a PostgreSQL URL or a file path.
    public init(_ setting: String) throws(StoreError) {
        if setting.hasPrefix("postgres://") || setting.hasPrefix("postgresql://") {
            self = .postgres(try PostgresStore.Configuration(url: setting))
        } else {
            self = .sqlite(path: setting)
        }
    }

    /// The setting that gives this location back (`SWITCHBOARD_DATABASE` of a child process).
    public var setting: String {
        switch self {
        case .sqlite(let path): path
        case .postgres(let configuration): configuration.url
        }
    }

    /// A scratch store of its own beside `base` (a fresh schema on the same server, or a
    /// file in `directory`), for tests and benchmarks; `discard` removes it.
    public static func scratch(beside base: String?, name: String, directory: URL) throws(StoreError) -> StoreLocation {
        guard let base, case .postgres(var configuration) = try StoreLocation(base) else {
            return .sqlite(path: directory.appendingPathComponent("\(name).sqlite").path)
        }
        configuration.schema = name.lowercased().map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined()
        return .postgres(configuration)
    }

    /// Removes a scratch store's schema (a SQLite file goes with its directory).
    public func discard(logger: Logger) async {
        if case .postgres(let configuration) = self {
            try? await PostgresStore.dropSchema(of: configuration, logger: logger)
        }
    }

    public var backend: StoreBackend {
        switch self {
        case .sqlite: .sqlite
        case .postgres: .postgres
        }
    }

    /// The location without its password, for logs.
    public var description: String {
        switch self {
        case .sqlite(let path): path
        case .postgres(let configuration): configuration.redactedURL
        }
    }

    /// Opens (creating and migrating when needed) the store. `metrics` receives the
    /// write batching's figures.
    public func open(secretBox: SecretBox, metrics: GatewayMetrics = .off,
                     logger: Logger = Logger(label: "switchboard.store")) async throws(StoreError) -> any GatewayStore
    {
        switch self {
        case .sqlite(let path):
            try SQLiteStore(path: path, secretBox: secretBox, metrics: metrics, logger: logger)
        case .postgres(let configuration):
            try await PostgresStore(configuration: configuration, secretBox: secretBox, metrics: metrics, logger: logger)
        }
    }
}
