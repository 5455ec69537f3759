import Crypto
import Foundation
import SwitchboardAMQP
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
            let store = try SQLiteStore(path: directory.appendingPathComponent("db.sqlite").path,
                                        secretBox: try SecretBox(masterKey: SymmetricKey(size: .bits256)),
                                        logger: TestBroker.logger)
            let tenant = try TenantID("simco")
            try await store.createTenant(Tenant(id: tenant, name: "Simco"))
            let secret = TestInbound.secret("simco")
            try await store.addSession(
                Session(id: try SessionID("simco-main"), tenant: tenant, provider: .simulator,
                        phoneNumber: try PhoneNumber("+14155550100"), status: .connected, isPrimary: true),
                secrets: SessionSecrets(credentials: [:], webhookSecret: secret))

            var configuration = try TestBroker.configuration("webhooks-outage", url: node.url)
            configuration.connectTimeout = .seconds(2)
            let publisher = try await AMQPConnection.connect(configuration, logger: TestBroker.logger)
            try await publisher.declareExchange(AMQPExchangeDeclaration(name: "sb.inbound", kind: .direct))
            _ = try await publisher.declareQueue(AMQPQueueDeclaration(name: "sb.inbound.raw"))
            try await publisher.bind(AMQPBinding(exchange: "sb.inbound", queue: "sb.inbound.raw", routingKey: "raw"))
            _ = try await publisher.purgeQueue("sb.inbound.raw")

            let sessions = SessionDirectory(store: store, logger: TestBroker.logger)
            let topology = try TestTopology.load()
            let receiver = try await EmbeddedHTTPServer.start(logger: TestBroker.logger) { onRunning in
                WebhooksServer.application(WebhooksServer.Configuration(port: 0), directory: sessions,
                                           publisher: publisher, topology: topology,
                                           logger: TestBroker.logger, onServerRunning: onRunning)
            }
            // Retries 0.5, 1, 2, 4, 8, 16 s apart: about half a minute to get the broker back.
            let simulator = try await EmbeddedSimulator.start(
                SimulatorServer.Configuration(port: 0, webhookAttempts: 7, webhookBackoff: .milliseconds(500)),
                logger: TestBroker.logger)
            try simulator.state.register(SimulatedSession(
                id: "simco-main", flavor: .simulator, apiKey: "key-simco", webhookURL: "http://127.0.0.1:\(receiver.port)/webhooks/simulator/simco-main",
                webhookSecret: secret))
            defer { Task { try? await simulator.stop(); try? await receiver.stop(); await publisher.close() } }

            try await node.stop()
            let body = wasenderUpsert(session: "simco-main", from: "14155550999", texts: ["during the outage"])
            let refused = try await TestAPI.request(
                port: receiver.port, .POST, "/webhooks/simulator/simco-main", body: body,
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
            let stored = try #require(try await publisher.get(queue: "sb.inbound.raw", autoAck: true))
            #expect(String(decoding: stored.body, as: UTF8.self).contains(providerID))
            #expect(try await publisher.get(queue: "sb.inbound.raw", autoAck: true) == nil)
        }
    }
}
