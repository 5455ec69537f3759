import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOHTTP1
import ServiceLifecycle
import SwitchboardAMQP
import SwitchboardAPI
import SwitchboardApp
import SwitchboardBroker
import SwitchboardCore
import SwitchboardDispatcher
import SwitchboardBot
import SwitchboardHTTP
import SwitchboardInbox
import SwitchboardProviders
import SwitchboardRegistry
import SwitchboardSimulator
import SwitchboardStore
import SwitchboardWebhooks

/// The inbound path in a scratch virtual host: a scratch store, the webhooks receiver
/// on a free port, and (unless `pipeline` is false) the normalizer, the logger, the
/// dispatcher and the simulator, whose sessions send their webhooks to the receiver;
/// with `conversations`, the inbox and the bot too.
final class TestInbound: @unchecked Sendable {
    let scratch: ScratchVirtualHost
    let store: any GatewayStore
    /// Where the store is, as `SWITCHBOARD_DATABASE` names it (for CLI runs).
    let databaseSetting: String
    /// The webhooks receiver's port.
    let receiverPort: Int
    /// The api's port (the same process serves it, as `serve all` does).
    let apiPort: Int
    let simulator: EmbeddedSimulator
    let registry: TenantRegistry
    /// A queue of the test's own bound to `sb.events` and `sb.statuses`, as a subscriber
    /// would have.
    static let eventsQueue = "test.events"

    private init(scratch: ScratchVirtualHost, store: any GatewayStore, databaseSetting: String, receiverPort: Int,
                 apiPort: Int, simulator: EmbeddedSimulator) {
        self.scratch = scratch
        self.store = store
        self.databaseSetting = databaseSetting
        self.receiverPort = receiverPort
        self.apiPort = apiPort
        self.simulator = simulator
        registry = TenantRegistry(store: store, broker: scratch.applier, logger: TestBroker.logger)
    }

    var receiverURL: String { "http://127.0.0.1:\(receiverPort)" }

    static func with<T>(pipeline: Bool = true, conversations: Bool = false, deadLetters: Bool = false,
                        monitor: Bool = false, pollInterval: Duration = .zero,
                        inbox: Inbox.Configuration = Inbox.Configuration(),
                        bot: Bot.Configuration = Bot.Configuration(forwardRetryDelays: [.milliseconds(500)],
                                                                   forwardPollInterval: .milliseconds(50)),
                        _ body: (TestInbound) async throws -> T) async throws -> T {
        try await ScratchVirtualHost.with { scratch in
            try await TestGateway.withDirectory { directory in
                _ = try await scratch.connection.declareQueue(AMQPQueueDeclaration(name: eventsQueue))
                try await scratch.connection.bind(AMQPBinding(exchange: "sb.events", queue: eventsQueue))
                try await scratch.connection.bind(AMQPBinding(exchange: "sb.statuses", queue: eventsQueue))
                let simulator = try await EmbeddedSimulator.start(
                    SimulatorServer.Configuration(port: 0, webhookAttempts: 8, webhookBackoff: .milliseconds(250)),
                    logger: TestBroker.logger)
                var services: Set<GatewayService> = [.webhooks, .api]
                if pipeline { services.formUnion([.normalizer, .logger, .dispatcher]) }
                if conversations { services.formUnion([.inbox, .bot]) }
                if deadLetters { services.insert(.deadLetters) }
                if monitor { services.insert(.monitor) }
                do {
                    let configuration = try TestGateway.configuration(services, scratch: scratch, directory: directory) {
                        $0.simulatorBaseURL = simulator.baseURL + "/api"
                        $0.inbox = inbox
                        $0.bot = bot
                        $0.deadLetters.jobPollInterval = .milliseconds(100)
                        $0.deadLetters.alertThreshold = 3
                        $0.monitor = .init(alertAfter: .milliseconds(500), alertCheckInterval: .milliseconds(100),
                                           pollInterval: pollInterval)
                        if monitor { $0.heartbeatInterval = .milliseconds(200) }
                    }
                    let result = try await TestGateway.with(configuration) { gateway in
                        let inbound = TestInbound(scratch: scratch, store: gateway.store,
                                                  databaseSetting: configuration.database.location.setting,
                                                  receiverPort: try await gateway.port(of: .webhooks),
                                                  apiPort: try await gateway.port(of: .api), simulator: simulator)
                        do {
                            let result = try await body(inbound)
                            // The simulator's webhooks stop before the receiver does.
                            try? await simulator.stop()
                            return result
                        } catch {
                            try? await simulator.stop()
                            throw error
                        }
                    }
                    return result
                } catch {
                    try? await simulator.stop()
                    throw error
                }
            }
        }
    }

    /// A tenant with one connected session `<id>-main` of `provider`; a simulator
    /// session is registered at the simulator with its webhooks pointed at the receiver.
    @discardableResult
    func addTenant(_ id: String, provider: ProviderKind = .simulator, phoneNumberID: String? = nil,
                   number: String = "+14155550100",
                   limits: TenantLimits = TenantLimits(sessionRate: 1000, bulkShare: 0.5)) async throws -> TenantID {
        let tenant = try TenantID(id)
        _ = try await registry.create(Tenant(id: tenant, name: id, limits: limits))
        var credentials = ["api_key": "key-\(id)"]
        if let phoneNumberID { credentials["phone_number_id"] = phoneNumberID }
        try await store.addSession(
            Session(id: try SessionID("\(id)-main"), tenant: tenant, provider: provider,
                    phoneNumber: try PhoneNumber(number), status: .connected, isPrimary: true),
            secrets: SessionSecrets(credentials: credentials, webhookSecret: Self.secret(id)))
        if provider == .simulator {
            try simulator.state.register(SimulatedSession(
                id: "\(id)-main", flavor: .simulator, apiKey: "key-\(id)",
                webhookURL: "\(receiverURL)/webhooks/simulator/\(id)-main", webhookSecret: Self.secret(id),
                phoneNumber: number))
        }
        return tenant
    }

    static func secret(_ tenant: String) -> String { "whsec-\(tenant)-0123456789abcdef" }

    /// Registers `tenant`'s session at the simulator again, with another api key (a key
    /// the store does not have makes every send a 401) or behaviour.
    func reregister(_ tenant: String, apiKey: String? = nil, behaviour: SimulatorBehaviour? = nil,
                    number: String = "+14155550100") throws {
        try simulator.state.register(SimulatedSession(
            id: "\(tenant)-main", flavor: .simulator, apiKey: apiKey ?? "key-\(tenant)",
            webhookURL: "\(receiverURL)/webhooks/simulator/\(tenant)-main", webhookSecret: Self.secret(tenant),
            behaviour: behaviour, phoneNumber: number))
    }

    /// Posts a webhook body to the receiver.
    func post(_ path: String, body: Data, headers: [(String, String)]) async throws -> TestResponse {
        try await TestAPI.request(port: receiverPort, .POST, path, body: body,
                                  headers: [("Content-Type", "application/json")] + headers)
    }

    /// Runs `body` with the api service's port and a tenant key of `tenant`, to read the
    /// message log as a publisher does.
    func withAPI<T>(tenant: TenantID, _ body: (_ port: Int, _ key: String) async throws -> T) async throws -> T {
        try await withAPI(tenants: [tenant]) { port, keys in try await body(port, keys[0]) }
    }

    /// The api service with a key per tenant, in the order given.
    func withAPI<T>(tenants: [TenantID], _ body: (_ port: Int, _ keys: [String]) async throws -> T) async throws -> T {
        var keys: [String] = []
        for tenant in tenants { keys.append(try await store.createKey(scope: .tenant(tenant), label: "test").token) }
        return try await body(apiPort, keys)
    }

    /// The events the test's own subscriber queue got so far (consumed).
    func drainEvents() async throws -> [NormalizedEvent] {
        var events: [NormalizedEvent] = []
        while let delivery = try await scratch.connection.get(queue: Self.eventsQueue, autoAck: true) {
            events.append(try WireJSON.sharedDecoder.decode(NormalizedEvent.self, from: delivery.body))
        }
        return events
    }
}
