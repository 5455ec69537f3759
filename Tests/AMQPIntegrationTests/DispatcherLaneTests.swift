import Crypto
import Foundation
import SwitchboardAMQP
import SwitchboardApp
import SwitchboardBroker
import SwitchboardCore
import SwitchboardDispatcher
import SwitchboardRegistry
import SwitchboardSimulator
import SwitchboardStore
import Testing

@Suite("Dispatcher lanes: tenant consumers spread over connections below the broker's channel_max")
struct DispatcherLaneTests {
    /// Issue 25: with one channel per tenant consumer on one connection, the tenant past
    /// `channel_max` made the broker close the connection, and the reconnect loop
    /// dispatched no tenant at all. On a node allowing 16 channels per connection, 40
    /// tenants are all dispatched over several lanes, and again after a broker restart.
    @Test(.timeLimit(.minutes(6)))
    func fortyTenantsOnANodeAllowingSixteenChannelsAreAllDispatchedBeforeAndAfterARestart() async throws {
        try await withDisposableNode(name: "sbtest-lanes", port: 5732,
                                     settings: ["SWITCHBOARD_RABBITMQ_CHANNEL_MAX": "16",
                                                // lanes() reads the management API's statistics.
                                                "SWITCHBOARD_RABBITMQ_STATS_INTERVAL_MS": "1000"]) { node in
            let management = RabbitMQManagement(configuration: try .init(url: "http://guest:guest@127.0.0.1:16732"))
            let connection = try await AMQPConnection.connect(
                try TestBroker.configuration("test-lanes", url: node.url), logger: TestBroker.logger)
            #expect(connection.negotiatedChannelMax == 16)
            let simulator = try await EmbeddedSimulator.start(logger: TestBroker.logger)
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sblanes-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let server = try await TestGateway.Running(GatewayConfiguration(
                services: [.dispatcher], amqp: try TestBroker.configuration("test-lanes", url: node.url),
                topology: try TestTopology.load(), management: management,
                database: try TestStore.database(in: directory),
                connectTimeout: .seconds(10), simulatorBaseURL: simulator.baseURL + "/api",
                dispatcher: .init(refreshInterval: .milliseconds(200))))
            func cleanUp() async {
                await server.stop()
                await connection.close()
                try? await simulator.stop()
            }
            do {
                let store = server.gateway.store
                let applier = TopologyApplier(topology: try TestTopology.load(), connection: connection,
                                              management: management, logger: TestBroker.logger)
                let registry = TenantRegistry(store: store, broker: applier, logger: TestBroker.logger)
                let ids = (1...40).map { String(format: "lane%02d", $0) }
                for id in ids {
                    let tenant = try TenantID(id)
                    _ = try await registry.create(Tenant(id: tenant, name: id))
                    try await store.addSession(
                        Session(id: try SessionID("\(id)-main"), tenant: tenant, provider: .simulator,
                                phoneNumber: try PhoneNumber("+14155550100"), status: .connected, isPrimary: true),
                        secrets: SessionSecrets(credentials: ["api_key": "key-\(id)"],
                                                webhookSecret: "secret-\(id)-0123456789"))
                    try simulator.state.register(SimulatedSession(id: "\(id)-main", flavor: .wasender,
                                                                  apiKey: "key-\(id)", ratePerSecond: nil))
                }
                func publishOnePerTenant(_ text: String) async throws {
                    for id in ids {
                        let envelope = OutboundEnvelope(id: MessageID.make(), tenant: try TenantID(id),
                                                        messageClass: .transactional,
                                                        to: try PhoneNumber("+14155550123"), text: text)
                        try await connection.publish(try envelope.wireBody(), exchange: "sb.outbound",
                                                     routingKey: envelope.routingKey,
                                                     properties: envelope.amqpProperties())
                    }
                }
                func sent(_ count: Int) -> [String] {
                    ids.filter { simulator.state.messages(session: "\($0)-main").count < count }
                }
                /// The dispatcher's lane connections the broker lists (by their client-given names).
                func lanes() async -> [String] {
                    guard let body = try? await runProgram("/usr/bin/curl", [
                        "-sf", "-u", "guest:guest", "http://127.0.0.1:16732/api/connections?columns=user_provided_name",
                    ]), let list = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [[String: Any]] else {
                        return []
                    }
                    return list.compactMap { $0["user_provided_name"] as? String }
                        .filter { $0.contains("-dispatcher-lane-") }.sorted()
                }

                try await publishOnePerTenant("before")
                #expect(await eventually(timeout: .seconds(60)) { sent(1).isEmpty },
                        "tenants without their first message: \(sent(1))")
                // 14 consumers a lane (16 less the client's 2 channels): 40 tenants take 3.
                _ = await eventually(timeout: .seconds(30)) { await lanes().count == 3 }
                let first = await lanes()
                #expect(first.count == 3, "lanes: \(first)")

                try await node.restart()
                try await connection.waitUntilConnected(timeout: .seconds(60))
                try await publishOnePerTenant("after")
                #expect(await eventually(timeout: .seconds(90)) { sent(2).isEmpty },
                        "tenants without their second message: \(sent(2))")
                _ = await eventually(timeout: .seconds(30)) { await lanes().count == 3 }
                let second = await lanes()
                #expect(second.count == 3, "lanes after the restart: \(second)")
                #expect(ids.allSatisfy { simulator.state.messages(session: "\($0)-main").count == 2 })

                // Deleting the tenants releases their channels: the lanes that empty close,
                // all but the first.
                for id in ids { try await registry.delete(try TenantID(id), force: true) }
                _ = await eventually(timeout: .seconds(30)) { await lanes().count == 1 }
                let remaining = await lanes()
                #expect(remaining.count == 1, "lanes after deleting every tenant: \(remaining)")
                await cleanUp()
                // A graceful stop closes the lanes with the dispatcher.
                _ = await eventually(timeout: .seconds(30)) { await lanes().isEmpty }
                let closed = await lanes()
                #expect(closed.isEmpty, "lanes left open: \(closed)")
            } catch {
                await cleanUp()
                throw error
            }
        }
    }
}
