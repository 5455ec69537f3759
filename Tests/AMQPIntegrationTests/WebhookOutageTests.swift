import Crypto
import Foundation
import SwitchboardAMQP
import SwitchboardBroker
import SwitchboardApp
import SwitchboardCore
import SwitchboardHTTP
import SwitchboardSimulator
import SwitchboardStore
import SwitchboardWebhooks
import Testing

@Suite("The webhooks receiver while the broker is down")
struct WebhookOutageTests {
    /// Stop the broker: the receiver answers 503 (so the provider keeps the webhook and
    /// retries); bring it back: the provider's retry is stored, nothing is lost.
    @Test(.timeLimit(.minutes(4)))
    func answers503WhileTheBrokerIsDownAndTheProvidersRetryLandsOnceItIsBack() async throws {
        try await withDisposableNode(name: "sbtest-webhooks", port: 5722) { node in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sbwh-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            var configuration = try TestBroker.configuration("webhooks-outage", url: node.url)
            configuration.connectTimeout = .seconds(2)
            // The receiver as `serve webhooks` builds it; it applies the topology to the fresh node.
            let receiver = try await TestGateway.Running(GatewayConfiguration(
                services: [.webhooks], amqp: configuration, topology: try TestTopology.load(),
                management: RabbitMQManagement(configuration: try .init(url: "http://guest:guest@127.0.0.1:16722")),
                database: try TestStore.database(in: directory),
                connectTimeout: .seconds(10), webhooks: .init(port: 0), sessionMissReloadInterval: .zero))
            let receiverPort = try await receiver.gateway.port(of: .webhooks)
            let store = receiver.gateway.store
            let tenant = try TenantID("simco")
            try await store.createTenant(Tenant(id: tenant, name: "Simco"))
            let secret = TestInbound.secret("simco")
            try await store.addSession(
                Session(id: try SessionID("simco-main"), tenant: tenant, provider: .simulator,
                        phoneNumber: try PhoneNumber("+14155550100"), status: .connected, isPrimary: true),
                secrets: SessionSecrets(credentials: [:], webhookSecret: secret))
            let publisher = try await AMQPConnection.connect(configuration, logger: TestBroker.logger)
            _ = try await publisher.purgeQueue("sb.inbound.raw")

            // Retries 0.5, 1, 2, 4, 8, 16 s apart: about half a minute to get the broker back.
            let simulator = try await EmbeddedSimulator.start(
                SimulatorServer.Configuration(port: 0, webhookAttempts: 7, webhookBackoff: .milliseconds(500)),
                logger: TestBroker.logger)
            try simulator.state.register(SimulatedSession(
                id: "simco-main", flavor: .simulator, apiKey: "key-simco", webhookURL: "http://127.0.0.1:\(receiverPort)/webhooks/simulator/simco-main",
                webhookSecret: secret))
            defer { Task { try? await simulator.stop(); await receiver.stop(); await publisher.close() } }

            try await node.stop()
            let body = wasenderUpsert(session: "simco-main", from: "14155550999", texts: ["during the outage"])
            let refused = try await TestAPI.request(
                port: receiverPort, .POST, "/webhooks/simulator/simco-main", body: body,
                headers: [("Content-Type", "application/json")] + Signer.standard(body, secret: secret))
            #expect(refused.status == 503, "\(refused.status) \(refused.text)")
            #expect(refused.isProblem)
            #expect(refused.headers.first(name: "Retry-After") != nil)

            // The provider's webhook meets the outage, and is retried until the broker is back.
            let providerID = try simulator.state.inbound(session: "simco-main", from: "+14155550999", text: "hello?")
            try await Task.sleep(for: .seconds(2))
            #expect(simulator.state.stats(session: "simco-main").webhooksDelivered == 0)
            _ = try await DisposableNode.start(name: node.name, amqpPort: node.amqpPort)
            #expect(await eventually(timeout: .seconds(60)) { simulator.state.stats(session: "simco-main").webhooksDelivered == 1 })
            try await publisher.waitUntilConnected(timeout: .seconds(30))
            let stored = try #require(try await publisher.get(queue: "sb.inbound.raw", autoAck: true))
            #expect(String(decoding: stored.body, as: UTF8.self).contains(providerID))
            #expect(try await publisher.get(queue: "sb.inbound.raw", autoAck: true) == nil)
        }
    }
}
