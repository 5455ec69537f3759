import Foundation

/// A second RabbitMQ node, started with the project's own script on other ports, that
/// a test may close connections on, restart, or freeze without disturbing other tests.
struct DisposableNode: Sendable {
    let name: String
    let amqpPort: Int

    var url: String { "amqp://guest:guest@127.0.0.1:\(amqpPort)" }

    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    private var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["SWITCHBOARD_RABBITMQ_NODE"] = "\(name)@localhost"
        environment["SWITCHBOARD_AMQP_PORT"] = String(amqpPort)
        environment["SWITCHBOARD_RABBITMQ_MGMT_PORT"] = String(amqpPort + 10_000)
        environment["SWITCHBOARD_RABBITMQ_PROMETHEUS_PORT"] = String(amqpPort + 10_020)
        return environment
    }

    static func start(name: String, amqpPort: Int) async throws -> DisposableNode {
        let node = DisposableNode(name: name, amqpPort: amqpPort)
        try await node.script("start")
        return node
    }

    @discardableResult
    func script(_ arguments: String...) async throws -> String {
        try await run("/bin/bash", [Self.repositoryRoot.appendingPathComponent("deploy/local/rabbitmq.sh").path]
            + arguments)
    }

    func closeAllConnections() async throws {
        try await script("ctl", "close_all_connections", "test: forced close")
    }

    func restart() async throws { try await script("restart") }
    func stop() async throws { try await script("stop") }

    /// Freezes the node's VM (SIGSTOP): TCP stays up, the broker goes silent.
    func pause() async throws {
        let pid = try await script("pid").trimmingCharacters(in: .whitespacesAndNewlines)
        try await run("/bin/kill", ["-STOP", pid])
    }

    func resume() async throws {
        let pid = try await script("pid").trimmingCharacters(in: .whitespacesAndNewlines)
        try await run("/bin/kill", ["-CONT", pid])
    }

    /// Runs a process without blocking a cooperative thread.
    @discardableResult
    private func run(_ executable: String, _ arguments: [String]) async throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            process.terminationHandler = { _ in continuation.resume() }
            do { try process.run() } catch { continuation.resume(throwing: error) }
        }
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw NodeError(command: ([executable] + arguments).joined(separator: " "), output: text)
        }
        return text
    }

    struct NodeError: Error, CustomStringConvertible {
        let command: String
        let output: String
        var description: String { "\(command) failed: \(output)" }
    }
}
