import Crypto
import Foundation
import SwitchboardApp
import SwitchboardBroker
import SwitchboardCore
import SwitchboardStore

/// A gateway process built by the composition root (`Gateway.build`, as `switchboard
/// serve` builds it) in a scratch virtual host, on a scratch SQLite file, with the
/// topology already applied by the scratch host. Stopped and removed afterwards.
enum TestGateway {
    /// The configuration for `services` in `scratch`: every listener on a free port,
    /// the shared caches off so tests see changes at once; `configure` adjusts the rest.
    static func configuration(_ services: Set<GatewayService>, scratch: ScratchVirtualHost, directory: URL,
                              configure: (inout GatewayConfiguration) -> Void = { _ in }) throws -> GatewayConfiguration {
        var amqp = try TestBroker.configuration("test")
        amqp.virtualHost = scratch.name
        var configuration = GatewayConfiguration(
            services: services, amqp: amqp, topology: scratch.topology, management: scratch.management,
            database: .init(path: directory.appendingPathComponent("db.sqlite").path,
                            secretBox: try SecretBox(masterKey: SymmetricKey(size: .bits256))),
            applyTopology: false, connectTimeout: .seconds(10),
            api: .init(port: 0, cacheTimeToLive: .zero), webhooks: .init(port: 0, metaVerifyToken: "verify-me"),
            simulator: .init(port: 0), dispatcher: .init(refreshInterval: .milliseconds(200)),
            sessionMissReloadInterval: .zero, maximumGracefulShutdownDuration: .seconds(10))
        configure(&configuration)
        return configuration
    }

    /// A gateway running in the background until `stop()`.
    final class Running: Sendable {
        let gateway: Gateway
        private let task: Task<Void, any Error>

        init(_ configuration: GatewayConfiguration) async throws {
            let gateway = try await Gateway.build(configuration, logger: TestBroker.logger)
            self.gateway = gateway
            task = Task { try await gateway.run() }
        }

        /// A graceful shutdown, as SIGTERM starts one; returns when every service ended.
        func stop() async {
            await gateway.triggerGracefulShutdown()
            _ = try? await task.value
        }
    }

    /// Builds and runs the gateway `configuration` describes for the length of `body`.
    static func with<T>(_ configuration: GatewayConfiguration, _ body: (Gateway) async throws -> T) async throws -> T {
        let running = try await Running(configuration)
        do {
            let result = try await body(running.gateway)
            await running.stop()
            return result
        } catch {
            await running.stop()
            throw error
        }
    }

    /// A scratch directory for the store, removed afterwards.
    static func withDirectory<T>(_ body: (URL) async throws -> T) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sbgw-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        return try await body(directory)
    }
}
