import Foundation
import Logging
import SwitchboardAMQP

/// The shared broker every integration test uses (started by deploy/local/rabbitmq.sh),
/// and names that keep parallel tests out of each other's way.
enum TestBroker {
    static var url: String {
        ProcessInfo.processInfo.environment["SWITCHBOARD_TEST_AMQP_URL"] ?? "amqp://guest:guest@127.0.0.1:5672"
    }

    static func configuration(_ name: String, url: String = TestBroker.url) throws -> AMQPConfiguration {
        var configuration = try AMQPConfiguration(url: url)
        configuration.connectionName = "test-\(name)"
        configuration.recovery = .init(initialDelay: .milliseconds(50), maximumDelay: .milliseconds(500))
        return configuration
    }

    static func connect(_ name: String) async throws -> AMQPConnection {
        try await AMQPConnection.connect(try configuration(name), logger: logger)
    }

    static let logger: Logger = {
        var logger = Logger(label: "test.amqp")
        logger.logLevel = ProcessInfo.processInfo.environment["SWITCHBOARD_TEST_LOG"].flatMap { Logger.Level(rawValue: $0) }
            ?? .critical
        return logger
    }()

    /// `rabbitmqctl` on the shared node, its answer as JSON rows. Unlike the management
    /// API's statistics (collected every 60 s on the project's nodes), it asks the
    /// broker's processes, so counts are exact at once.
    static func ctl(_ arguments: String...) async throws -> [[String: Any]] {
        let script = DisposableNode.repositoryRoot.appendingPathComponent("deploy/local/rabbitmq.sh").path
        let output = try await runProgram("/bin/bash", [script, "ctl"] + arguments + ["--formatter", "json", "--quiet"])
        // rabbitmqctl may print notices before the JSON.
        guard let start = output.firstIndex(of: "[") else { return [] }
        return try JSONSerialization.jsonObject(with: Data(output[start...].utf8)) as? [[String: Any]] ?? []
    }

    static func uniqueName(_ prefix: String) -> String {
        "test.\(prefix).\(UUID().uuidString.prefix(8).lowercased())"
    }
}

/// Runs `body` with a connection and a fresh queue, and deletes both afterwards.
func withQueue<T>(
    _ prefix: String, durable: Bool = false, arguments: AMQPTable = [:],
    _ body: (AMQPConnection, String) async throws -> T
) async throws -> T {
    let connection = try await TestBroker.connect(prefix)
    let queue = TestBroker.uniqueName(prefix)
    try await connection.declareQueue(AMQPQueueDeclaration(name: queue, durable: durable, arguments: arguments))
    do {
        let result = try await body(connection, queue)
        _ = try? await connection.deleteQueue(queue)
        await connection.close()
        return result
    } catch {
        _ = try? await connection.deleteQueue(queue)
        await connection.close()
        throw error
    }
}

/// Polls `condition` until it holds or `timeout` passes.
func eventually(timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}
