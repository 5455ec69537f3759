public import Logging
public import SwitchboardAMQP
public import SwitchboardBroker
public import SwitchboardCore

/// A benchmark run against a broker and a topology with options of its own: what
/// `switchboard bench <scenario>` builds from its command line.
public protocol ScenarioBenchmark: Sendable {
    associatedtype Options: Sendable
    associatedtype Report: BenchReport

    init(configuration: AMQPConfiguration, management: RabbitMQManagement, topology: Topology, options: Options,
         logger: Logger)
    func run() async throws -> Report
}

extension APIBenchmark: ScenarioBenchmark {}
extension OutboundBenchmark: ScenarioBenchmark {}
extension TenantsBenchmark: ScenarioBenchmark {}
extension GatewayBenchmark: ScenarioBenchmark {}
extension DeadLetterBenchmark: ScenarioBenchmark {}
extension MonitorBenchmark: ScenarioBenchmark {}

extension BenchScratch {
    /// Runs `body` in a scratch virtual host with the topology applied over a connection
    /// named `connectionName` (closed afterwards), given the scratch, that connection and
    /// the applier.
    static func withTopology<T>(_ topology: Topology, base: AMQPConfiguration, management: RabbitMQManagement,
                                connectionName: String, logger: Logger,
                                _ body: (BenchScratch, AMQPConnection, TopologyApplier) async throws -> T)
        async throws -> T
    {
        try await with(base, management: management) { scratch in
            try await scratch.withConnection(connectionName, logger: logger) { connection in
                let applier = TopologyApplier(topology: topology, connection: connection, management: management,
                                              logger: logger)
                try await applier.apply()
                return try await body(scratch, connection, applier)
            }
        }
    }
}
