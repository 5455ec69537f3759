import Foundation
import Logging
import SwitchboardAMQP
import SwitchboardBroker

/// Where a benchmark runs: a virtual host and a directory of its own, both removed
/// afterwards whatever happens, so figures neither depend on nor disturb what else the
/// broker holds.
struct BenchScratch: Sendable {
    let virtualHost: String
    let directory: URL
    /// The benchmark's broker configuration, pointed at the scratch virtual host.
    let configuration: AMQPConfiguration

    static func with<T>(_ base: AMQPConfiguration, management: RabbitMQManagement,
                        _ body: (BenchScratch) async throws -> T) async throws -> T {
        let name = "sb-bench-\(UUID().uuidString.prefix(8).lowercased())"
        var configuration = base
        configuration.virtualHost = name
        let scratch = BenchScratch(virtualHost: name,
                                   directory: FileManager.default.temporaryDirectory.appendingPathComponent(name),
                                   configuration: configuration)
        try await management.createVirtualHost(name, grantingTo: base.user)
        func cleanUp() async {
            try? await management.deleteVirtualHost(name)
            try? FileManager.default.removeItem(at: scratch.directory)
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
