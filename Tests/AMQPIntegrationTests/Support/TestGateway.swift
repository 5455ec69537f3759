import Crypto
import Foundation
import SwitchboardApp
import SwitchboardBroker
import SwitchboardCore
import SwitchboardSimulator
import SwitchboardStore
import Testing

/// A gateway process built by the composition root (`Gateway.build`, as `switchboard
/// serve` builds it) in a scratch virtual host, on a scratch store (`TestStore`), with the
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
            database: try TestStore.database(in: directory),
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
        do {
            let result = try await body(directory)
            await TestStore.discard(in: directory)
            return result
        } catch {
            await TestStore.discard(in: directory)
            throw error
        }
    }
}

extension TestGateway {
    /// Onboards a tenant as an admin does, through the api: the tenant, its session
    /// `<tenant>-main` on provider `simulator` (registered with `simulator`, its webhooks
    /// signed with the secret the api gave and sent to this gateway's receiver), and a
    /// tenant key, which it returns.
    static func onboard(_ tenant: String, sessionRate: Int = 50, gateway: Gateway, simulator: EmbeddedSimulator,
                        behaviour: SimulatorBehaviour? = nil) async throws -> String {
        let api = try await gateway.port(of: .api)
        let webhooks = try await gateway.port(of: .webhooks)
        let admin = try await gateway.store.createKey(scope: .admin, label: "onboarding").token
        let created = try await TestAPI.request(port: api, .POST, "/v1/tenants", key: admin, json: """
            {"id":"\(tenant)","name":"\(tenant)","session_rate":\(sessionRate)}
            """)
        try #require(created.status == 201, "\(created.text)")
        let session = try await TestAPI.request(port: api, .POST, "/v1/tenants/\(tenant)/sessions", key: admin, json: """
            {"id":"\(tenant)-main","provider":"simulator","phone_number":"+14155550100","status":"connected",
             "credentials":{"api_key":"key-\(tenant)"}}
            """)
        try #require(session.status == 201, "\(session.text)")
        let secret = try #require(session.json["webhook_secret"] as? String)
        try simulator.state.register(SimulatedSession(
            id: "\(tenant)-main", flavor: .simulator, apiKey: "key-\(tenant)",
            webhookURL: "http://127.0.0.1:\(webhooks)/webhooks/simulator/\(tenant)-main", webhookSecret: secret,
            behaviour: behaviour, phoneNumber: "+14155550100"))
        return try await gateway.store.createKey(scope: .tenant(try TenantID(tenant)), label: "test").token
    }
}
