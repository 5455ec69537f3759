import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A second RabbitMQ node, started with the project's own script on other ports, that
/// a test may close connections on, restart, or freeze without disturbing other tests.
struct DisposableNode: Sendable {
    let name: String
    let amqpPort: Int
    /// Extra `SWITCHBOARD_RABBITMQ_*` settings for the script (a TLS listener, …).
    var settings: [String: String] = [:]

    var url: String { "amqp://guest:guest@127.0.0.1:\(amqpPort)" }

    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    private var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["SWITCHBOARD_RABBITMQ_NODE"] = "\(name)@localhost"
        environment["SWITCHBOARD_AMQP_PORT"] = String(amqpPort)
        // Clear of the main node's 5672 / 15672 / 15692 / 25672.
        environment["SWITCHBOARD_RABBITMQ_MGMT_PORT"] = String(amqpPort + 11_000)
        environment["SWITCHBOARD_RABBITMQ_PROMETHEUS_PORT"] = String(amqpPort + 12_000)
        environment.merge(settings) { _, new in new }
        return environment
    }

    static func start(name: String, amqpPort: Int, settings: [String: String] = [:]) async throws
        -> DisposableNode
    {
        let node = DisposableNode(name: name, amqpPort: amqpPort, settings: settings)
        // Disposable means fresh: a node left from an earlier run (or an older topology)
        // is stopped and its state removed first.
        _ = try? await node.script("stop")
        try? FileManager.default.removeItem(
            at: repositoryRoot.appendingPathComponent(".local/rabbitmq/\(name)"))
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

    /// Runs any program with the node's environment.
    @discardableResult
    func run(_ executable: String, _ arguments: [String]) async throws -> String {
        try await runProgram(executable, arguments, environment: environment)
    }

}

/// A program that exited with a failure.
struct ProgramError: Error, CustomStringConvertible {
    let command: String
    let output: String
    var description: String { "\(command) failed: \(output)" }
}

/// Runs a program to completion on a thread of its own (posix_spawn + waitpid), so no
/// cooperative thread blocks. Foundation's `Process` is not used: on Linux it can miss
/// the exit of a script that leaves a daemon behind (the script stays a zombie).
@discardableResult
func runProgram(_ executable: String, _ arguments: [String],
                environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> String {
    let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("sbtest-\(UUID().uuidString).log").path
    let argv = [executable] + arguments
    let envp = environment.map { "\($0.key)=\($0.value)" }
    let status: Int32 = await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: spawnAndWait(argv: argv, envp: envp, outputPath: outputPath)) }.start()
    }
    let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
    try? FileManager.default.removeItem(atPath: outputPath)
    guard status == 0 else {
        throw ProgramError(command: argv.joined(separator: " "), output: "exit \(status): \(output)")
    }
    return output
}

private func spawnAndWait(argv: [String], envp: [String], outputPath: String) -> Int32 {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    let cArgv = argv.map { strdup($0) } + [nil]
    let cEnvp = envp.map { strdup($0) } + [nil]
    defer { (cArgv + cEnvp).forEach { free($0) } }
    var pid: pid_t = 0
    guard posix_spawn(&pid, argv[0], &actions, nil, cArgv, cEnvp) == 0 else { return -1 }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    // WIFEXITED / WEXITSTATUS are macros Swift cannot import.
    return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
}
