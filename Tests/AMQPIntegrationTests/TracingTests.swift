import Foundation
import Hummingbird
import NIOCore
import Synchronization
import SwitchboardApp
import SwitchboardCore
import SwitchboardHTTP
import SwitchboardSimulator
import SwitchboardStore
import SwitchboardTelemetry
import Testing

/// Traces as a collector receives them: the gateway exports over OTLP/HTTP (swift-otel,
/// JSON here so the test reads it without generated types) to a receiver in the test,
/// and one message's spans form one trace across the broker.
@Suite(.serialized)
struct TracingTests {
    @Test(.timeLimit(.minutes(2)))
    func aMessagesDispatchSpanDescendsFromTheAPIsSpanAcrossTheBroker() async throws {
        let receiver = try await OTLPReceiver.start()
        defer { Task { try? await receiver.server.stop() } }
        try await ScratchVirtualHost.with { scratch in
            try await TestGateway.withDirectory { directory in
                let simulator = try await EmbeddedSimulator.start(logger: TestBroker.logger)
                defer { Task { try? await simulator.stop() } }
                let export = try TraceExport.otlp(endpoint: "http://127.0.0.1:\(receiver.server.port)",
                                                  serviceName: "switchboard-test", json: true,
                                                  scheduleDelay: .milliseconds(100))
                let configuration = try TestGateway.configuration([.api, .dispatcher, .webhooks, .normalizer, .logger],
                                                                  scratch: scratch, directory: directory) {
                    $0.simulatorBaseURL = simulator.baseURL + "/api"
                    $0.telemetry = .prometheus(traces: export)
                }
                try await TestGateway.with(configuration) { gateway in
                    let api = try await gateway.port(of: .api)
                    let key = try await TestGateway.onboard("traced", gateway: gateway, simulator: simulator)
                    let sent = try await TestAPI.request(port: api, .POST, "/v1/messages", key: key,
                                                         json: #"{"to":"+14155550123","text":"traced"}"#)
                    #expect(sent.status == 202, "\(sent.text)")
                    _ = try simulator.state.inbound(session: "traced-main", from: "+14155550177", text: "hi")

                    // The logger handles the message's `sent` event too (under the dispatcher's
                    // trace): the webhook's logger span is the one under a normalizer span.
                    func loggedWebhook(_ spans: [OTLPReceiver.Span]) -> OTLPReceiver.Span? {
                        spans.first { logged in
                            logged.name == "logger handle"
                                && spans.contains { $0.name == "normalizer handle" && $0.spanID == logged.parentSpanID }
                        }
                    }
                    let complete = await eventually(timeout: .seconds(30)) {
                        let spans = receiver.spans()
                        let names = Set(spans.map(\.name))
                        return ["accept message", "dispatch message", "provider send", "receive webhook",
                                "normalizer handle", "logger handle"].allSatisfy(names.contains)
                            && loggedWebhook(spans) != nil
                    }
                    #expect(complete, "\(receiver.spans().map(\.name))")
                    let spans = receiver.spans()
                    let accept = try #require(spans.first { $0.name == "accept message" })
                    let dispatch = try #require(spans.first { $0.name == "dispatch message" })
                    let send = try #require(spans.first { $0.name == "provider send" })
                    // Across the broker: the dispatcher continued the api's trace, under its span.
                    #expect(dispatch.traceID == accept.traceID)
                    #expect(dispatch.parentSpanID == accept.spanID)
                    #expect(send.traceID == accept.traceID && send.parentSpanID == dispatch.spanID)
                    #expect(accept.parentSpanID.isEmpty)
                    // A webhook starts its own trace; the normalizer, then the logger, continue it.
                    let logged = try #require(loggedWebhook(spans))
                    let normalized = try #require(spans.first { $0.name == "normalizer handle" && $0.spanID == logged.parentSpanID })
                    let received = try #require(spans.first { $0.spanID == normalized.parentSpanID })
                    #expect(received.name == "receive webhook")
                    #expect(received.traceID == logged.traceID && received.traceID != accept.traceID)
                }
            }
        }
    }
}

/// A minimal OTLP/HTTP receiver (JSON encoding): keeps every span it is sent.
struct OTLPReceiver: Sendable {
    struct Span: Sendable {
        let name: String
        let traceID: String
        let spanID: String
        let parentSpanID: String
    }

    let server: EmbeddedHTTPServer
    private let received: Received

    final class Received: Sendable {
        let spans = Mutex<[Span]>([])
    }

    func spans() -> [Span] { received.spans.withLock { $0 } }

    static func start() async throws -> OTLPReceiver {
        let received = Received()
        let server = try await EmbeddedHTTPServer.start(logger: TestBroker.logger) { onRunning in
            let router = Router()
            router.post("v1/traces") { request, _ -> Response in
                let body = try await request.body.collect(upTo: 16 << 20)
                let spans = Self.spans(in: Data(buffer: body))
                received.spans.withLock { $0 += spans }
                return Response(status: .ok, headers: [.contentType: "application/json"],
                                body: ResponseBody(byteBuffer: ByteBuffer(string: "{}")))
            }
            return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                               onServerRunning: { await onRunning($0.localAddress?.port ?? 0) })
        }
        return OTLPReceiver(server: server, received: received)
    }

    /// `resourceSpans[].scopeSpans[].spans[]` of an `ExportTraceServiceRequest` in JSON.
    static func spans(in data: Data) -> [Span] {
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [] }
        var spans: [Span] = []
        for resource in root["resourceSpans"] as? [[String: Any]] ?? [] {
            for scope in resource["scopeSpans"] as? [[String: Any]] ?? [] {
                for span in scope["spans"] as? [[String: Any]] ?? [] {
                    spans.append(Span(name: span["name"] as? String ?? "", traceID: span["traceId"] as? String ?? "",
                                      spanID: span["spanId"] as? String ?? "",
                                      parentSpanID: span["parentSpanId"] as? String ?? ""))
                }
            }
        }
        return spans
    }
}
