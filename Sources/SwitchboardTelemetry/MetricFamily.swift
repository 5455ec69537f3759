public import CoreMetrics
import Synchronization

/// The series of one metric, which differ only by their label values. The label names
/// are fixed with the name (Prometheus refuses a family whose series disagree on them);
/// a series is made on first use and kept, so a hot path pays one locked lookup.
///
/// Labels are bounded by design: tenant, session, provider, outcome, route template,
/// queue. Never a phone number, a message id or a raw path.
public final class MetricFamily<Series: Sendable>: Sendable {
    public let name: String
    public let labels: [String]
    private let make: @Sendable (_ dimensions: [(String, String)]) -> Series
    private let destroy: @Sendable (Series) -> Void
    private let series = Mutex<[[String]: Series]>([:])

    init(_ name: String, labels: [String], make: @escaping @Sendable (_ dimensions: [(String, String)]) -> Series,
         destroy: @escaping @Sendable (Series) -> Void) {
        self.name = name
        self.labels = labels
        self.make = make
        self.destroy = destroy
    }

    /// Removes the series with these label values (its queue or tenant is gone), so the
    /// exposition stops showing it.
    public func remove(_ values: [String]) {
        if let removed = series.withLock({ $0.removeValue(forKey: values) }) { destroy(removed) }
    }

    /// The series with these label values, in the order of `labels`.
    public func callAsFunction(_ values: String...) -> Series {
        self[values]
    }

    public subscript(values: [String]) -> Series {
        precondition(values.count == labels.count, "\(name) takes labels \(labels)")
        return series.withLock { series in
            if let existing = series[values] { return existing }
            let made = make(Array(zip(labels, values)))
            series[values] = made
            return made
        }
    }
}

extension MetricFamily where Series == Counter {
    convenience init(counter name: String, labels: [String], factory: any MetricsFactory) {
        self.init(name, labels: labels, make: { Counter(label: name, dimensions: $0, factory: factory) },
                  destroy: { $0.destroy() })
    }
}

extension MetricFamily where Series == CoreMetrics.Timer {
    convenience init(timer name: String, labels: [String], factory: any MetricsFactory) {
        self.init(name, labels: labels, make: {
            CoreMetrics.Timer(label: name, dimensions: $0, preferredDisplayUnit: .seconds, factory: factory)
        }, destroy: { $0.destroy() })
    }
}

extension MetricFamily where Series == Meter {
    convenience init(gauge name: String, labels: [String], factory: any MetricsFactory) {
        self.init(name, labels: labels, make: { Meter(label: name, dimensions: $0, factory: factory) },
                  destroy: { $0.destroy() })
    }
}

extension MetricFamily where Series == Recorder {
    convenience init(histogram name: String, labels: [String], factory: any MetricsFactory) {
        self.init(name, labels: labels, make: {
            Recorder(label: name, dimensions: $0, aggregate: true, factory: factory)
        }, destroy: { $0.destroy() })
    }
}

extension CoreMetrics.Timer {
    /// Records the time since `start` (a `ContinuousClock` instant).
    public func recordSince(_ start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
    }

    /// Records a duration in seconds (a lag between two wall-clock times); a negative one
    /// (clocks apart) as zero.
    public func record(seconds: Double) {
        recordNanoseconds(Int64(max(0, seconds) * 1_000_000_000))
    }
}
