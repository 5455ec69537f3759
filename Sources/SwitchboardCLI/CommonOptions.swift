import ArgumentParser
import Foundation
import Logging
import SwitchboardAMQP
import SwitchboardCore
import SwitchboardTelemetry
import Synchronization

/// Options every command that talks to RabbitMQ shares.
struct AMQPOptions: ParsableArguments {
    @Option(name: .customLong("amqp"), help: "Broker URL (else SWITCHBOARD_AMQP_URL, else \(Settings.Default.amqpURL)).")
    var amqpURL: String?

    func configuration(connectionName: String, settings: Settings = Settings()) throws -> AMQPConfiguration {
        var configuration = try AMQPConfiguration(url: settings.amqpURL(flag: amqpURL))
        if configuration.connectionName == "switchboard" {
            configuration.connectionName = connectionName
        }
        return configuration
    }
}

/// Logging options shared by every command.
struct LoggingOptions: ParsableArguments {
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical (else SWITCHBOARD_LOG_LEVEL, else info).")
    var logLevel: String?
    @Option(name: .customLong("log-format"), help: "text or json, one object per line (else SWITCHBOARD_LOG_FORMAT, else text).")
    var logFormat: String?

    func makeLogger(label: String, settings: Settings = Settings()) -> Logger {
        let level = Logger.Level(rawValue: settings.value(logLevel, .logLevel, default: Settings.Default.logLevel))
            ?? .info
        LoggingBootstrap.once(level: level, json: settings.value(logFormat, .logFormat, default: "text") == "json")
        var logger = Logger(label: label)
        // The level lives in each logger (its handler is a copy), not in shared state.
        logger.logLevel = level
        return logger
    }
}

/// Bootstraps swift-log exactly once per process: standard error at the first caller's
/// level and format (loggers made elsewhere, e.g. by a library, get it too). Nothing is shared
/// afterwards: each logger carries its own level.
enum LoggingBootstrap {
    private static let done = Mutex(false)

    static func once(level: Logger.Level, json: Bool) {
        done.withLock { done in
            guard !done else { return }
            LoggingSystem.bootstrap { label in
                if json {
                    var handler = JSONLogHandler.standardError(label: label)
                    handler.logLevel = level
                    return handler
                }
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
            done = true
        }
    }
}

/// Where the topology file and the management API are.
struct TopologyOptions: ParsableArguments {
    @Option(name: .customLong("topology"), help: "Topology file (else SWITCHBOARD_TOPOLOGY, else Topology/topology.yaml).")
    var path: String?

    @Option(name: .customLong("management"), help: "RabbitMQ management API (else SWITCHBOARD_RABBITMQ_MANAGEMENT_URL, else \(Settings.Default.managementURL)).")
    var managementURL: String?

    func load() throws -> Topology {
        try Topology.load(from: try Topology.locate(flag: path))
    }

    func management(settings: Settings = Settings()) throws -> RabbitMQManagement {
        let url = settings.value(managementURL, .managementURL, default: Settings.Default.managementURL)
        return RabbitMQManagement(configuration: try RabbitMQManagement.Configuration(url: url))
    }
}

import SwitchboardBroker

/// Where the store is (a SQLite file or a `postgres://` URL); the master key comes from
/// SWITCHBOARD_MASTER_KEY.
struct StoreOptions: ParsableArguments {
    @Option(name: .customLong("database"),
            help: "SQLite file or postgres:// URL (else SWITCHBOARD_DATABASE, else \(Settings.Default.database)).")
    var path: String?

    func open(logger: Logger, settings: Settings = Settings()) async throws -> any GatewayStore {
        let database = try location(settings: settings)
        return try await database.location.open(secretBox: database.secretBox, logger: logger)
    }

    /// The store and the master key, resolved from the flag and the environment.
    func location(settings: Settings = Settings()) throws -> GatewayConfiguration.Database {
        var location = try StoreLocation(settings.value(path, .database, default: Settings.Default.database))
        if case .postgres(var configuration) = location,
           let size = settings.environment[Settings.Key.databasePoolSize.rawValue], !size.isEmpty,
           !(path ?? settings.environment[Settings.Key.database.rawValue] ?? "").contains("pool_size=")
        {
            guard let poolSize = Int(size), (1...1000).contains(poolSize) else {
                throw ValidationError("SWITCHBOARD_DATABASE_POOL_SIZE must be 1 to 1000")
            }
            configuration.poolSize = poolSize
            location = .postgres(configuration)
        }
        return GatewayConfiguration.Database(location: location,
                                             secretBox: try SecretBox(masterKey: try MasterKey.resolve(settings: settings)))
    }
}

import SwitchboardStore
import SwitchboardApp
