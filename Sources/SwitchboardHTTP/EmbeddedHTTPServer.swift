public import Hummingbird
public import Logging
public import ServiceLifecycle

/// An HTTP service running inside another program (a benchmark, a test) on its
/// configured port (0: any free one), stopped gracefully. Services run under `switchboard
/// serve …` instead, which adds signal handling.
public final class EmbeddedHTTPServer: Sendable {
    /// The port it listens on.
    public let port: Int
    private let group: ServiceGroup
    private let running: Task<Void, any Error>

    private init(port: Int, group: ServiceGroup, running: Task<Void, any Error>) {
        self.port = port
        self.group = group
        self.running = running
    }

    /// Starts the application `make` builds (handing it the callback that reports the
    /// bound port) beside `companions` (services it needs running, e.g. a directory's
    /// refresher), and returns once it listens.
    public static func start<App: ApplicationProtocol>(
        logger: Logger, companions: [any Service] = [],
        _ make: (@escaping @Sendable (Int) async -> Void) -> App
    ) async throws -> EmbeddedHTTPServer {
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let application = make { port in
            portContinuation.yield(port)
            portContinuation.finish()
        }
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: companions + [application], gracefulShutdownSignals: [], logger: logger))
        let running = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else {
            running.cancel()
            try await running.value
            throw CancellationError()
        }
        return EmbeddedHTTPServer(port: port, group: group, running: running)
    }

    /// Stops accepting connections, lets requests in flight finish, and returns.
    public func stop() async throws {
        await group.triggerGracefulShutdown()
        try await running.value
    }
}
