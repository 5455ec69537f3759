public import Foundation

/// Resolves a setting the way every Switchboard command and service does: an explicit
/// flag first, then a `SWITCHBOARD_*` environment variable, then a default that fits
/// the local development broker and store.
public struct Settings: Sendable {
    /// Names of the environment variables, in one place.
    public enum Key: String, Sendable, CaseIterable {
        case amqpURL = "SWITCHBOARD_AMQP_URL"
        case logLevel = "SWITCHBOARD_LOG_LEVEL"
        case topology = "SWITCHBOARD_TOPOLOGY"
        case managementURL = "SWITCHBOARD_RABBITMQ_MANAGEMENT_URL"
        case database = "SWITCHBOARD_DATABASE"
        /// Connections a PostgreSQL store's pool may open (a `pool_size` in the URL wins).
        case databasePoolSize = "SWITCHBOARD_DATABASE_POOL_SIZE"
        /// Where the api service listens, `host:port`.
        case apiListen = "SWITCHBOARD_API_LISTEN"
        /// Where clients (the CLI's `send`) find the api service.
        case apiURL = "SWITCHBOARD_API_URL"
        /// The key clients present to the api service.
        case apiKey = "SWITCHBOARD_API_KEY"
        /// The base URL sessions of provider `simulator` send to (WasenderAPI-shaped).
        case simulatorURL = "SWITCHBOARD_SIMULATOR_URL"
        /// Where the simulator service listens, `host:port`.
        case simulatorListen = "SWITCHBOARD_SIMULATOR_LISTEN"
        /// Where the webhooks service listens, `host:port`.
        case webhooksListen = "SWITCHBOARD_WEBHOOKS_LISTEN"
        /// The webhooks service's public base URL: where providers (and the simulator)
        /// send webhooks.
        case webhooksURL = "SWITCHBOARD_WEBHOOKS_URL"
        /// The `hub.verify_token` Meta's webhook subscription check must present.
        case metaVerifyToken = "SWITCHBOARD_META_VERIFY_TOKEN"
        /// Seconds a contact's reply pauses the tenant's bulk messages to them (inbox).
        case inboxPause = "SWITCHBOARD_INBOX_PAUSE_SECONDS"
        /// Days replayed and discarded dead letters are kept before the purge.
        case deadLetterRetention = "SWITCHBOARD_DEAD_LETTER_RETENTION_DAYS"
        /// A dead-letter group growing by this many within the window raises an alert (0: never).
        case deadLetterAlertThreshold = "SWITCHBOARD_DEAD_LETTER_ALERT_THRESHOLD"
        case deadLetterAlertWindow = "SWITCHBOARD_DEAD_LETTER_ALERT_WINDOW_SECONDS"
        /// How long a session may be down before the monitor's `session.alert`.
        case sessionAlertAfter = "SWITCHBOARD_SESSION_ALERT_AFTER_SECONDS"
        /// How often the monitor asks each session's provider for its state (0: never).
        case sessionPollInterval = "SWITCHBOARD_SESSION_POLL_SECONDS"
        /// `text` (default) or `json`: one JSON object per line, for log shippers.
        case logFormat = "SWITCHBOARD_LOG_FORMAT"
        /// Where a process with no api or webhooks listener serves `/metrics`, `host:port`.
        case metricsListen = "SWITCHBOARD_METRICS_LISTEN"
        /// `on` (default) or `off`: no series kept at all (what the overhead benchmarks compare).
        case metrics = "SWITCHBOARD_METRICS"
        /// How often the monitor reads every queue's depth from the management API (0: never).
        case brokerMetricsInterval = "SWITCHBOARD_BROKER_METRICS_SECONDS"
        /// Where spans go over OTLP/HTTP (`http://collector:4318`); unset, no tracing at all.
        case otlpEndpoint = "SWITCHBOARD_OTLP_ENDPOINT"
    }

    /// Defaults for a developer machine running `deploy/local/rabbitmq.sh start`.
    public enum Default {
        public static let amqpURL = "amqp://guest:guest@127.0.0.1:5672"
        public static let logLevel = "info"
        public static let managementURL = "http://guest:guest@127.0.0.1:15672"
        public static let database = ".local/switchboard.sqlite"
        public static let apiListen = "127.0.0.1:8080"
        public static let apiURL = "http://127.0.0.1:8080"
        public static let simulatorURL = "http://127.0.0.1:8090/api"
        public static let simulatorListen = "127.0.0.1:8090"
        public static let webhooksListen = "127.0.0.1:8070"
        public static let webhooksURL = "http://127.0.0.1:8070"
    }

    public let environment: [String: String]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    /// The flag if given, else the non-empty environment variable, else the default.
    public func value(_ flag: String?, _ key: Key, default fallback: String) -> String {
        if let flag { return flag }
        if let fromEnvironment = environment[key.rawValue], !fromEnvironment.isEmpty { return fromEnvironment }
        return fallback
    }

    public func amqpURL(flag: String?) -> String {
        value(flag, .amqpURL, default: Default.amqpURL)
    }
}
