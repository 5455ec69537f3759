import Hummingbird
public import Logging
import ServiceLifecycle

/// The api service running inside another program (a benchmark, a test) on the
/// configured port (0: any free one), stopped gracefully. Services use `switchboard
/// serve api` instead, which adds signal handling.
public final class EmbeddedAPIServer: Sendable {
    /// The port it listens on.
    public let port: Int
    private let group: ServiceGroup
    private let running: Task<Void, any Error>

    private init(port: Int, group: ServiceGroup, running: Task<Void, any Error>) {
        self.port = port
        self.group = group
        self.running = running
    }

    public static func start(_ configuration: APIServer.Configuration, _ dependencies: APIServer.Dependencies,
                             logger: Logger) async throws -> EmbeddedAPIServer {
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let application = APIServer.application(configuration, dependencies, logger: logger) { port in
            portContinuation.yield(port)
            portContinuation.finish()
        }
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: [application], gracefulShutdownSignals: [], logger: logger))
        let running = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else {
            running.cancel()
            try await running.value
            throw CancellationError()
        }
        return EmbeddedAPIServer(port: port, group: group, running: running)
    }

    /// Stops accepting connections, lets requests in flight finish, and returns.
    public func stop() async throws {
        await group.triggerGracefulShutdown()
        try await running.value
    }
}
