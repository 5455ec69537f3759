/// Concrete RabbitMQ objects in one virtual host: what the topology asks for (for the
/// global objects and a set of tenants), or what a live broker has. Both sides of
/// `apply`, `verify` and `export`.
public struct BrokerObjects: Sendable, Hashable {
    /// An exchange as RabbitMQ describes it.
    public struct Exchange: Sendable, Hashable {
        public var name: String
        public var type: String
        public var durable: Bool
        public var autoDelete: Bool
        public var `internal`: Bool
        public var arguments: TopologyTable

        public init(name: String, type: String, durable: Bool = true, autoDelete: Bool = false,
                    internal: Bool = false, arguments: TopologyTable = [:]) {
            self.name = name
            self.type = type
            self.durable = durable
            self.autoDelete = autoDelete
            self.internal = `internal`
            self.arguments = arguments
        }
    }

    /// A queue as RabbitMQ describes it.
    public struct Queue: Sendable, Hashable {
        public var name: String
        public var durable: Bool
        public var autoDelete: Bool
        public var arguments: TopologyTable

        public init(name: String, durable: Bool = true, autoDelete: Bool = false, arguments: TopologyTable = [:]) {
            self.name = name
            self.durable = durable
            self.autoDelete = autoDelete
            self.arguments = arguments
        }
    }

    /// A binding from an exchange to a queue.
    public struct Binding: Sendable, Hashable, CustomStringConvertible {
        public var source: String
        public var queue: String
        public var routingKey: String
        public var arguments: TopologyTable

        public init(source: String, queue: String, routingKey: String, arguments: TopologyTable = [:]) {
            self.source = source
            self.queue = queue
            self.routingKey = routingKey
            self.arguments = arguments
        }

        public var description: String {
            let arguments = self.arguments.isEmpty ? ""
                : " {" + self.arguments.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
                    .joined(separator: ", ") + "}"
            return "\(source) → \(queue) key '\(routingKey)'\(arguments)"
        }
    }

    /// A policy as RabbitMQ describes it.
    public struct Policy: Sendable, Hashable {
        public var name: String
        public var pattern: String
        public var applyTo: String
        public var priority: Int
        public var definition: TopologyTable

        public init(name: String, pattern: String, applyTo: String, priority: Int, definition: TopologyTable) {
            self.name = name
            self.pattern = pattern
            self.applyTo = applyTo
            self.priority = priority
            self.definition = definition
        }

        /// Same pattern, target, priority and definition (numbers compared by value).
        public func sameSettings(as other: Policy) -> Bool {
            pattern == other.pattern && applyTo == other.applyTo && priority == other.priority
                && definition.sameValues(as: other.definition)
        }
    }

    public var exchanges: [Exchange] = []
    public var queues: [Queue] = []
    public var bindings: [Binding] = []
    public var policies: [Policy] = []

    public init(exchanges: [Exchange] = [], queues: [Queue] = [], bindings: [Binding] = [], policies: [Policy] = []) {
        self.exchanges = exchanges
        self.queues = queues
        self.bindings = bindings
        self.policies = policies
    }

    public mutating func append(_ other: BrokerObjects) {
        exchanges += other.exchanges
        queues += other.queues
        bindings += other.bindings
        policies += other.policies
    }
}

/// A tenant as the broker needs to know it: its id and optional backlog quota.
public struct TenantProvision: Sendable, Hashable {
    public var id: TenantID
    /// Ready messages the tenant's queue may hold; past it publishes are nacked.
    public var backlogQuota: Int?

    public init(id: TenantID, backlogQuota: Int? = nil) {
        self.id = id
        self.backlogQuota = backlogQuota
    }
}

extension Topology {
    /// The global objects: exchanges, fixed queues, retry tiers, policies.
    public var globalObjects: BrokerObjects {
        var objects = BrokerObjects()
        objects.exchanges = exchanges.map {
            .init(name: $0.name, type: $0.type, durable: $0.durable, autoDelete: $0.autoDelete, internal: $0.internal,
                  arguments: $0.arguments)
        }
        for queue in queues {
            objects.queues.append(.init(name: queue.name, durable: queue.durable, arguments: queue.arguments))
            objects.bindings += queue.bindings.map {
                .init(source: $0.exchange, queue: queue.name, routingKey: $0.key, arguments: $0.arguments)
            }
        }
        for tier in retry.tiers {
            let name = retryQueue(tier)
            // No dead-letter routing key: an expired message keeps its original key.
            objects.queues.append(.init(name: name, arguments: [
                "x-message-ttl": .int(tier.milliseconds),
                "x-dead-letter-exchange": .string(retry.deadLetterExchange),
            ]))
            objects.bindings.append(.init(source: retry.exchange, queue: name, routingKey: "", arguments: [
                "x-match": "all", retry.header: .string(tier.name),
            ]))
        }
        objects.policies = policies.map {
            .init(name: $0.name, pattern: $0.pattern, applyTo: $0.applyTo, priority: $0.priority,
                  definition: $0.definition)
        }
        return objects
    }

    /// One tenant's queue, bindings and (with a quota) its quota policy.
    public func objects(for tenant: TenantProvision) -> BrokerObjects {
        var objects = BrokerObjects()
        let queue = tenantQueue(tenant.id)
        objects.queues = [.init(name: queue, arguments: self.tenant.arguments)]
        objects.bindings = self.tenant.bindings.map {
            .init(source: $0.exchange, queue: queue, routingKey: fill($0.key, tenant.id), arguments: $0.arguments)
        }
        if let quota = tenant.backlogQuota {
            objects.policies = [quotaPolicy(for: tenant.id, quota: quota)]
        }
        return objects
    }

    /// Everything for the global objects and `tenants`.
    public func objects(tenants: [TenantProvision]) -> BrokerObjects {
        var objects = globalObjects
        for tenant in tenants { objects.append(self.objects(for: tenant)) }
        return objects
    }

    public func tenantQueue(_ tenant: TenantID) -> String { fill(self.tenant.queue, tenant) }

    public func retryQueue(_ tier: RetryTier) -> String {
        retry.queue.replacingOccurrences(of: "{tier}", with: tier.name)
    }

    public func quotaPolicyName(_ tenant: TenantID) -> String { fill(self.tenant.backlogQuota.policy, tenant) }

    /// The tenant's quota policy: its base policy's definition, the quota template's,
    /// and `max-length`, matching exactly the tenant's queue.
    public func quotaPolicy(for tenant: TenantID, quota: Int) -> BrokerObjects.Policy {
        let template = self.tenant.backlogQuota
        var definition = policies.first { $0.name == template.extends }?.definition ?? [:]
        definition.merge(template.definition) { _, new in new }
        definition["max-length"] = .int(Int64(quota))
        return .init(name: quotaPolicyName(tenant), pattern: "^\(Self.regexEscaped(tenantQueue(tenant)))$",
                     applyTo: "queues", priority: template.priority, definition: definition)
    }

    /// The tenant whose queue this is, if it is a tenant queue.
    public func tenant(ofQueue name: String) -> TenantID? {
        let parts = tenant.queue.components(separatedBy: "{tenant}")
        guard parts.count == 2, name.hasPrefix(parts[0]), name.hasSuffix(parts[1]),
              name.count > parts[0].count + parts[1].count
        else { return nil }
        return try? TenantID(String(name.dropFirst(parts[0].count).dropLast(parts[1].count)))
    }

    private func fill(_ template: String, _ tenant: TenantID) -> String {
        template.replacingOccurrences(of: "{tenant}", with: tenant.rawValue)
    }

    static func regexEscaped(_ literal: String) -> String {
        var escaped = ""
        for character in literal {
            if "\\^$.|?*+()[]{}".contains(character) { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }
}

import Foundation
