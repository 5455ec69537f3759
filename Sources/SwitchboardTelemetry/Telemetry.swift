public import CoreMetrics
import Prometheus
import Synchronization
public import Tracing

/// Where one process's metrics go: a Prometheus registry and the swift-metrics factory
/// that writes to it, handed to every service the process runs. One per process in
/// production (`/metrics` shows every service it runs); one per gateway in the tests, so
/// two gateways in one test process keep their figures apart.
public final class Telemetry: Sendable {
    /// What every metric of the gateway is made with.
    public let factory: any MetricsFactory
    /// The gateway's metric families over `factory`.
    public let metrics: GatewayMetrics
    /// Traces, when on (`SWITCHBOARD_OTLP_ENDPOINT`); nil: no span is started.
    public let traces: TraceExport?
    /// The tracer spans start with, when tracing is on.
    public var tracer: (any Tracer)? { traces?.tracer }
    private let registry: PrometheusCollectorRegistry?
    /// Read just before each exposition: figures kept elsewhere (AMQP connections'
    /// counters) copied into their series.
    private let samplers = Mutex<[@Sendable () -> Void]>([])

    private init(factory: any MetricsFactory, registry: PrometheusCollectorRegistry?, traces: TraceExport?) {
        self.factory = factory
        self.registry = registry
        self.traces = traces
        metrics = GatewayMetrics(factory: factory)
    }

    /// Metrics kept for a Prometheus scrape, with the gateway's histogram buckets; spans
    /// exported by `traces` when given.
    public static func prometheus(traces: TraceExport? = nil) -> Telemetry {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = MetricBuckets.fast
        factory.durationHistogramBuckets = MetricBuckets.durations
        factory.valueHistogramBuckets = MetricBuckets.values
        return Telemetry(factory: factory, registry: registry, traces: traces)
    }

    /// No metrics at all (swift-metrics' no-op handlers): what the overhead benchmarks
    /// compare with.
    public static func off(traces: TraceExport? = nil) -> Telemetry {
        Telemetry(factory: NOOPMetricsHandler.instance, registry: nil, traces: traces)
    }

    public var isEnabled: Bool { registry != nil }

    /// Makes this the process-wide swift-metrics backend too, for libraries that record
    /// through the global `MetricsSystem`. Once per process (swift-metrics' rule).
    public func bootstrapProcess() {
        MetricsSystem.bootstrap(factory)
    }

    /// Runs `sample` before every exposition (it copies figures kept elsewhere into series).
    public func addSampler(_ sample: @escaping @Sendable () -> Void) {
        guard isEnabled else { return }
        samplers.withLock { $0.append(sample) }
    }

    /// The Prometheus text exposition (format 0.0.4) of every series; empty when off.
    public func exposition() -> [UInt8] {
        guard let registry else { return [] }
        for sample in samplers.withLock({ $0 }) { sample() }
        return registry.emitToBuffer()
    }

    /// The content type of `exposition()`.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"
}

/// The histogram buckets, by metric: fast steps for calls that take milliseconds, long
/// ones for waits that may take minutes (a bulk message paced behind thousands).
enum MetricBuckets {
    /// HTTP handlers, provider calls, publishes, commits: 0.5 ms to 10 s.
    static let fast: [Duration] = [
        .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
        .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
    ]
    /// Lags and waits: 5 ms to 1 h.
    static let slow: [Duration] = [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
        .seconds(30), .seconds(60), .seconds(300), .seconds(900), .seconds(3600),
    ]
    static let durations: [String: [Duration]] = [
        MetricName.sendLag.rawValue: slow, MetricName.slotWait.rawValue: slow, MetricName.consumerLag.rawValue: slow,
    ]
    static let values: [String: [Double]] = [
        MetricName.storeBatchSize.rawValue: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    ]
}
