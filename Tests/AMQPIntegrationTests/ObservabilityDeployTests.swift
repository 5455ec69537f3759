import Foundation
import SwitchboardTelemetry
import Testing

/// deploy/observability/ as an operator installs it: the alert rules and the scrape
/// configuration pass promtool (Debian's `prometheus` package), the rules' own unit
/// tests pass, and the dashboard is Grafana JSON whose queries name series the gateway
/// emits, filtered by the tenant variable.
struct ObservabilityDeployTests {
    static let folder = DisposableNode.repositoryRoot.appendingPathComponent("deploy/observability")

    @Test func theAlertRulesAndTheScrapeConfigurationPassPromtool() throws {
        for arguments in [["check", "rules", "alerts.yml"], ["check", "config", "prometheus.yml"],
                          ["test", "rules", "alerts.test.yml"]] {
            let (status, output) = try Self.promtool(arguments)
            #expect(status == 0, "promtool \(arguments.joined(separator: " ")): \(output)")
        }
    }

    @Test func theDashboardQueriesSeriesTheGatewayEmitsForTheChosenTenants() throws {
        let data = try Data(contentsOf: Self.folder.appendingPathComponent("grafana-dashboard.json"))
        let dashboard = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(dashboard["uid"] as? String == "switchboard")
        let variables = try #require((dashboard["templating"] as? [String: Any])?["list"] as? [[String: Any]])
        let tenant = try #require(variables.first { $0["name"] as? String == "tenant" })
        #expect(tenant["type"] as? String == "query")
        #expect(tenant["includeAll"] as? Bool == true)

        let emitted = Self.emittedNames()
        let panels = try #require(dashboard["panels"] as? [[String: Any]])
        var titles: [String] = []
        var usesTenant = 0
        for panel in panels {
            let title = try #require(panel["title"] as? String)
            titles.append(title)
            let grid = try #require(panel["gridPos"] as? [String: Int])
            #expect(grid["w"] != nil && grid["h"] != nil && grid["x"] != nil && grid["y"] != nil, "\(title)")
            let targets = try #require(panel["targets"] as? [[String: Any]], "\(title)")
            #expect(!targets.isEmpty, "\(title)")
            for target in targets {
                let expression = try #require(target["expr"] as? String)
                if expression.contains("$tenant") { usesTenant += 1 }
                let names = Self.seriesNames(in: expression)
                #expect(!names.isEmpty, "\(title): \(expression)")
                for name in names {
                    #expect(emitted.contains(name), "\(title) queries \(name), which the gateway does not emit")
                }
            }
        }
        for wanted in ["Send rate", "Delivery success ratio", "Queue depth", "Send lag (accepted → sent)",
                       "Webhook latency (receipt → broker confirm)", "Dead letters archived", "Sessions connected"] {
            #expect(titles.contains(wanted), "no panel \(wanted)")
        }
        #expect(usesTenant >= 5)
    }

    /// Every series name the catalogue yields, with a histogram's `_bucket`, `_count`, `_sum`.
    static func emittedNames() -> Set<String> {
        var names: Set<String> = []
        for name in MetricName.allCases.map(\.rawValue) {
            names.formUnion([name, name + "_bucket", name + "_count", name + "_sum"])
        }
        return names
    }

    /// The metric names in a PromQL expression: identifiers followed by `{`, `[` or `)`
    /// that are not functions or keywords.
    static func seriesNames(in expression: String) -> Set<String> {
        let pattern = try! NSRegularExpression(pattern: #"\b((?:switchboard|http_server)_[a-z_]+)\b"#)
        let range = NSRange(expression.startIndex..., in: expression)
        return Set(pattern.matches(in: expression, range: range).compactMap {
            Range($0.range(at: 1), in: expression).map { String(expression[$0]) }
        })
    }

    static func promtool(_ arguments: [String]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/promtool")
        process.arguments = arguments
        process.currentDirectoryURL = folder
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }
}
