import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import ServiceLifecycle
import SwitchboardAMQP
import SwitchboardApp
import SwitchboardBroker
import SwitchboardCore
import SwitchboardDispatcher
import SwitchboardProviders
import SwitchboardRegistry
import SwitchboardSimulator
import SwitchboardStore

/// The outbound path in a scratch virtual host: a scratch SQLite store, the provider
/// simulator on a free port, and a dispatcher running in a ServiceGroup, all stopped
/// and removed afterwards.
final class TestOutbound: @unchecked Sendable {
    let scratch: ScratchVirtualHost
    let store: any GatewayStore
    let simulator: EmbeddedSimulator
    let registry: TenantRegistry

    init(scratch: ScratchVirtualHost, store: any GatewayStore, simulator: EmbeddedSimulator) {
        self.scratch = scratch
        self.store = store
        self.simulator = simulator
        registry = TenantRegistry(store: store, broker: scratch.applier, logger: TestBroker.logger)
    }

    static func with<T>(_ configuration: Dispatcher.Configuration = .init(refreshInterval: .milliseconds(200)),
                        _ body: (TestOutbound) async throws -> T) async throws -> T {
        try await ScratchVirtualHost.with { scratch in
            try await TestGateway.withDirectory { directory in
                let simulator = try await EmbeddedSimulator.start(logger: TestBroker.logger)
                do {
                    let gateway = try TestGateway.configuration([.dispatcher], scratch: scratch, directory: directory) {
                        $0.dispatcher = configuration
                        $0.simulatorBaseURL = simulator.baseURL + "/api"
                    }
                    let result = try await TestGateway.with(gateway) { gateway in
                        try await body(TestOutbound(scratch: scratch, store: gateway.store, simulator: simulator))
                    }
                    try? await simulator.stop()
                    return result
                } catch {
                    try? await simulator.stop()
                    throw error
                }
            }
        }
    }

    /// A tenant with one connected simulator session `<id>-main`, registered at the
    /// simulator with `simulatorRate` (nil: no limit) and `behaviour`.
    @discardableResult
    func addTenant(_ id: String, rate: Double = 1000, bulkShare: Double = 0.5, simulatorRate: Double? = nil,
                   behaviour: SimulatorBehaviour? = nil) async throws -> TenantID {
        let tenant = try TenantID(id)
        _ = try await registry.create(Tenant(id: tenant, name: id, limits: TenantLimits(sessionRate: rate, bulkShare: bulkShare)))
        try await store.addSession(
            Session(id: try SessionID("\(id)-main"), tenant: tenant, provider: .simulator,
                    phoneNumber: try PhoneNumber("+14155550100"), status: .connected, isPrimary: true),
            secrets: SessionSecrets(credentials: ["api_key": "key-\(id)"], webhookSecret: "secret-\(id)-0123456789"))
        try simulator.state.register(SimulatedSession(id: "\(id)-main", flavor: .wasender, apiKey: "key-\(id)",
                                                      ratePerSecond: simulatorRate, behaviour: behaviour))
        return tenant
    }

    func envelope(_ tenant: String, _ text: String, id: String = MessageID.make(), messageClass: MessageClass = .transactional,
                  to: String = "+14155550123", expiresAt: Date? = nil) throws -> OutboundEnvelope {
        OutboundEnvelope(id: id, tenant: try TenantID(tenant), messageClass: messageClass, to: try PhoneNumber(to),
                         text: text, expiresAt: expiresAt)
    }

    /// Publishes as the api does (`sb.outbound`, contract properties, confirm).
    func publish(_ envelope: OutboundEnvelope) async throws {
        try await scratch.connection.publish(try envelope.wireBody(), exchange: "sb.outbound",
                                             routingKey: envelope.routingKey, properties: envelope.amqpProperties())
    }

    func accepted(_ session: String) -> Int { simulator.state.messages(session: session).count }
}
