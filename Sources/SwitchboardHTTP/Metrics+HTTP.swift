import CoreMetrics
public import HTTPTypes
public import Hummingbird
import Synchronization
public import Logging
import NIOCore
public import SwitchboardTelemetry

/// Counts every request of an HTTP service and times it, by route template (never the
/// raw path: `/v1/tenants/{tenant}`; `unmatched` when no route matched), method and
/// status. Hummingbird's own `MetricsMiddleware` records into the process-global
/// `MetricsSystem`; this one takes the process's `GatewayMetrics`, so two gateways in
/// one test process keep their counts apart. Added first, it sees the status the
/// problem middleware answered with.
public struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let service: String
    let metrics: GatewayMetrics
    /// Each route's series, found with one lookup per request.
    private let series = SeriesCache()

    public init(service: String, metrics: GatewayMetrics) {
        self.service = service
        self.metrics = metrics
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        let start = ContinuousClock.now
        do {
            let response = try await next(request, context)
            record(context.endpointPath, request.method, response.status.code, since: start)
            return response
        } catch {
            record(context.endpointPath, request.method, (error as? any HTTPResponseError)?.status.code ?? 500,
                   since: start)
            throw error
        }
    }

    private func record(_ route: String?, _ method: HTTPRequest.Method, _ status: Int,
                        since start: ContinuousClock.Instant) {
        let key = SeriesCache.Key(route: route ?? "unmatched", method: method, status: status)
        let (requests, duration) = series.series(for: key) {
            (metrics.httpRequests(service, key.route, method.rawValue, String(status)),
             metrics.httpDuration(service, key.route, method.rawValue))
        }
        requests.increment()
        duration.recordSince(start)
    }
}

/// The request series of each route, method and status seen.
private final class SeriesCache: Sendable {
    struct Key: Hashable, Sendable {
        let route: String
        let method: HTTPRequest.Method
        let status: Int
    }

    private let cache = Mutex<[Key: (Counter, CoreMetrics.Timer)]>([:])

    func series(for key: Key, make: () -> (Counter, CoreMetrics.Timer)) -> (Counter, CoreMetrics.Timer) {
        if let found = cache.withLock({ $0[key] }) { return found }
        let made = make()
        cache.withLock { $0[key] = made }
        return made
    }
}

/// `GET /metrics`: the process's series in the Prometheus text format.
public struct MetricsRoute: Sendable {
    let telemetry: Telemetry

    public init(telemetry: Telemetry) {
        self.telemetry = telemetry
    }

    public func addRoutes<Context: RequestContext>(to router: Router<Context>) {
        let telemetry = telemetry
        router.get("metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: Telemetry.contentType],
                     body: ResponseBody(byteBuffer: ByteBuffer(bytes: telemetry.exposition())))
        }
    }
}

/// A listener serving only `/metrics`, `/healthz` and `/readyz`, for a process with no
/// api or webhooks listener (`SWITCHBOARD_METRICS_LISTEN`, `--metrics-listen`): what a
/// worker's probes and scrapes reach.
public enum MetricsServer {
    /// `notReady` answers why the process cannot do its work now (a broker connection
    /// down, the store unreachable), or nil when it can.
    public static func application(host: String, port: Int, telemetry: Telemetry, logger: Logger,
                                   notReady: @escaping @Sendable () async -> String? = { nil },
                                   onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in })
        -> some ApplicationProtocol
    {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: RequestMetricsMiddleware(service: "metrics", metrics: telemetry.metrics))
        MetricsRoute(telemetry: telemetry).addRoutes(to: router)
        router.get("healthz") { _, _ in JSONResponse(value: ["status": "ok"]) }
        router.get("readyz") { _, _ throws(Problem) in
            if let why = await notReady() {
                throw Problem(.serviceUnavailable, kind: "not-ready", title: "Not ready", detail: why,
                              headers: [.retryAfter: "2"])
            }
            return JSONResponse(value: ["status": "ready"])
        }
        return Application(
            router: router,
            configuration: ApplicationConfiguration(address: .hostname(host, port: port),
                                                    serverName: "switchboard-metrics"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) },
            logger: logger)
    }
}
