import ArgumentParser
import Foundation
import Logging
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
        @Flag(help: "Delete and declare again a queue that exists with other arguments (say, classic where the topology now wants quorum), when it is empty and has no consumers; a queue holding messages still fails.")
        var replaceEmpty = false

        func run() async throws {
            let replaceEmpty = replaceEmpty
            let report = try await withApplier(amqp, topology, logging, label: "switchboard.topology") {
                try await $0.apply(replacingEmptyQueues: replaceEmpty)
            }
            print("applied: \(report.declared) declarations, \(report.created.count) created, "
                + "\(report.policiesWritten.count) policies written, \(report.replaced.count) replaced")
            for object in report.created { print("  created \(object)") }
            for object in report.replaced { print("  replaced \(object)") }
            for policy in report.policiesWritten { print("  wrote policy \(policy)") }
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
            let required = try tenants.map(TenantID.init)
            let (drift, vhost) = try await withApplier(amqp, topology, logging, label: "switchboard.topology") {
                (try await $0.verify(tenants: required), $0.virtualHost)
            }
            for item in drift { print(item) }
            let failing = drift.filter(\.isDrift).count
            if failing > 0 {
                print("drift: \(failing) difference(s) in vhost \(vhost)")
                throw ExitCode(1)
            }
            print("no drift in vhost \(vhost)")
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
        abstract: "Create, list or delete tenants; provision or deprovision their broker objects.",
        subcommands: [Create.self, List.self, Delete.self, Import.self, Provision.self, Deprovision.self]
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
            let provision = TenantProvision(id: try TenantID(tenant), backlogQuota: backlogQuota)
            let queue = try await withApplier(amqp, topology, logging, label: "switchboard.tenant") {
                try await $0.provision(provision)
                return $0.topology.tenantQueue(provision.id)
            }
            print("provisioned \(tenant): queue \(queue)")
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
            let id = try TenantID(tenant)
            try await withApplier(amqp, topology, logging, label: "switchboard.tenant") {
                try await $0.deprovision(id, force: force)
            }
            print("deprovisioned \(tenant)")
        }
    }
}

/// Runs `body` with a `TopologyApplier` on a connection of its own, closed afterwards
/// whether `body` succeeds or not.
func withApplier<T>(_ amqp: AMQPOptions, _ topology: TopologyOptions, _ logging: LoggingOptions, label: String,
                    _ body: (TopologyApplier) async throws -> T) async throws -> T {
    let logger = logging.makeLogger(label: label)
    let definition = try topology.load()
    let management = try topology.management()
    let connection = try await AMQPConnection.connect(
        try amqp.configuration(connectionName: label.replacingOccurrences(of: ".", with: "-")), logger: logger)
    let applier = TopologyApplier(topology: definition, connection: connection, management: management, logger: logger)
    do {
        let result = try await body(applier)
        await connection.close()
        return result
    } catch {
        await connection.close()
        throw error
    }
}

extension TopologyApplier {
    /// Announces registry changes made from the command line on the applier's connection.
    func announcer(logger: Logger) -> ControlAnnouncer {
        ControlAnnouncer(publisher: connection, exchange: topology.roles.control, logger: logger)
    }
}
