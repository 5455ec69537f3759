public import ServiceLifecycle

extension AMQPConnection: Service {
    /// Holds the connection open for the life of a `ServiceGroup` and closes it on
    /// graceful shutdown (or cancellation), after outstanding confirms.
    public func run() async {
        try? await gracefulShutdown()
        await close()
    }
}
