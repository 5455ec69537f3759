/// One difference between the topology and a live broker.
public struct TopologyDrift: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// The definition has it, the broker does not.
        case missing
        /// Both have it, with different settings.
        case different
        /// The broker has a Switchboard-named object the definition does not: reported,
        /// not counted as drift (an instance's control queue, a retired tier, …).
        case unexpected
    }

    public let kind: Kind
    /// What it is about, e.g. `queue sb.dead`.
    public let object: String
    public let detail: String

    public init(kind: Kind, object: String, detail: String) {
        self.kind = kind
        self.object = object
        self.detail = detail
    }

    public var description: String {
        detail.isEmpty ? "\(kind.rawValue): \(object)" : "\(kind.rawValue): \(object): \(detail)"
    }

    /// Drift that `verify` fails on.
    public var isDrift: Bool { kind != .unexpected }
}

extension BrokerObjects {
    /// How `live` differs from `self` (the desired objects). Objects named with one of
    /// `ownedPrefixes` that are live but not desired are reported as `unexpected`.
    public func drift(from live: BrokerObjects, ownedPrefixes: [String] = ["sb.", "sb-"]) -> [TopologyDrift] {
        var drift: [TopologyDrift] = []
        func owned(_ name: String) -> Bool { ownedPrefixes.contains { name.hasPrefix($0) } }
        func table(_ t: TopologyTable) -> String {
            "{" + t.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "}"
        }

        let liveExchanges = Dictionary(live.exchanges.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for want in exchanges {
            let object = "exchange \(want.name)"
            guard let have = liveExchanges[want.name] else {
                drift.append(.init(kind: .missing, object: object, detail: ""))
                continue
            }
            var differences: [String] = []
            if have.type != want.type { differences.append("type \(have.type), want \(want.type)") }
            if have.durable != want.durable { differences.append("durable \(have.durable), want \(want.durable)") }
            if have.autoDelete != want.autoDelete {
                differences.append("auto-delete \(have.autoDelete), want \(want.autoDelete)")
            }
            if have.internal != want.internal { differences.append("internal \(have.internal), want \(want.internal)") }
            if !have.arguments.sameValues(as: want.arguments) {
                differences.append("arguments \(table(have.arguments)), want \(table(want.arguments))")
            }
            if !differences.isEmpty {
                drift.append(.init(kind: .different, object: object, detail: differences.joined(separator: "; ")))
            }
        }

        let liveQueues = Dictionary(live.queues.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for want in queues {
            let object = "queue \(want.name)"
            guard let have = liveQueues[want.name] else {
                drift.append(.init(kind: .missing, object: object, detail: ""))
                continue
            }
            var differences: [String] = []
            if have.durable != want.durable { differences.append("durable \(have.durable), want \(want.durable)") }
            if have.autoDelete != want.autoDelete {
                differences.append("auto-delete \(have.autoDelete), want \(want.autoDelete)")
            }
            if !have.arguments.sameValues(as: want.arguments) {
                differences.append("arguments \(table(have.arguments)), want \(table(want.arguments))")
            }
            if !differences.isEmpty {
                drift.append(.init(kind: .different, object: object, detail: differences.joined(separator: "; ")))
            }
        }

        func same(_ a: Binding, _ b: Binding) -> Bool {
            a.source == b.source && a.queue == b.queue && a.routingKey == b.routingKey
                && a.arguments.sameValues(as: b.arguments)
        }
        let liveBindingsByQueue = Dictionary(grouping: live.bindings, by: \.queue)
        for want in bindings where !(liveBindingsByQueue[want.queue] ?? []).contains(where: { same($0, want) }) {
            drift.append(.init(kind: .missing, object: "binding \(want)", detail: ""))
        }

        let livePolicies = Dictionary(live.policies.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for want in policies {
            let object = "policy \(want.name)"
            guard let have = livePolicies[want.name] else {
                drift.append(.init(kind: .missing, object: object, detail: ""))
                continue
            }
            var differences: [String] = []
            if have.pattern != want.pattern { differences.append("pattern '\(have.pattern)', want '\(want.pattern)'") }
            if have.applyTo != want.applyTo { differences.append("apply-to \(have.applyTo), want \(want.applyTo)") }
            if have.priority != want.priority { differences.append("priority \(have.priority), want \(want.priority)") }
            if !have.definition.sameValues(as: want.definition) {
                differences.append("definition \(table(have.definition)), want \(table(want.definition))")
            }
            if !differences.isEmpty {
                drift.append(.init(kind: .different, object: object, detail: differences.joined(separator: "; ")))
            }
        }

        let wantedExchanges = Set(exchanges.map(\.name))
        let wantedQueues = Set(queues.map(\.name))
        let wantedPolicies = Set(policies.map(\.name))
        for exchange in live.exchanges where owned(exchange.name) && !wantedExchanges.contains(exchange.name) {
            drift.append(.init(kind: .unexpected, object: "exchange \(exchange.name)", detail: ""))
        }
        for queue in live.queues where owned(queue.name) && !wantedQueues.contains(queue.name) {
            drift.append(.init(kind: .unexpected, object: "queue \(queue.name)", detail: ""))
        }
        for policy in live.policies where owned(policy.name) && !wantedPolicies.contains(policy.name) {
            drift.append(.init(kind: .unexpected, object: "policy \(policy.name)", detail: ""))
        }
        for binding in live.bindings where wantedQueues.contains(binding.queue)
            && !bindings.contains(where: { same($0, binding) })
        {
            drift.append(.init(kind: .unexpected, object: "binding \(binding)", detail: ""))
        }
        return drift
    }
}
