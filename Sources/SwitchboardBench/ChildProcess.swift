import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A process a benchmark starts (the gateway, the simulator) and measures from outside:
/// its CPU from `/proc`, its output in a log file, stopped with SIGTERM (SIGKILL after
/// a bound). Spawned with `posix_spawn`: Foundation's `Process` can miss a child's exit.
final class ChildProcess: Sendable {
    let pid: pid_t
    let command: String
    let logPath: String

    init(_ argv: [String], environment: [String: String], logPath: String) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        let cArgv = argv.map { strdup($0) } + [nil]
        let cEnvp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (cArgv + cEnvp).forEach { free($0) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, argv[0], &actions, nil, cArgv, cEnvp)
        guard status == 0 else { throw BenchError.setup("cannot start \(argv[0]): \(String(cString: strerror(status)))") }
        self.pid = pid
        self.command = argv.joined(separator: " ")
        self.logPath = logPath
    }

    /// User + system CPU seconds so far (its threads included), from `/proc/<pid>/stat`.
    var cpuSeconds: Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let ticks = CPUSample.cpuTicks(fromStat: stat)
        else { return 0 }
        return ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    var isRunning: Bool { kill(pid, 0) == 0 && !isZombie }

    /// Its resident memory now, in megabytes.
    var residentMegabytes: Double {
        Double(MemorySample.residentBytes(pid: "\(pid)") ?? 0) / 1_048_576
    }

    private var isZombie: Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")")
        else { return true }
        return stat[stat.index(after: close)...].split(separator: " ").first == "Z"
    }

    /// The last lines it wrote, for an error message.
    var tail: String {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(15).joined(separator: "\n")
    }

    /// SIGKILL at once, as a crash or an OOM kill ends a process; reaps it.
    func crash() async {
        kill(pid, SIGKILL)
        await reap()
    }

    /// SIGTERM, then SIGKILL if it has not exited within `bound`; reaps it.
    func stop(within bound: Duration = .seconds(20)) async {
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + bound
        while ContinuousClock.now < deadline, isRunning {
            try? await Task.sleep(for: .milliseconds(50))
        }
        if isRunning { kill(pid, SIGKILL) }
        await reap()
    }

    private func reap() async {
        let pid = self.pid
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread {
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                continuation.resume()
            }.start()
        }
    }

    /// A TCP port free on 127.0.0.1 now (the kernel's choice), for a child to listen on.
    static func freePort() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw BenchError.setup("cannot open a socket") }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(socket, pointer, length) == 0 && getsockname(socket, pointer, &length) == 0
            }
        }
        guard bound else { throw BenchError.setup("cannot find a free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
