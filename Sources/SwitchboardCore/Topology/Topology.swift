import Foundation
import Yams

/// Switchboard's RabbitMQ topology as `Topology/topology.yaml` defines it: the global
/// exchanges, queues and policies, the retry tiers, and the template each tenant's
/// objects are made from.
public struct Topology: Sendable, Hashable, Decodable {
    /// An exchange of the definition.
    public struct Exchange: Sendable, Hashable, Decodable {
        public var name: String
        public var type: String
        public var durable: Bool
        public var autoDelete: Bool
        public var `internal`: Bool
        public var arguments: TopologyTable
        public var why: String?

        enum CodingKeys: String, CodingKey {
            case name, type, durable, arguments, why, `internal`
            case autoDelete = "auto-delete"
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decode(String.self, forKey: .name)
            type = try c.decode(String.self, forKey: .type)
            durable = try c.decodeIfPresent(Bool.self, forKey: .durable) ?? true
            autoDelete = try c.decodeIfPresent(Bool.self, forKey: .autoDelete) ?? false
            `internal` = try c.decodeIfPresent(Bool.self, forKey: .internal) ?? false
            arguments = try c.decodeIfPresent(TopologyTable.self, forKey: .arguments) ?? [:]
            why = try c.decodeIfPresent(String.self, forKey: .why)
        }
    }

    /// A binding of a queue in the definition; `key` may hold `{tenant}`.
    public struct Binding: Sendable, Hashable, Decodable {
        public var exchange: String
        public var key: String
        public var arguments: TopologyTable

        enum CodingKeys: String, CodingKey { case exchange, key, arguments }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            exchange = try c.decode(String.self, forKey: .exchange)
            key = try c.decodeIfPresent(String.self, forKey: .key) ?? ""
            arguments = try c.decodeIfPresent(TopologyTable.self, forKey: .arguments) ?? [:]
        }
    }

    /// A queue of the definition with its bindings.
    public struct Queue: Sendable, Hashable, Decodable {
        public var name: String
        public var durable: Bool
        public var arguments: TopologyTable
        public var bindings: [Binding]
        public var why: String?

        enum CodingKeys: String, CodingKey { case name, durable, arguments, bindings, why }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decode(String.self, forKey: .name)
            durable = try c.decodeIfPresent(Bool.self, forKey: .durable) ?? true
            arguments = try c.decodeIfPresent(TopologyTable.self, forKey: .arguments) ?? [:]
            bindings = try c.decodeIfPresent([Binding].self, forKey: .bindings) ?? []
            why = try c.decodeIfPresent(String.self, forKey: .why)
        }
    }

    /// The delay queues retries wait in, one per tier.
    public struct Retry: Sendable, Hashable, Decodable {
        public var exchange: String
        public var header: String
        /// Queue name template with `{tier}`.
        public var queue: String
        public var deadLetterExchange: String
        public var tiers: [RetryTier]

        enum CodingKeys: String, CodingKey {
            case exchange, header, queue, tiers
            case deadLetterExchange = "dead-letter-exchange"
        }
    }

    /// A RabbitMQ policy of the definition.
    public struct Policy: Sendable, Hashable, Decodable {
        public var name: String
        public var pattern: String
        public var applyTo: String
        public var priority: Int
        public var definition: TopologyTable
        public var why: String?

        enum CodingKeys: String, CodingKey {
            case name, pattern, priority, definition, why
            case applyTo = "apply-to"
        }
    }

    /// What each tenant gets when it is provisioned.
    public struct TenantTemplate: Sendable, Hashable, Decodable {
        /// How a tenant's backlog quota becomes a policy of its own.
        public struct BacklogQuota: Sendable, Hashable, Decodable {
            /// Policy name template with `{tenant}`.
            public var policy: String
            public var priority: Int
            /// The policy whose definition the quota policy starts from (only one policy
            /// applies to a queue, so the quota policy must carry the base settings too).
            public var extends: String?
            public var definition: TopologyTable
        }

        /// Queue name template with `{tenant}`.
        public var queue: String
        public var arguments: TopologyTable
        public var bindings: [Binding]
        public var backlogQuota: BacklogQuota

        enum CodingKeys: String, CodingKey {
            case queue, arguments, bindings
            case backlogQuota = "backlog-quota"
        }
    }

    /// The exchanges and queues each service uses, by what they are for: services read
    /// their names here and restate none.
    public struct Roles: Sendable, Hashable, Decodable {
        /// The exchange publishers hand outbound envelopes to.
        public var outbound: String
        /// The exchange what fails for good is published to, keyed `<tenant>.<reason>`.
        public var deadLetters: String
        /// The fan-out of normalized events about contacts and sessions.
        public var events: String
        /// The fan-out of `message.status` events.
        public var statuses: String
        /// The fan-out of change announcements every service instance binds a queue to.
        public var control: String
        /// The exchange raw webhooks are published to.
        public var inbound: String
        /// The normalizer's queue (bound to `inbound`).
        public var inboundQueue: String
        public var loggerQueue: String
        public var inboxQueue: String
        public var botQueue: String
        /// What the dead-letters service archives: what failed for good, and what no
        /// tenant queue took.
        public var deadLetterQueue: String
        public var unroutableQueue: String
        /// The monitor's queue of session events.
        public var monitorQueue: String

        /// Where an event of `type` is published: statuses to their own fan-out, the
        /// rest to the events fan-out.
        public func exchange(for type: NormalizedEvent.Kind) -> String {
            type == .messageStatus ? statuses : events
        }

        enum CodingKeys: String, CodingKey {
            case outbound, events, statuses, control, inbound
            case deadLetters = "dead-letters"
            case inboundQueue = "inbound-queue"
            case loggerQueue = "logger-queue"
            case inboxQueue = "inbox-queue"
            case botQueue = "bot-queue"
            case deadLetterQueue = "dead-letter-queue"
            case unroutableQueue = "unroutable-queue"
            case monitorQueue = "monitor-queue"
        }
    }

    public var version: Int
    public var exchanges: [Exchange]
    public var queues: [Queue]
    public var roles: Roles
    public var retry: Retry
    public var tenant: TenantTemplate
    public var policies: [Policy]

    /// The routing key raw webhooks are published with: the inbound queue's binding.
    public var inboundRoutingKey: String {
        queues.first { $0.name == roles.inboundQueue }?.bindings.first { $0.exchange == roles.inbound }?.key ?? ""
    }

    /// Reads and checks a topology file.
    public static func load(from path: String) throws(TopologyError) -> Topology {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw TopologyError.unreadable(path)
        }
        return try parse(text, source: path)
    }

    /// Parses and checks topology YAML.
    public static func parse(_ yaml: String, source: String = "topology") throws(TopologyError) -> Topology {
        let topology: Topology
        do {
            topology = try YAMLDecoder().decode(Topology.self, from: yaml)
        } catch {
            throw TopologyError.invalid(source, "\(error)")
        }
        try topology.validate(source: source)
        return topology
    }

    private func validate(source: String) throws(TopologyError) {
        guard version == 1 else { throw .invalid(source, "version \(version) is not supported (expected 1)") }
        let exchangeNames = Set(exchanges.map(\.name))
        for binding in queues.flatMap(\.bindings) + tenant.bindings where !exchangeNames.contains(binding.exchange) {
            throw .invalid(source, "a binding names exchange '\(binding.exchange)', which is not defined")
        }
        for name in [retry.exchange, retry.deadLetterExchange] where !exchangeNames.contains(name) {
            throw .invalid(source, "retry names exchange '\(name)', which is not defined")
        }
        let queueNames = Set(queues.map(\.name))
        for (role, name) in [("outbound", roles.outbound), ("dead-letters", roles.deadLetters), ("events", roles.events),
                             ("statuses", roles.statuses), ("control", roles.control), ("inbound", roles.inbound)]
            where !exchangeNames.contains(name) {
            throw .invalid(source, "role \(role) names exchange '\(name)', which is not defined")
        }
        for (role, name) in [("inbound-queue", roles.inboundQueue), ("logger-queue", roles.loggerQueue),
                             ("inbox-queue", roles.inboxQueue), ("bot-queue", roles.botQueue),
                             ("dead-letter-queue", roles.deadLetterQueue), ("unroutable-queue", roles.unroutableQueue),
                             ("monitor-queue", roles.monitorQueue)]
            where !queueNames.contains(name) {
            throw .invalid(source, "role \(role) names queue '\(name)', which is not defined")
        }
        guard queues.contains(where: { $0.name == roles.inboundQueue && $0.bindings.contains { $0.exchange == roles.inbound } })
        else { throw .invalid(source, "the inbound queue '\(roles.inboundQueue)' is not bound to '\(roles.inbound)'") }
        guard tenant.queue.contains("{tenant}"), tenant.backlogQuota.policy.contains("{tenant}") else {
            throw .invalid(source, "the tenant queue and quota policy names must contain {tenant}")
        }
        guard retry.queue.contains("{tier}") else { throw .invalid(source, "the retry queue name must contain {tier}") }
        if let base = tenant.backlogQuota.extends, !policies.contains(where: { $0.name == base }) {
            throw .invalid(source, "backlog-quota extends '\(base)', which is not a policy")
        }
        // An exchange and a queue may share a name (sb.unroutable); two of a kind may not.
        for (kind, names) in [("exchange", exchanges.map(\.name)), ("queue", queues.map(\.name)),
                              ("policy", policies.map(\.name))] {
            if let duplicate = Dictionary(grouping: names, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
                throw .invalid(source, "\(kind) '\(duplicate)' is defined twice")
            }
        }
    }

    /// Finds the topology file: the flag, else `SWITCHBOARD_TOPOLOGY`, else
    /// `Topology/topology.yaml` in the working directory or above the executable.
    public static func locate(flag: String?, settings: Settings = Settings()) throws(TopologyError) -> String {
        if let explicit = flag ?? settings.environment[Settings.Key.topology.rawValue], !explicit.isEmpty {
            return explicit
        }
        let relative = "Topology/topology.yaml"
        var candidates = [FileManager.default.currentDirectoryPath]
        var directory = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath()
            .deletingLastPathComponent()
        for _ in 0..<6 {
            candidates.append(directory.path)
            directory.deleteLastPathComponent()
        }
        for base in candidates {
            let path = URL(fileURLWithPath: base).appendingPathComponent(relative).path
            if FileManager.default.fileExists(atPath: path) { return path }
        }
        throw .unreadable("\(relative) (set --topology or SWITCHBOARD_TOPOLOGY)")
    }
}

/// A retry tier such as `5s`, `2m` or `1h`: its name and how long a message waits.
public struct RetryTier: Sendable, Hashable, Decodable, CustomStringConvertible {
    public let name: String
    public let milliseconds: Int64

    public init(_ name: String) throws(TopologyError) {
        let units: [(suffix: String, scale: Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
        for (suffix, scale) in units where name.hasSuffix(suffix) {
            if let amount = Int64(name.dropLast(suffix.count)), amount > 0 {
                self.name = name
                self.milliseconds = amount * scale
                return
            }
        }
        throw .invalid("retry tier", "'\(name)' is not a duration like 500ms, 5s, 2m or 1h")
    }

    public init(from decoder: any Decoder) throws {
        let name = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(name) } catch { throw error }
    }

    public var description: String { name }
}

/// Why a topology file or a tenant id cannot be used.
public enum TopologyError: Error, Sendable, Hashable, CustomStringConvertible {
    case unreadable(String)
    case invalid(String, String)
    case invalidTenant(String)

    public var description: String {
        switch self {
        case .unreadable(let path): "cannot read the topology file \(path)"
        case .invalid(let source, let why): "\(source): \(why)"
        case .invalidTenant(let id):
            "'\(id)' is not a tenant id: 1–63 lower-case letters, digits and '-', starting with a letter or digit"
        }
    }
}
