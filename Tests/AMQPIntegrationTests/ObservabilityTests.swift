import Foundation
import SwitchboardAMQP
import SwitchboardApp
import SwitchboardCore
import SwitchboardSimulator
import SwitchboardStore
import Testing

/// The metrics as an operator scrapes them: real traffic through `serve all` (sends,
/// a retry, a dead letter, status webhooks, a contact's message), then `/metrics` read
/// and every series checked against what happened, and every label against ids.
@Suite(.serialized)
struct ObservabilityTests {
    @Test(.timeLimit(.minutes(3)))
    func theSeriesMoveByWhatHappenedAndNoLabelHoldsAnIdOrANumber() async throws {
        try await ScratchVirtualHost.with { scratch in
            try await TestGateway.withDirectory { directory in
                let simulator = try await EmbeddedSimulator.start(logger: TestBroker.logger)
                defer { Task { try? await simulator.stop() } }
                let configuration = try TestGateway.configuration(GatewayService.gateway, scratch: scratch,
                                                                  directory: directory) {
                    $0.simulatorBaseURL = simulator.baseURL + "/api"
                    $0.dispatcher = .init(refreshInterval: .milliseconds(200), firstRetryDelay: .seconds(1))
                    $0.brokerMetricsInterval = .milliseconds(200)
                    $0.metricsListener = (host: "127.0.0.1", port: 0)
                }
                try await TestGateway.with(configuration) { gateway in
                    let api = try await gateway.port(of: .api)
                    let metricsPort = try await gateway.port(of: .metrics)
                    let key = try await TestGateway.onboard("obs", gateway: gateway, simulator: simulator,
                                                            behaviour: SimulatorBehaviour(invalidNumberPrefixes: ["+1555"]))
                    func post(_ body: String) async throws -> TestResponse {
                        try await TestAPI.request(port: api, .POST, "/v1/messages", key: key, json: body)
                    }

                    // Three sent, one to an invalid number (dead-lettered), one refused at the door.
                    var ids: [String] = []
                    for n in 0..<3 {
                        let sent = try await post(#"{"to":"+1415555012\#(n)","text":"code \#(n)"}"#)
                        #expect(sent.status == 202, "\(sent.text)")
                        ids.append(try #require(sent.json["id"] as? String))
                    }
                    #expect(try await post(#"{"to":"+15550001234","text":"to nobody"}"#).status == 202)
                    #expect(try await post(#"{"to":"not a number","text":"x"}"#).status == 422)
                    // One retried: the provider fails every send until it is told otherwise.
                    try simulator.state.configure(SimulatorBehaviour(errorRate: 1, invalidNumberPrefixes: ["+1555"]),
                                                  session: "obs-main")
                    let flaky = try await post(#"{"to":"+14155550199","text":"second time lucky"}"#)
                    ids.append(try #require(flaky.json["id"] as? String))
                    #expect(await eventually { simulator.state.stats(session: "obs-main").errors >= 1 })
                    try simulator.state.configure(SimulatorBehaviour(invalidNumberPrefixes: ["+1555"]), session: "obs-main")
                    // A contact writes.
                    _ = try simulator.state.inbound(session: "obs-main", from: "+14155550177", text: "hello")

                    // Everything settles: each message read, each webhook answered, the dead letter archived.
                    let settled = try await eventually(timeout: .seconds(60)) {
                        for id in ids {
                            let message = try await TestAPI.request(port: api, .GET, "/v1/messages/\(id)", key: key)
                            guard message.json["state"] as? String == "read" else { return false }
                        }
                        let scrape = try await Scrape.read(port: metricsPort)
                        let stats = simulator.state.stats(session: "obs-main")
                        return scrape.sum("switchboard_webhooks_total") == Double(stats.webhooksDelivered)
                            && scrape.sum("switchboard_dead_letters_archived_total") == 1
                            && scrape.sum("switchboard_consumer_deliveries_total", ["service": "bot"]) >= 1
                            && scrape.sum("switchboard_queue_messages_ready", ["tenant": "obs"]) == 0
                            && scrape.has("switchboard_queue_messages_ready", ["queue": "sb.outbound.obs"])
                    }
                    #expect(settled)
                    let stats = simulator.state.stats(session: "obs-main")
                    let scrape = try await Scrape.read(port: metricsPort)
                    // The api's listener shows the same process.
                    let viaAPI = try await TestAPI.request(port: api, .GET, "/metrics")
                    #expect(viaAPI.status == 200)
                    #expect(viaAPI.headers["content-type"].first?.hasPrefix("text/plain; version=0.0.4") == true)
                    #expect(viaAPI.text.contains("switchboard_deliveries_total{tenant=\"obs\",outcome=\"sent\"}"))

                    // api: five taken, one refused with its problem's kind; requests by route template.
                    #expect(scrape.sum("switchboard_api_messages_total", ["tenant": "obs", "outcome": "accepted"]) == 5)
                    #expect(scrape.sum("switchboard_api_messages_total",
                                       ["tenant": "obs", "outcome": "refused", "reason": "validation"]) == 1)
                    #expect(scrape.sum("http_server_requests_total",
                                       ["service": "api", "route": "/v1/messages", "method": "POST", "status": "202"]) == 5)
                    #expect(scrape.sum("http_server_requests_total",
                                       ["service": "api", "route": "/v1/messages", "method": "POST", "status": "422"]) == 1)
                    #expect(scrape.has("http_server_requests_total", ["route": "/v1/messages/{id}", "method": "GET"]))
                    #expect(scrape.sum("http_server_request_duration_seconds_count",
                                       ["service": "api", "route": "/v1/messages", "method": "POST"]) == 6)

                    // dispatcher: four sent, one dead-lettered, each failed send retried; calls timed by result.
                    #expect(scrape.sum("switchboard_deliveries_total", ["tenant": "obs", "outcome": "sent"]) == 4)
                    #expect(scrape.sum("switchboard_deliveries_total", ["tenant": "obs", "outcome": "dead_lettered"]) == 1)
                    #expect(scrape.sum("switchboard_deliveries_total", ["tenant": "obs", "outcome": "retried"])
                            == Double(stats.errors))
                    #expect(scrape.sum("switchboard_provider_call_duration_seconds_count",
                                       ["provider": "simulator", "result": "accepted"]) == 4)
                    #expect(scrape.sum("switchboard_provider_call_duration_seconds_count",
                                       ["provider": "simulator", "result": "permanent"]) == 1)
                    #expect(scrape.sum("switchboard_provider_call_duration_seconds_count",
                                       ["provider": "simulator", "result": "transient"]) == Double(stats.errors))
                    #expect(scrape.sum("switchboard_send_lag_seconds_count", ["class": "transactional"]) == 4)
                    #expect(scrape.sum("switchboard_dispatcher_active_tenants") == 1)
                    #expect(scrape.sum("switchboard_dispatcher_in_flight") == 0)

                    // webhooks and normalizer: every webhook counted once; each status event is new or a repeat.
                    #expect(stats.webhooksDelivered >= 9)
                    #expect(scrape.sum("switchboard_webhooks_total", ["provider": "simulator", "status": "200"])
                            == Double(stats.webhooksDelivered))
                    #expect(scrape.sum("switchboard_webhook_confirm_duration_seconds_count", ["provider": "simulator"])
                            == Double(stats.webhooksDelivered))
                    #expect(scrape.sum("switchboard_events_published_total", ["type": "message.received"]) == 1)
                    #expect(scrape.sum("switchboard_events_published_total", ["type": "message.status"])
                            + scrape.sum("switchboard_inbound_duplicates_total", ["provider": "simulator"])
                            == Double(stats.webhooksDelivered - 1))
                    #expect(scrape.sum("switchboard_consumer_deliveries_total", ["service": "normalizer", "outcome": "handled"])
                            == Double(stats.webhooksDelivered))

                    // consumers, AMQP client, store, broker view.
                    for service in ["logger", "inbox", "bot"] {
                        #expect(scrape.sum("switchboard_consumer_deliveries_total",
                                           ["service": service, "outcome": "handled"]) >= 1, "\(service)")
                    }
                    #expect(scrape.sum("switchboard_dead_letters_archived_total", ["tenant": "obs"]) == 1)
                    #expect(scrape.sum("switchboard_amqp_connection_up", ["connection": "dispatcher"]) == 1)
                    #expect(scrape.sum("switchboard_amqp_unconfirmed_publishes") == 0)
                    #expect(scrape.sum("switchboard_store_batch_size_count") > 0)
                    #expect(scrape.sum("switchboard_store_commit_duration_seconds_count") > 0)
                    #expect(scrape.has("switchboard_queue_messages_ready", ["queue": "sb.dead", "kind": "dead-letter"]))

                    // No label is an id, a phone number or a free number.
                    let problems = scrape.unboundedLabels(tenants: ["obs"], sessions: ["obs-main"])
                    #expect(problems.isEmpty, "\(problems)")
                }
            }
        }
    }
}

/// One scrape of a `/metrics` endpoint, parsed: series by name and labels.
struct Scrape {
    struct Series {
        let name: String
        let labels: [String: String]
        let value: Double
    }

    let series: [Series]

    static func read(port: Int) async throws -> Scrape {
        let response = try await TestAPI.request(port: port, .GET, "/metrics")
        return Scrape(text: response.text)
    }

    init(text: String) {
        var series: [Series] = []
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                continue
            }
            let head = line[..<space]
            guard let brace = head.firstIndex(of: "{") else {
                series.append(Series(name: String(head), labels: [:], value: value))
                continue
            }
            var labels: [String: String] = [:]
            let body = head[head.index(after: brace)..<head.index(before: head.endIndex)]
            // Values here never hold `",` (slugs, route templates, numbers).
            for pair in body.components(separatedBy: "\",") where !pair.isEmpty {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2 else { continue }
                labels[String(parts[0])] = String(parts[1]).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
            series.append(Series(name: String(head[..<brace]), labels: labels, value: value))
        }
        self.series = series
    }

    func matching(_ name: String, _ labels: [String: String]) -> [Series] {
        series.filter { item in item.name == name && labels.allSatisfy { key, value in item.labels[key] == value } }
    }

    func sum(_ name: String, _ labels: [String: String] = [:]) -> Double {
        matching(name, labels).reduce(0) { $0 + $1.value }
    }

    func has(_ name: String, _ labels: [String: String]) -> Bool { !matching(name, labels).isEmpty }

    /// Label values that are not of a bounded set: tenant and session must be known
    /// slugs, a status a three-digit code, a bucket bound a number; any other value holds
    /// no run of five digits (a phone number, a timestamp) and no long token (an id).
    func unboundedLabels(tenants: Set<String>, sessions: Set<String>) -> [String] {
        var problems: [String] = []
        for item in series {
            for (label, value) in item.labels {
                let bounded: Bool = switch label {
                case "tenant": tenants.contains(value) || value == "-"
                case "session": sessions.contains(value)
                case "status": value.count == 3 && value.allSatisfy(\.isNumber)
                case "le", "quantile": Double(value) != nil || value == "+Inf"
                default:
                    value.range(of: #"[0-9]{5,}"#, options: .regularExpression) == nil
                        && value.range(of: #"[A-Za-z0-9]{20,}"#, options: .regularExpression) == nil
                        && Double(value) == nil
                }
                if !bounded { problems.append("\(item.name){\(label)=\"\(value)\"}") }
            }
        }
        return Array(Set(problems)).sorted()
    }
}
