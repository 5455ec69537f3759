public import SwitchboardAMQP
public import Tracing

/// W3C trace context (`traceparent`, `tracestate`) in AMQP headers, so one trace follows
/// a message across the broker: what a publisher injects, the consumer extracts.
public struct AMQPHeaderInjector: Injector {
    public init() {}

    public func inject(_ value: String, forKey key: String, into carrier: inout AMQPTable) {
        carrier[key] = .string(value)
    }
}

/// Reads what `AMQPHeaderInjector` wrote.
public struct AMQPHeaderExtractor: Extractor {
    public init() {}

    public func extract(key: String, from carrier: AMQPTable) -> String? {
        carrier[key]?.stringValue
    }
}

extension AMQPMessageProperties {
    /// Adds the current span's context to the headers (nothing without a tracer).
    public mutating func injectTraceContext(_ tracer: (any Tracer)?) {
        guard let tracer, let context = ServiceContext.current else { return }
        var headers = self.headers ?? [:]
        tracer.inject(context, into: &headers, using: AMQPHeaderInjector())
        self.headers = headers
    }
}

extension AMQPDelivery {
    /// The trace context its publisher sent, to continue its trace (a new one when absent).
    public func traceContext(_ tracer: any Tracer) -> ServiceContext {
        var context = ServiceContext.topLevel
        tracer.extract(headers, into: &context, using: AMQPHeaderExtractor())
        return context
    }
}
