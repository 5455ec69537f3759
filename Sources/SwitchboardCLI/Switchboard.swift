import ArgumentParser
import NIOCore
import NIOPosix

/// The one Switchboard executable: services, operations and benchmarks as subcommands.
struct Switchboard: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchboard",
        abstract: "A multi-tenant WhatsApp gateway wired through RabbitMQ.",
        subcommands: [ServeCommand.self, SendCommand.self, BrokerCommand.self, TopologyCommand.self, TenantCommand.self,
                      SessionCommand.self, KeyCommand.self, DeadLettersCommand.self, BenchCommand.self]
    )
}

@main
enum Entry {
    static func main() async {
        // Swift tasks run on the NIO event loops, so a request is not handed between the
        // loop threads and the concurrency pool at every await (fewer thread switches on
        // small machines). It must happen before the first task is scheduled.
        _ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        await Switchboard.main()
    }
}
