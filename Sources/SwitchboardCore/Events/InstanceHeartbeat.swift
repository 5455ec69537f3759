public import Foundation

/// What every Switchboard process says on `sb.control` every few seconds (AMQP `type`
/// `instance.heartbeat`): which services it runs, since when, where. The monitor keeps
/// them for the health view.
public struct InstanceHeartbeat: Sendable, Hashable, Codable {
    /// The AMQP `type` heartbeats are published with (control listeners skip them).
    public static let messageType = "instance.heartbeat"

    /// Unique per process run.
    public var instance: String
    public var services: [String]
    public var version: String
    public var host: String
    public var pid: Int
    public var startedAt: Date

    enum CodingKeys: String, CodingKey {
        case instance, services, version, host, pid
        case startedAt = "started_at"
    }

    public init(instance: String, services: [String], version: String, host: String, pid: Int, startedAt: Date) {
        self.instance = instance
        self.services = services
        self.version = version
        self.host = host
        self.pid = pid
        self.startedAt = startedAt
    }
}

/// This build's version, as heartbeats and `switchboard --version` say it.
public enum SwitchboardVersion {
    public static let current = "0.9.0"
}
