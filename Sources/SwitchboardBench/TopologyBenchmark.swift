import Foundation
public import Logging
public import SwitchboardAMQP
public import SwitchboardBroker
public import SwitchboardCore

/// `switchboard bench topology`: applies the topology in a scratch virtual host,
/// provisions N tenants, applies again (which must change nothing), verifies, and
/// deletes the virtual host.
public struct TopologyBenchmark: Sendable {
    public struct Report: BenchReport {
        public let scenario = "topology"
        public let tenants: Int
        public let provisionSeconds: Double
        public let tenantsPerSecond: Double
        public let reapplySeconds: Double
        public let reapplyChangedNothing: Bool
        public let verifySeconds: Double
        public let drift: Int

        public var summary: [String] {
            [
                "topology: \(tenants) tenants provisioned in a scratch vhost",
                String(format: "  provision:  %.2f s  (%.0f tenants/s)", provisionSeconds, tenantsPerSecond),
                String(format: "  re-apply:   %.2f s, changed nothing: %@", reapplySeconds,
                       reapplyChangedNothing ? "yes" : "NO"),
                String(format: "  verify:     %.2f s, drift: %d", verifySeconds, drift),
            ]
        }
    }

    public let configuration: AMQPConfiguration
    public let management: RabbitMQManagement
    public let topology: Topology
    public let tenants: Int
    public let logger: Logger

    public init(configuration: AMQPConfiguration, management: RabbitMQManagement, topology: Topology, tenants: Int,
                logger: Logger) {
        self.configuration = configuration
        self.management = management
        self.topology = topology
        self.tenants = tenants
        self.logger = logger
    }

    public func run() async throws -> Report {
        try await BenchScratch.with(configuration, management: management) { scratch in
            try await scratch.withConnection("bench-topology", logger: logger) { try await measure(over: $0) }
        }
    }

    private func measure(over connection: AMQPConnection) async throws -> Report {
        let applier = TopologyApplier(topology: topology, connection: connection, management: management,
                                      logger: logger)
        try await applier.apply()
        let provisions = try (0..<tenants).map { TenantProvision(id: try TenantID("bench-\($0)")) }

        let clock = ContinuousClock()
        let started = clock.now
        try await applier.provision(provisions)
        let provisioned = clock.now
        let again = try await applier.apply(tenants: provisions)
        let reapplied = clock.now
        let drift = try await applier.verify().filter(\.isDrift)
        let verified = clock.now

        let provisionSeconds = (provisioned - started).seconds
        return Report(
            tenants: tenants, provisionSeconds: provisionSeconds, tenantsPerSecond: Double(tenants) / provisionSeconds,
            reapplySeconds: (reapplied - provisioned).seconds, reapplyChangedNothing: again.changedNothing,
            verifySeconds: (verified - reapplied).seconds, drift: drift.count)
    }
}
