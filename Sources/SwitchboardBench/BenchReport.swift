import Foundation

/// The shape every `switchboard bench …` command prints: a human summary, or with
/// `--json` one JSON object whose fields are the same figures.
public protocol BenchReport: Encodable, Sendable {
    /// Lines for a person reading a terminal.
    var summary: [String] { get }
}

extension BenchReport {
    /// One JSON object on one line, keys sorted, for scripts and CI.
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}

/// Latency percentiles in milliseconds.
public struct LatencySummary: Codable, Sendable, Hashable {
    public let p50: Double
    public let p90: Double
    public let p99: Double
    public let max: Double
}

extension LatencySummary {
    /// The percentiles of what `recorder` holds (recorded in microseconds).
    init(_ recorder: LatencyRecorder) {
        let histogram = recorder.snapshot()
        func ms(_ micros: UInt64) -> Double { Double(micros) / 1000 }
        self.init(p50: ms(histogram.valueAtPercentile(50)), p90: ms(histogram.valueAtPercentile(90)),
                  p99: ms(histogram.valueAtPercentile(99)), max: ms(histogram.maxRecorded))
    }
}
