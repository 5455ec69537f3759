public import Logging
import Synchronization
public import SwitchboardAMQP
public import SwitchboardCore

/// Makes a broker match the topology and tells how it differs: `apply` declares the
/// exchanges, queues and bindings over AMQP and puts the policies through the
/// management API; `verify` compares; `provision`/`deprovision` do one tenant.
///
/// Everything is idempotent: declarations of what exists change nothing, policies are
/// written only when they differ, and several instances may apply at once.
public struct TopologyApplier: Sendable {
    /// What `apply` did.
    public struct ApplyReport: Sendable, Hashable {
        /// Objects declared (existing ones included: a declaration is idempotent).
        public var declared = 0
        /// Objects that did not exist before and do now.
        public var created: [String] = []
        /// Policies written because they were missing or different.
        public var policiesWritten: [String] = []
        /// Queues that existed with other arguments (e.g. a classic queue the topology now
        /// declares as a quorum queue), were empty and unused, and were declared anew.
        public var replaced: [String] = []

        public var changedNothing: Bool { created.isEmpty && policiesWritten.isEmpty && replaced.isEmpty }
    }

    public let topology: Topology
    public let connection: AMQPConnection
    public let management: RabbitMQManagement
    public let virtualHost: String
    public let logger: Logger
    /// The connections single provisions take turns on: `connection` and the extra ones
    /// given. A declaration is a round trip that holds its connection (librabbitmq does
    /// not pipeline), so concurrent creations proceed side by side only on several.
    private let provisioning: [AMQPConnection]
    private let turn = Turn()

    /// `provisioning`: extra connections (their owner closes them) for concurrent single
    /// provisions.
    public init(topology: Topology, connection: AMQPConnection, management: RabbitMQManagement,
                provisioning: [AMQPConnection] = [], logger: Logger = Logger(label: "switchboard.topology")) {
        self.topology = topology
        self.connection = connection
        self.management = management
        self.virtualHost = connection.configuration.virtualHost
        self.provisioning = [connection] + provisioning
        self.logger = logger
    }

    /// Hands out 0, 1, 2, … to concurrent callers.
    private final class Turn: Sendable {
        private let next = Atomic<Int>(0)

        func take(modulo count: Int) -> Int {
            next.add(1, ordering: .relaxed).oldValue % count
        }
    }

    // MARK: Apply and verify

    /// Declares the global topology and `tenants`, and writes the policies that differ.
    /// Throws `applyFailed` with every object that could not be made to match (for
    /// instance a queue that exists with other arguments), after trying all of them.
    ///
    /// With `replacingEmptyQueues`, a queue that exists with other arguments (tenant
    /// queues found on the broker included) is deleted and declared again when the broker
    /// finds it empty and without consumers (the delete carries if-empty and if-unused,
    /// so nothing queued can be lost); a queue holding messages still fails, to be
    /// drained first.
    @discardableResult
    public func apply(tenants: [TenantProvision] = [], replacingEmptyQueues: Bool = false) async throws(BrokerError)
        -> ApplyReport
    {
        let before = try await management.snapshot(virtualHost: virtualHost)
        // Replacing covers the tenant queues already on the broker too (declared from an
        // older template); their quota policies are written as they are.
        let desired = topology.objects(tenants: replacingEmptyQueues
            ? provisions(of: tenants.map(\.id), foundIn: before).map { found in
                tenants.first { $0.id == found.id } ?? found
            }
            : tenants)
        var report = ApplyReport()
        var failures: [String] = []
        let existingExchanges = Set(before.exchanges.map(\.name))
        let existingQueues = Set(before.queues.map(\.name))

        // Policies first, so no queue exists even briefly without its dead-letter exchange.
        let livePolicies = Dictionary(before.policies.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for policy in desired.policies where livePolicies[policy.name].map(policy.sameSettings(as:)) != true {
            do {
                try await management.put(policy, virtualHost: virtualHost)
                report.policiesWritten.append(policy.name)
            } catch {
                failures.append("policy \(policy.name): \(error)")
            }
        }
        for exchange in desired.exchanges {
            do {
                try await connection.declareExchange(exchange.amqp)
                report.declared += 1
                if !existingExchanges.contains(exchange.name) { report.created.append("exchange \(exchange.name)") }
            } catch {
                failures.append("exchange \(exchange.name): \(error.message)")
            }
        }
        for queue in desired.queues {
            do {
                try await connection.declareQueue(queue.amqp)
                report.declared += 1
                if !existingQueues.contains(queue.name) { report.created.append("queue \(queue.name)") }
            } catch where error.code == .preconditionFailed && replacingEmptyQueues {
                do {
                    _ = try await connection.deleteQueue(queue.name, ifUnused: true, ifEmpty: true)
                    try await connection.declareQueue(queue.amqp)
                    report.declared += 1
                    report.replaced.append("queue \(queue.name)")
                    logger.notice("queue declared anew with the topology's arguments", metadata: [
                        LogKey.vhost: "\(virtualHost)", LogKey.queue: "\(queue.name)", LogKey.was: "\(error.message)",
                    ])
                } catch {
                    failures.append("queue \(queue.name): differs from the topology and cannot be replaced "
                        + "(drain it and stop its consumers first): \(error.message)")
                }
            } catch {
                failures.append("queue \(queue.name): \(error.message)")
            }
        }
        let missingBindings = Set(desired.drift(from: before).filter { $0.kind == .missing && $0.object.hasPrefix("binding ") }
            .map(\.object))
        for binding in desired.bindings {
            do {
                try await connection.bind(binding.amqp)
                report.declared += 1
                if missingBindings.contains("binding \(binding)") { report.created.append("binding \(binding)") }
            } catch {
                failures.append("binding \(binding): \(error.message)")
            }
        }
        logger.info("topology applied", metadata: [
            LogKey.vhost: "\(virtualHost)", LogKey.declared: "\(report.declared)", LogKey.created: "\(report.created.count)",
            LogKey.policiesWritten: "\(report.policiesWritten.count)", LogKey.replaced: "\(report.replaced.count)",
            LogKey.failures: "\(failures.count)",
        ])
        guard failures.isEmpty else { throw .applyFailed(failures) }
        return report
    }

    /// How the broker differs from the topology. Tenant queues found on the broker are
    /// checked against the tenant template (with the quota their policy carries);
    /// `tenants` must exist as well.
    public func verify(tenants: [TenantID] = []) async throws(BrokerError) -> [TopologyDrift] {
        let live = try await management.snapshot(virtualHost: virtualHost)
        return topology.objects(tenants: provisions(of: tenants, foundIn: live)).drift(from: live)
    }

    /// `tenants` and every tenant whose queue is on the broker, each with the backlog
    /// quota its policy carries there.
    private func provisions(of tenants: [TenantID], foundIn live: BrokerObjects) -> [TenantProvision] {
        let discovered = live.queues.compactMap { topology.tenant(ofQueue: $0.name) }
        let policies = Dictionary(live.policies.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        return Set(discovered + tenants).sorted().map { tenant in
            let quota = policies[topology.quotaPolicyName(tenant)]?.definition["max-length"]
            if case .int(let n)? = quota { return TenantProvision(id: tenant, backlogQuota: Int(n)) }
            return TenantProvision(id: tenant)
        }
    }

    // MARK: Tenants

    /// Declares the tenant's queue and bindings and sets (or clears) its quota policy.
    /// `new`: the tenant is being created (the store has no such tenant), so it has no
    /// quota policy to compare with or clear (deprovisioning removed it before the
    /// tenant's row could go): its policy is only written, without reading first.
    public func provision(_ tenant: TenantProvision, new: Bool = false) async throws(BrokerError) {
        try await provision([tenant], new: new)
    }

    /// Provisions many tenants: one read of the live policies (of its one policy, for a
    /// single tenant; none when they are `new`), then per tenant its quota policy where
    /// it changed, its queue and its bindings.
    ///
    /// Each declaration is a synchronous round trip that the broker takes milliseconds
    /// to answer (a durable priority queue), and librabbitmq cannot pipeline them on a
    /// channel; the broker does serve several connections at once. So a large batch is
    /// spread over up to `parallelism` connections (this one plus short-lived ones).
    public func provision(_ tenants: [TenantProvision], new: Bool = false, parallelism: Int = 16)
        async throws(BrokerError)
    {
        // Only the policies are compared: listing every queue and binding of a vhost that
        // holds ten thousand tenants would cost more than the provisioning itself.
        let livePolicies: [BrokerObjects.Policy]
        if new {
            livePolicies = []
        } else if tenants.count == 1 {
            let name = topology.quotaPolicyName(tenants[0].id)
            livePolicies = try await management.policy(named: name, virtualHost: virtualHost).map { [$0] } ?? []
        } else {
            livePolicies = try await management.policies(virtualHost: virtualHost)
        }
        let policiesByName = Dictionary(livePolicies.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let lanes = max(1, min(parallelism, tenants.count / 16))
        if lanes == 1 {
            let connection = provisioning[turn.take(modulo: provisioning.count)]
            try await provision(tenants, over: connection, policies: policiesByName)
        } else {
            do {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for lane in 0..<lanes {
                        let share = stride(from: lane, to: tenants.count, by: lanes).map { tenants[$0] }
                        group.addTask {
                            if lane == 0 {
                                try await self.provision(share, over: self.connection, policies: policiesByName)
                                return
                            }
                            var configuration = self.connection.configuration
                            configuration.connectionName += "-provision-\(lane)"
                            let extra = try await AMQPConnection.connect(configuration, logger: self.logger)
                            do {
                                try await self.provision(share, over: extra, policies: policiesByName)
                                await extra.close()
                            } catch {
                                await extra.close()
                                throw error
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            } catch let error as BrokerError {
                throw error
            } catch let error as AMQPError {
                throw .amqp(error)
            } catch {
                throw .management(status: nil, "\(error)")
            }
        }
        logger.info("tenants provisioned", metadata: [
            LogKey.count: "\(tenants.count)", LogKey.vhost: "\(virtualHost)", LogKey.connections: "\(lanes)",
        ])
    }

    private func provision(_ tenants: [TenantProvision], over connection: AMQPConnection,
                           policies policiesByName: [String: BrokerObjects.Policy]) async throws(BrokerError) {
        for tenant in tenants {
            let objects = topology.objects(for: tenant)
            // The quota policy first: a new queue is born with it instead of picking it
            // up a moment later.
            let policyName = topology.quotaPolicyName(tenant.id)
            if let policy = objects.policies.first {
                if policiesByName[policyName].map(policy.sameSettings(as:)) != true {
                    try await management.put(policy, virtualHost: virtualHost)
                }
            } else if policiesByName[policyName] != nil {
                try await management.deletePolicy(policyName, virtualHost: virtualHost)
            }
            do {
                for queue in objects.queues { try await connection.declareQueue(queue.amqp) }
                for binding in objects.bindings { try await connection.bind(binding.amqp) }
            } catch {
                throw .amqp(error)
            }
            logger.debug("tenant provisioned", metadata: [
                LogKey.tenant: "\(tenant.id)", LogKey.backlogQuota: "\(tenant.backlogQuota.map(String.init) ?? "none")",
            ])
        }
    }

    /// Deletes the tenant's queue (refusing, unless `force`, while it holds ready
    /// messages or has consumers, whose unacknowledged messages would be dropped) and its
    /// quota policy. A tenant that is already gone is not an error.
    public func deprovision(_ tenant: TenantID, force: Bool = false) async throws(BrokerError) {
        let queue = topology.tenantQueue(tenant)
        func refusal(_ state: AMQPQueueState) -> BrokerError? {
            if state.messageCount > 0 { return .tenantQueueNotEmpty(tenant, messages: state.messageCount) }
            if state.consumerCount > 0 { return .tenantQueueInUse(tenant, consumers: state.consumerCount) }
            return nil
        }
        do {
            let state = try await connection.inspectQueue(queue)
            if !force, let refusal = refusal(state) { throw refusal }
            // if-empty and if-unused make the broker refuse atomically what arrived after the check.
            try await connection.deleteQueue(queue, ifUnused: !force, ifEmpty: !force)
        } catch let error as BrokerError {
            throw error
        } catch let error as AMQPError where error.code == .notFound {
            // Already gone.
        } catch let error as AMQPError where error.code == .preconditionFailed {
            let state = try? await connection.inspectQueue(queue)
            throw state.flatMap(refusal) ?? .amqp(error)
        } catch let error as AMQPError {
            throw .amqp(error)
        } catch {
            throw .management(status: nil, "\(error)")
        }
        try await management.deletePolicy(topology.quotaPolicyName(tenant), virtualHost: virtualHost)
        logger.info("tenant deprovisioned", metadata: [LogKey.tenant: "\(tenant)", LogKey.forced: "\(force)"])
    }
}

// MARK: Topology values as AMQP arguments

extension TopologyValue {
    var amqp: AMQPFieldValue {
        switch self {
        case .string(let s): .string(s)
        case .int(let i): .int64(i)
        case .bool(let b): .bool(b)
        case .double(let d): .double(d)
        }
    }
}

extension TopologyTable {
    var amqp: AMQPTable { mapValues(\.amqp) }
}

extension BrokerObjects.Exchange {
    var amqp: AMQPExchangeDeclaration {
        AMQPExchangeDeclaration(name: name, kind: AMQPExchangeKind(type), durable: durable, autoDelete: autoDelete,
                                isInternal: self.internal, arguments: arguments.amqp)
    }
}

extension BrokerObjects.Queue {
    var amqp: AMQPQueueDeclaration {
        AMQPQueueDeclaration(name: name, durable: durable, autoDelete: autoDelete, arguments: arguments.amqp)
    }
}

extension BrokerObjects.Binding {
    var amqp: AMQPBinding {
        AMQPBinding(exchange: source, queue: queue, routingKey: routingKey, arguments: arguments.amqp)
    }
}
