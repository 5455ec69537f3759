import Foundation
import SwitchboardAMQP
#if canImport(Glibc)
import Glibc
#endif

/// CPU time spent so far by this process and by the RabbitMQ node(s) running on this
/// machine: with two samples a benchmark says what one message costs, which carries over
/// to other machines better than messages per second on this one.
struct CPUSample: Sendable {
    /// User + system seconds of this process.
    let process: Double
    /// User + system seconds of every local `beam.smp` running RabbitMQ; nil when the
    /// broker is on another host or none is found.
    let broker: Double?
    /// User + system seconds of the local PostgreSQL server's processes (and of its
    /// backends that ended), when the benchmark's store is there; else nil.
    var database: Double? = nil

    /// Samples now; the broker's CPU only when `broker` points at this machine, the
    /// database's when `database` (a local PostgreSQL server holds the store).
    static func now(broker: AMQPConfiguration, database: Bool = false) -> CPUSample {
        let isLocal = ["127.0.0.1", "localhost", "::1"].contains(broker.host.lowercased())
        return CPUSample(process: processSeconds(), broker: isLocal ? localBrokerSeconds() : nil,
                         database: database ? localDatabaseSeconds() : nil)
    }

    /// `utime + stime + cutime + cstime` of every local `postgres` process: the server,
    /// its workers and the pool's backends, with the children that already ended.
    private static func localDatabaseSeconds() -> Double? {
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return nil }
        let used = entries.compactMap { pid -> Double? in
            guard pid.allSatisfy(\.isNumber),
                  let name = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8),
                  name.trimmingCharacters(in: .whitespacesAndNewlines) == "postgres",
                  let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")")
            else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 14 else { return nil }
            return (11...14).compactMap { Double(fields[$0]) }.reduce(0, +)
        }
        return used.isEmpty ? nil : used.reduce(0, +) / ticks
    }

    /// The cost per message between `self` and a later sample.
    func cost(until later: CPUSample, messages: Int) -> CPUCost {
        let count = Double(max(1, messages))
        let broker: Double? = if let before = self.broker, let after = later.broker {
            (after - before) * 1_000_000 / count
        } else {
            nil
        }
        let database: Double? = if let before = self.database, let after = later.database {
            (after - before) * 1_000_000 / count
        } else {
            nil
        }
        return CPUCost(processMicroseconds: (later.process - process) * 1_000_000 / count,
                       brokerMicroseconds: broker, databaseMicroseconds: database)
    }

    private static func processSeconds() -> Double {
        var usage = rusage()
        guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return 0 }
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1_000_000 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// Sums `utime + stime` of the local RabbitMQ node(s), from `/proc` (Linux only).
    private static func localBrokerSeconds() -> Double? {
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let used = localBrokerPIDs().compactMap { pid in
            (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)).flatMap(cpuTicks(fromStat:))
        }
        return used.isEmpty ? nil : used.reduce(0, +) / ticks
    }

    /// The `beam.smp` processes whose command line names RabbitMQ.
    static func localBrokerPIDs() -> [String] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return entries.filter { pid in
            guard pid.allSatisfy(\.isNumber),
                  let name = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8),
                  name.trimmingCharacters(in: .whitespacesAndNewlines) == "beam.smp",
                  let commandLine = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline")
            else { return false }
            return String(decoding: commandLine, as: UTF8.self).contains("rabbit")
        }
    }

    /// `utime + stime` (fields 14 and 15) of a `/proc/<pid>/stat` line; the command name
    /// in parentheses may hold spaces, so fields are counted after its closing one.
    static func cpuTicks(fromStat stat: String) -> Double? {
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state); utime is field 14, stime field 15.
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return user + system
    }
}

/// CPU microseconds per message, of this process and of the local broker.
public struct CPUCost: Codable, Sendable, Hashable {
    public let processMicroseconds: Double
    /// Nil when the broker does not run on this machine.
    public let brokerMicroseconds: Double?
    /// The local PostgreSQL server's, when it holds the store; else nil.
    public var databaseMicroseconds: Double? = nil

    public var totalMicroseconds: Double { processMicroseconds + (brokerMicroseconds ?? 0) + (databaseMicroseconds ?? 0) }

    /// "this process 512 µs + broker 331 µs = 843 µs" (and "+ database … µs" when the
    /// store is a local PostgreSQL server).
    var text: String {
        guard let brokerMicroseconds else {
            return String(format: "this process %.0f µs (broker not on this machine)", processMicroseconds)
        }
        if let databaseMicroseconds {
            return String(format: "this process %.0f µs + broker %.0f µs + database %.0f µs = %.0f µs",
                          processMicroseconds, brokerMicroseconds, databaseMicroseconds, totalMicroseconds)
        }
        return String(format: "this process %.0f µs + broker %.0f µs = %.0f µs", processMicroseconds,
                      brokerMicroseconds, totalMicroseconds)
    }
}

/// Resident memory of this process and of the local RabbitMQ node(s), from `/proc`.
struct MemorySample: Sendable {
    /// Bytes.
    let process: Int
    let broker: Int?

    static func now(broker: AMQPConfiguration) -> MemorySample {
        let isLocal = ["127.0.0.1", "localhost", "::1"].contains(broker.host.lowercased())
        return MemorySample(process: residentBytes(pid: "self") ?? 0, broker: isLocal ? localBrokerBytes() : nil)
    }

    /// `VmRSS` of `/proc/<pid>/status`.
    static func residentBytes(pid: String) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
        else { return nil }
        return kilobytes * 1024
    }

    private static func localBrokerBytes() -> Int? {
        let sizes = CPUSample.localBrokerPIDs().compactMap { residentBytes(pid: $0) }
        return sizes.isEmpty ? nil : sizes.reduce(0, +)
    }
}
