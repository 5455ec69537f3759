import Foundation
import SwitchboardAMQP
import SwitchboardApp
import SwitchboardCore
import SwitchboardSimulator
import SwitchboardStore
import Testing

/// The process as `switchboard serve` builds it (`Gateway.build`), not assembled by hand.
@Suite(.serialized)
struct GatewayTests {
    @Test(.timeLimit(.minutes(2)))
    func serveAllSendsAMessagePostedToTheAPIAndItsStatusesComeBackThroughTheWebhooks() async throws {
        try await ScratchVirtualHost.with { scratch in
            try await TestGateway.withDirectory { directory in
                let simulator = try await EmbeddedSimulator.start(logger: TestBroker.logger)
                defer { Task { try? await simulator.stop() } }
                let configuration = try TestGateway.configuration(GatewayService.gateway, scratch: scratch,
                                                                  directory: directory) {
                    $0.simulatorBaseURL = simulator.baseURL + "/api"
                }
                try await TestGateway.with(configuration) { gateway in
                    let api = try await gateway.port(of: .api)
                    // Onboarding as an admin does it, through the api.
                    let key = try await TestGateway.onboard("acme", gateway: gateway, simulator: simulator)

                    let sent = try await TestAPI.request(port: api, .POST, "/v1/messages", key: key,
                                                         json: #"{"to":"+14155550123","text":"Your code is 123456"}"#)
                    #expect(sent.status == 202, "\(sent.text)")
                    let id = try #require(sent.json["id"] as? String)
                    var last = TestResponse(status: 0, headers: [:], body: Data())
                    let read = try await eventually(timeout: .seconds(30)) {
                        last = try await TestAPI.request(port: api, .GET, "/v1/messages/\(id)", key: key)
                        return last.json["state"] as? String == "read"
                    }
                    #expect(read, "\(last.text)")
                    #expect(simulator.state.messages(session: "acme-main").map(\.text) == ["Your code is 123456"])
                }
            }
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func aGracefulShutdownMidCampaignEndsWithinFiveSecondsAndEveryMessageIsSentOnceOrStillQueued() async throws {
        try await ScratchVirtualHost.with { scratch in
            try await TestGateway.withDirectory { directory in
                let simulator = try await EmbeddedSimulator.start(logger: TestBroker.logger)
                defer { Task { try? await simulator.stop() } }
                let configuration = try TestGateway.configuration([.dispatcher], scratch: scratch, directory: directory) {
                    $0.simulatorBaseURL = simulator.baseURL + "/api"
                    $0.dispatcher = .init(inFlightPerTenant: 8, refreshInterval: .milliseconds(200))
                }
                let gateway = try await Gateway.build(configuration, logger: TestBroker.logger)
                let running = Task { try await gateway.run() }
                let outbound = TestOutbound(scratch: scratch, store: gateway.store, simulator: simulator)
                // Ten tenants' campaigns at a bulk pace of one message every two seconds:
                // each has eight deliveries fetched and waiting for its session's slot.
                let tenants = (0..<10).map { "camp\($0)" }
                var published: [String] = []  // message ids
                for tenant in tenants {
                    try await outbound.addTenant(tenant, rate: 1, bulkShare: 0.5)
                    for n in 0..<20 {
                        let envelope = try outbound.envelope(tenant, "offer \(n)", messageClass: .bulk)
                        try await outbound.publish(envelope)
                        published.append(envelope.id)
                    }
                }
                func queued() async throws -> Int {
                    var ready = 0
                    for tenant in tenants {
                        ready += Int(try await scratch.depth(scratch.topology.tenantQueue(try TenantID(tenant))))
                    }
                    return ready
                }
                // Every tenant has sent its first message and has its prefetch fetched and waiting.
                let inFlight = try await eventually {
                    let sent = simulator.state.messages().count
                    let ready = try await queued()
                    return sent >= tenants.count && ready + sent <= published.count - tenants.count * 7
                }
                #expect(inFlight)

                let clock = ContinuousClock()
                let began = clock.now
                await gateway.triggerGracefulShutdown()
                try await running.value
                let took = clock.now - began
                #expect(took < .seconds(5), "shutdown took \(took)")

                // Nothing lost, nothing sent twice: every message is at the simulator once or back in its queue.
                let sent = simulator.state.messages().map { "\($0.session)|\($0.text ?? "")" }
                #expect(Set(sent).count == sent.count, "\(sent)")
                let ready = try await queued()
                #expect(sent.count + ready == published.count, "sent \(sent.count), queued \(ready)")
            }
        }
    }
}
