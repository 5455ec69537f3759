import Foundation
import SwitchboardAMQP
import SwitchboardBroker
import SwitchboardCore

/// The three-node RabbitMQ cluster of `deploy/local/cluster.sh` (ports 5781–5783,
/// management 15781–15783), started by the first test that needs it; a test that kills a
/// node starts it again before it ends (`start()` also brings back any node left down).
enum TestCluster {
    static let script = DisposableNode.repositoryRoot.appendingPathComponent("deploy/local/cluster.sh").path
    static let nodes = [1, 2, 3]

    static func amqpPort(_ node: Int) -> Int { 5780 + node }
    static func nodeName(_ node: Int) -> String { "sbcluster\(node)@localhost" }
    static func node(named name: String) -> Int? { nodes.first { nodeName($0) == name } }
    static func node(at endpoint: AMQPConfiguration.Endpoint) -> Int? { nodes.first { amqpPort($0) == endpoint.port } }

    /// Every node's URL, comma-separated, in `virtualHost`.
    static func url(virtualHost: String, order: [Int] = nodes) -> String {
        order.map { "amqp://guest:guest@127.0.0.1:\(amqpPort($0))/\(virtualHost)" }.joined(separator: ",")
    }

    static func managementURL(order: [Int] = nodes) -> String {
        order.map { "http://guest:guest@127.0.0.1:\(15780 + $0)" }.joined(separator: ",")
    }

    /// Starts whatever is not running and joins it to the cluster (idempotent).
    static func start() async throws { try await run("start") }

    @discardableResult
    static func run(_ arguments: String...) async throws -> String {
        try await runProgram("/bin/bash", [script] + arguments)
    }

    /// SIGKILLs a node's VM and waits until it is gone.
    static func kill(_ node: Int) async throws { try await run("kill-node", String(node)) }
    static func startNode(_ node: Int) async throws { try await run("start-node", String(node)) }

    /// `rabbitmqctl` on a node, its answer as JSON rows.
    static func ctl(_ node: Int, _ arguments: String...) async throws -> [[String: Any]] {
        let output = try await runProgram("/bin/bash", [script, "ctl", String(node)] + arguments
            + ["--formatter", "json", "--quiet"])
        guard let start = output.firstIndex(where: { $0 == "[" || $0 == "{" }) else { return [] }
        let json = try JSONSerialization.jsonObject(with: Data(output[start...].utf8))
        return json as? [[String: Any]] ?? (json as? [String: Any]).map { [$0] } ?? []
    }

    /// The names of the running members, as `node` sees them.
    static func runningMembers(asSeenBy node: Int) async throws -> Set<String> {
        let status = try await ctl(node, "cluster_status").first ?? [:]
        return Set(status["running_nodes"] as? [String] ?? [])
    }

    /// The node a queue lives on: a classic queue's process, a quorum queue's leader.
    static func home(of queue: String, virtualHost: String, askingNode node: Int) async throws -> Int? {
        // The JSON formatter prints a pid without its node, so the table is read.
        let output = try await runProgram("/bin/bash", [script, "ctl", String(node), "list_queues", "-p", virtualHost,
                                                        "name", "pid", "leader", "--quiet", "--no-table-headers"])
        for line in output.split(separator: "\n") {
            let columns = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard columns.count >= 2, columns[0] == queue else { continue }
            if columns.count >= 3, let leader = self.node(named: columns[2]) { return leader }
            // A pid prints as <sbcluster2@localhost.1795975385.2118.0>.
            let pid = columns[1].trimmingCharacters(in: CharacterSet(charactersIn: "<>"))
            return self.node(named: pid.split(separator: ".").prefix { !$0.allSatisfy(\.isNumber) }
                .joined(separator: "."))
        }
        return nil
    }

    static func management(order: [Int] = nodes) throws -> RabbitMQManagement {
        RabbitMQManagement(configuration: try RabbitMQManagement.Configuration(url: managementURL(order: order)))
    }

    /// A client configuration over every node (fast recovery, as the other tests use).
    static func configuration(_ name: String, virtualHost: String, order: [Int] = nodes) throws -> AMQPConfiguration {
        try TestBroker.configuration(name, url: url(virtualHost: virtualHost, order: order))
    }
}

/// A virtual host of its own on the cluster, with the topology applied through every
/// node's URL; deleted afterwards. Nodes the body killed are started again first.
func withClusterVirtualHost<T>(_ body: (ScratchVirtualHost) async throws -> T) async throws -> T {
    try await TestCluster.start()
    // The first management URL is a port nobody listens on: the client must move on.
    let management = RabbitMQManagement(configuration: try RabbitMQManagement.Configuration(
        url: "http://guest:guest@127.0.0.1:1," + TestCluster.managementURL()))
    let name = "test-cluster-\(UUID().uuidString.prefix(8).lowercased())"
    try await management.createVirtualHost(name, grantingTo: "guest")
    do {
        let connection = try await AMQPConnection.connect(try TestCluster.configuration(name, virtualHost: name),
                                                          logger: TestBroker.logger)
        let applier = TopologyApplier(topology: try TestTopology.load(), connection: connection,
                                      management: management, logger: TestBroker.logger)
        try await applier.apply()
        let result = try await body(ScratchVirtualHost(name: name, connection: connection, applier: applier))
        await connection.close()
        try await TestCluster.start()
        try await management.deleteVirtualHost(name)
        return result
    } catch {
        try? await TestCluster.start()
        try? await management.deleteVirtualHost(name)
        throw error
    }
}
