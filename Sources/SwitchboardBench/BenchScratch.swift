import Crypto
import Foundation
import Logging
import SwitchboardAMQP
import SwitchboardBroker
import SwitchboardStore

/// Where a benchmark runs: a virtual host and a directory of its own, both removed
/// afterwards whatever happens, so figures neither depend on nor disturb what else the
/// broker holds.
struct BenchScratch: Sendable {
    let virtualHost: String
    let directory: URL
    /// The benchmark's store: a file in `directory`, or a schema of its own on the
    /// PostgreSQL server the benchmark was pointed at.
    let store: StoreLocation
    /// The benchmark's broker configuration, pointed at the scratch virtual host.
    let configuration: AMQPConfiguration

    /// Runs `body` in a scratch virtual host and store; `database` (a `postgres://` URL)
    /// puts the store on that server, else it is a SQLite file.
    static func with<T>(_ base: AMQPConfiguration, management: RabbitMQManagement, database: String? = nil,
                        _ body: (BenchScratch) async throws -> T) async throws -> T {
        let name = "sb-bench-\(UUID().uuidString.prefix(8).lowercased())"
        var configuration = base
        configuration.virtualHost = name
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(name)
        let scratch = BenchScratch(virtualHost: name, directory: directory,
                                   store: try StoreLocation.scratch(beside: database, name: name, directory: directory),
                                   configuration: configuration)
        try await management.createVirtualHost(name, grantingTo: base.user)
        func cleanUp() async {
            try? await management.deleteVirtualHost(name)
            try? FileManager.default.removeItem(at: scratch.directory)
            await scratch.store.discard(logger: Logger(label: "switchboard.bench"))
        }
        do {
            let result = try await body(scratch)
            await cleanUp()
            return result
        } catch {
            await cleanUp()
            throw error
        }
    }

    /// The environment of a `switchboard serve …` process the benchmark starts: this
    /// process's, pointed at the scratch virtual host, the store at `database` sealed with
    /// `masterKey`, the topology file and the management API, logging warnings only.
    func childEnvironment(database: String, masterKey: SymmetricKey, topologyPath: String, managementURL: String)
        -> [String: String]
    {
        var environment = ProcessInfo.processInfo.environment
        environment["SWITCHBOARD_MASTER_KEY"] = masterKey.withUnsafeBytes { Data($0).base64EncodedString() }
        environment["SWITCHBOARD_DATABASE"] = database
        environment["SWITCHBOARD_AMQP_URL"] = GatewayBenchmark.url(of: configuration)
        environment["SWITCHBOARD_RABBITMQ_MANAGEMENT_URL"] = managementURL
        environment["SWITCHBOARD_TOPOLOGY"] = topologyPath
        environment["SWITCHBOARD_LOG_LEVEL"] = "warning"
        return environment
    }

    /// Runs `body` with a connection named `name` to the scratch virtual host, closed
    /// afterwards whatever happens.
    func withConnection<T>(_ name: String, logger: Logger, _ body: (AMQPConnection) async throws -> T) async throws -> T {
        var configuration = configuration
        configuration.connectionName = name
        let connection = try await AMQPConnection.connect(configuration, logger: logger)
        do {
            let result = try await body(connection)
            await connection.close()
            return result
        } catch {
            await connection.close()
            throw error
        }
    }
}
