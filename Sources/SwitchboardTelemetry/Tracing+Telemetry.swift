import Foundation
public import OTel
public import ServiceLifecycle
public import Tracing

/// Where a process's spans go, when tracing is on: a tracer the services start spans
/// with, and the service that exports them (run in the process's group, stopped after
/// every service so the last spans are flushed). Off (nil in `Telemetry`) costs nothing:
/// no span is started and no context travels.
public struct TraceExport: Sendable {
    public let tracer: any Tracer
    /// Exports and flushes; nil for a tracer that needs no background work (tests).
    public let service: (any Service)?

    public init(tracer: any Tracer, service: (any Service)?) {
        self.tracer = tracer
        self.service = service
    }

    /// OTLP over HTTP to `endpoint` (`http://collector:4318`, `/v1/traces` appended),
    /// protobuf unless `json`; the standard `OTEL_*` variables may still override. W3C
    /// trace context (`traceparent`) is what travels in AMQP headers.
    public static func otlp(endpoint: String, serviceName: String, json: Bool = false,
                            scheduleDelay: Duration = .seconds(5)) throws -> TraceExport {
        var configuration = OTel.Configuration.default
        configuration.serviceName = serviceName
        configuration.propagators = [.traceContext]
        // A signal's own endpoint is used as given (the OTLP rule): the path is added here.
        configuration.traces.otlpExporter.endpoint = endpoint.hasSuffix("/v1/traces")
            ? endpoint : (endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint) + "/v1/traces"
        configuration.traces.otlpExporter.protocol = json ? .httpJSON : .httpProtobuf
        configuration.traces.batchSpanProcessor.scheduleDelay = scheduleDelay
        configuration.metrics.enabled = false
        configuration.logs.enabled = false
        let (tracer, service) = try OTel.makeTracingBackend(configuration: configuration)
        return TraceExport(tracer: tracer, service: service)
    }
}

/// Spans that cost nothing when tracing is off.
public enum Traces {
    /// Runs `operation` in a span named `name` (a child of `context`, else of the current
    /// span) when `tracer` is set, recording a thrown error on it; runs it bare otherwise.
    public static func span<T, E: Error>(
        _ name: String, tracer: (any Tracer)?, context: InstrumentationContext? = nil, kind: SpanKind = .internal,
        attributes: [String: String] = [:], _ operation: () async throws(E) -> T
    ) async throws(E) -> T {
        guard let tracer else { return try await operation() }
        let result: Result<T, E> = await tracer.withSpan(
            name, context: context ?? InstrumentationContext.current ?? .topLevel, ofKind: kind
        ) { span in
            for (key, value) in attributes { span.attributes[key] = value }
            do throws(E) {
                return .success(try await operation())
            } catch {
                span.recordError(error)
                span.setStatus(SpanStatus(code: .error))
                return .failure(error)
            }
        }
        return try result.get()
    }
}
