public import Logging
public import SwitchboardHTTP

/// The api service running inside another program (a benchmark, a test).
public typealias EmbeddedAPIServer = EmbeddedHTTPServer

extension EmbeddedHTTPServer {
    /// Starts the api service on `configuration`'s port (0: any free one).
    public static func start(_ configuration: APIServer.Configuration, _ dependencies: APIServer.Dependencies,
                             logger: Logger) async throws -> EmbeddedHTTPServer {
        try await start(logger: logger) { onRunning in
            APIServer.application(configuration, dependencies, logger: logger, onServerRunning: onRunning)
        }
    }
}
