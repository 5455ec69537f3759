import Hummingbird
public import Logging
import ServiceLifecycle

/// The simulator running inside another program (a test, a benchmark) on the
/// configured port (0: any free one), stopped gracefully with its webhook sender.
/// Services use `switchboard serve simulator` instead, which adds signal handling.
public final class EmbeddedSimulator: Sendable {
    /// The port it listens on.
    public let port: Int
    /// Sessions, behaviour, the record and counters, for direct use alongside HTTP.
    public let state: SimulatorState
    private let group: ServiceGroup
    private let running: Task<Void, any Error>

    /// `http://127.0.0.1:<port>`: where providers' base URLs point in tests.
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    private init(port: Int, state: SimulatorState, group: ServiceGroup, running: Task<Void, any Error>) {
        self.port = port
        self.state = state
        self.group = group
        self.running = running
    }

    /// Starts the simulator on `state` (a new one by default; its default behaviour
    /// becomes `configuration.defaults`) and returns once it listens.
    public static func start(_ configuration: SimulatorServer.Configuration = SimulatorServer.Configuration(port: 0),
                             state: SimulatorState = SimulatorState(), logger: Logger) async throws
        -> EmbeddedSimulator
    {
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let application = SimulatorServer.application(configuration, state: state, logger: logger) { port in
            portContinuation.yield(port)
            portContinuation.finish()
        }
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: [application], gracefulShutdownSignals: [], logger: logger))
        let running = Task {
            // A server that cannot bind ends the group: end the wait for a port too, so
            // the error surfaces instead of a hang.
            defer { portContinuation.finish() }
            try await group.run()
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else {
            running.cancel()
            try await running.value
            throw CancellationError()
        }
        return EmbeddedSimulator(port: port, state: state, group: group, running: running)
    }

    /// Stops accepting connections, lets requests in flight finish, cancels webhooks
    /// not yet delivered, shuts the webhook client down, and returns.
    public func stop() async throws {
        await group.triggerGracefulShutdown()
        try await running.value
    }
}
