import ArgumentParser

/// The one Switchboard executable: services, operations and benchmarks as subcommands.
@main
struct Switchboard: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchboard",
        abstract: "A multi-tenant WhatsApp gateway wired through RabbitMQ.",
        subcommands: [ServeCommand.self, SendCommand.self, BrokerCommand.self, TopologyCommand.self, TenantCommand.self,
                      SessionCommand.self, KeyCommand.self, BenchCommand.self]
    )
}
