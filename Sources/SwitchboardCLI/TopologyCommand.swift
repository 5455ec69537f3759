import ArgumentParser
import Foundation
import SwitchboardAMQP
import SwitchboardBroker
import SwitchboardCore

/// `switchboard topology …`: the broker's topology from `Topology/topology.yaml`.
struct TopologyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topology",
        abstract: "Apply, verify or export the RabbitMQ topology.",
        subcommands: [Apply.self, Verify.self, Export.self]
    )

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Declare every exchange, queue, binding and policy (idempotent; safe to run concurrently).")

        @OptionGroup var amqp: AMQPOptions
        @OptionGroup var topology: TopologyOptions
        @OptionGroup var logging: LoggingOptions

        func run() async throws {
            let logger = logging.makeLogger(label: "switchboard.topology")
            let connection = try await AMQPConnection.connect(
                try amqp.configuration(connectionName: "switchboard-topology"), logger: logger)
            let applier = TopologyApplier(topology: try topology.load(), connection: connection,
                                          management: try topology.management(), logger: logger)
            do {
                let report = try await applier.apply()
                await connection.close()
                print("applied: \(report.declared) declarations, \(report.created.count) created, "
                    + "\(report.policiesWritten.count) policies written")
                for object in report.created { print("  created \(object)") }
                for policy in report.policiesWritten { print("  wrote policy \(policy)") }
            } catch {
                await connection.close()
                throw error
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare the live broker with the topology; exit 1 on drift.")

        @OptionGroup var amqp: AMQPOptions
        @OptionGroup var topology: TopologyOptions
        @OptionGroup var logging: LoggingOptions
        @Option(name: .customLong("tenant"), help: "A tenant whose objects must exist (repeatable).")
        var tenants: [String] = []

        func run() async throws {
            let logger = logging.makeLogger(label: "switchboard.topology")
            let connection = try await AMQPConnection.connect(
                try amqp.configuration(connectionName: "switchboard-topology"), logger: logger)
            let applier = TopologyApplier(topology: try topology.load(), connection: connection,
                                          management: try topology.management(), logger: logger)
            let drift: [TopologyDrift]
            do {
                drift = try await applier.verify(tenants: try tenants.map(TenantID.init))
                await connection.close()
            } catch {
                await connection.close()
                throw error
            }
            for item in drift { print(item) }
            let failing = drift.filter(\.isDrift).count
            if failing > 0 {
                print("drift: \(failing) difference(s) in vhost \(connection.configuration.virtualHost)")
                throw ExitCode(1)
            }
            print("no drift in vhost \(connection.configuration.virtualHost)")
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a definitions file that `rabbitmqctl import_definitions` accepts.")

        @OptionGroup var topology: TopologyOptions
        @Option(name: .customLong("tenant"), help: "Include this tenant's queue and bindings (repeatable).")
        var tenants: [String] = []
        @Option(help: "Virtual host the definitions are for.") var vhost = "/"
        @Option(name: .shortAndLong, help: "Write to this file instead of standard output.") var output: String?

        func run() async throws {
            let provisions = try tenants.map { TenantProvision(id: try TenantID($0)) }
            let definitions = RabbitDefinitions(try topology.load().objects(tenants: provisions), virtualHost: vhost)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let data = try encoder.encode(definitions)
            if let output {
                try data.write(to: URL(fileURLWithPath: output))
            } else {
                FileHandle.standardOutput.write(data)
                print()
            }
        }
    }
}

/// `switchboard tenant …`: a tenant's broker objects. The registry calls the same code.
struct TenantCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tenant",
        abstract: "Provision or deprovision a tenant's queue, bindings and quota.",
        subcommands: [Provision.self, Deprovision.self]
    )

    struct Provision: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Declare the tenant's queue and bindings.")

        @OptionGroup var amqp: AMQPOptions
        @OptionGroup var topology: TopologyOptions
        @OptionGroup var logging: LoggingOptions
        @Argument(help: "Tenant id (lower-case letters, digits, '-').") var tenant: String
        @Option(help: "Ready messages the queue may hold before publishes are refused.") var backlogQuota: Int?

        func validate() throws {
            if let backlogQuota, backlogQuota < 0 { throw ValidationError("--backlog-quota must not be negative") }
        }

        func run() async throws {
            let logger = logging.makeLogger(label: "switchboard.tenant")
            let provision = TenantProvision(id: try TenantID(tenant), backlogQuota: backlogQuota)
            let connection = try await AMQPConnection.connect(
                try amqp.configuration(connectionName: "switchboard-tenant"), logger: logger)
            let applier = TopologyApplier(topology: try topology.load(), connection: connection,
                                          management: try topology.management(), logger: logger)
            do {
                try await applier.provision(provision)
                await connection.close()
            } catch {
                await connection.close()
                throw error
            }
            print("provisioned \(tenant): queue \(applier.topology.tenantQueue(provision.id))")
        }
    }

    struct Deprovision: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete the tenant's queue and quota; refuses while messages are queued unless --force.")

        @OptionGroup var amqp: AMQPOptions
        @OptionGroup var topology: TopologyOptions
        @OptionGroup var logging: LoggingOptions
        @Argument(help: "Tenant id.") var tenant: String
        @Flag(help: "Delete the queue even if it holds messages (they are lost).") var force = false

        func run() async throws {
            let logger = logging.makeLogger(label: "switchboard.tenant")
            let id = try TenantID(tenant)
            let connection = try await AMQPConnection.connect(
                try amqp.configuration(connectionName: "switchboard-tenant"), logger: logger)
            let applier = TopologyApplier(topology: try topology.load(), connection: connection,
                                          management: try topology.management(), logger: logger)
            do {
                try await applier.deprovision(id, force: force)
                await connection.close()
            } catch {
                await connection.close()
                throw error
            }
            print("deprovisioned \(tenant)")
        }
    }
}
