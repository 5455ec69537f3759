import Foundation
import SwitchboardAMQP
import SwitchboardBroker
import SwitchboardCore

/// The project's topology file and the test broker's management API.
enum TestTopology {
    static let path = DisposableNode.repositoryRoot.appendingPathComponent("Topology/topology.yaml").path

    static func load() throws -> Topology { try Topology.load(from: path) }

    static var managementURL: String {
        ProcessInfo.processInfo.environment["SWITCHBOARD_TEST_MANAGEMENT_URL"] ?? "http://guest:guest@127.0.0.1:15672"
    }

    static func management() throws -> RabbitMQManagement {
        RabbitMQManagement(configuration: try RabbitMQManagement.Configuration(url: managementURL))
    }
}

/// A virtual host of a test's own with the topology applied, deleted afterwards, so
/// tests that use the fixed `sb.*` names never see each other's messages.
struct ScratchVirtualHost {
    let name: String
    let connection: AMQPConnection
    let applier: TopologyApplier
    var management: RabbitMQManagement { applier.management }
    var topology: Topology { applier.topology }

    static func with<T>(_ body: (ScratchVirtualHost) async throws -> T) async throws -> T {
        let management = try TestTopology.management()
        let name = "test-\(UUID().uuidString.prefix(8).lowercased())"
        try await management.createVirtualHost(name, grantingTo: "guest")
        do {
            var configuration = try TestBroker.configuration(name)
            configuration.virtualHost = name
            let connection = try await AMQPConnection.connect(configuration, logger: TestBroker.logger)
            let applier = TopologyApplier(topology: try TestTopology.load(), connection: connection,
                                          management: management, logger: TestBroker.logger)
            try await applier.apply()
            let scratch = ScratchVirtualHost(name: name, connection: connection, applier: applier)
            let result = try await body(scratch)
            await connection.close()
            try await management.deleteVirtualHost(name)
            return result
        } catch {
            try? await management.deleteVirtualHost(name)
            throw error
        }
    }

    func provision(_ tenant: String, backlogQuota: Int? = nil) async throws -> TenantID {
        let id = try TenantID(tenant)
        try await applier.provision(TenantProvision(id: id, backlogQuota: backlogQuota))
        return id
    }

    /// The policy the broker applies to `queue` now (asked of the broker, not of the
    /// management API's periodic statistics).
    func policy(of queue: String) async -> String? {
        let rows = try? await TestBroker.ctl("list_queues", "-p", name, "name", "policy")
        return rows?.first { $0["name"] as? String == queue }?["policy"] as? String
    }

    func depth(_ queue: String) async throws -> UInt32 {
        try await connection.inspectQueue(queue).messageCount
    }

    /// Waits until `queue` holds `count` ready messages.
    func waitForDepth(_ queue: String, _ count: UInt32, timeout: Duration = .seconds(10)) async -> Bool {
        await eventually(timeout: timeout) { (try? await depth(queue)) == count }
    }

    func publish(_ text: String, exchange: String = "sb.outbound", key: String,
                 properties: AMQPMessageProperties = .persistent()) async throws {
        try await connection.publish(Data(text.utf8), exchange: exchange, routingKey: key, properties: properties)
    }
}
