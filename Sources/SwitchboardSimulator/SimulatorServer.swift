public import Foundation
public import Hummingbird
public import Logging
import NIOCore
import NIOFoundationCompat
import SwitchboardCore

/// The `simulator` service: a provider stand-in for development, tests and benchmarks.
/// It answers WasenderAPI- and Meta-shaped sends within per-session limits and the
/// configured failures, records what it accepted, and sends signed status webhooks.
public enum SimulatorServer {
    /// The largest request body any route takes: 1 MiB.
    public static let maximumBodySize = 1 << 20

    /// Where the service listens, how it behaves by default and how it sends webhooks.
    public struct Configuration: Sendable {
        /// Loopback by default: the admin routes have no authentication.
        public var host: String
        public var port: Int
        /// The behaviour of sessions without their own.
        public var defaults: SimulatorBehaviour
        /// Tries per webhook, the first included.
        public var webhookAttempts: Int
        /// The wait before the first retry of a webhook, doubled for each further one.
        public var webhookBackoff: Duration
        /// How long one webhook request may take.
        public var webhookTimeout: Duration

        public init(host: String = "127.0.0.1", port: Int = 8090, defaults: SimulatorBehaviour = SimulatorBehaviour(),
                    webhookAttempts: Int = 4, webhookBackoff: Duration = .milliseconds(200),
                    webhookTimeout: Duration = .seconds(5)) {
            self.host = host
            self.port = port
            self.defaults = defaults
            self.webhookAttempts = webhookAttempts
            self.webhookBackoff = webhookBackoff
            self.webhookTimeout = webhookTimeout
        }
    }

    /// Every route: the WasenderAPI and Meta send endpoints, `GET /api/status`, and the
    /// `/_sim` admin routes.
    public static func router(_ configuration: Configuration, state: SimulatorState, logger: Logger)
        -> Router<SimulatorRequestContext>
    {
        let router = Router(context: SimulatorRequestContext.self)
        router.add(middleware: LogRequestsMiddleware(.debug))
        WasenderRoutes(state: state).addRoutes(to: router)
        AdminRoutes(state: state).addRoutes(to: router)
        // Last: its path is all parameters but the last segment.
        MetaRoutes(state: state).addRoutes(to: router)
        return router
    }

    /// The service, ready to run in a `ServiceGroup` (or with `runService()`): the HTTP
    /// server and the webhook sender. The state's default behaviour becomes
    /// `configuration.defaults`. `onServerRunning` receives the bound port (useful
    /// with port 0).
    public static func application(
        _ configuration: Configuration, state: SimulatorState, logger: Logger,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        // Invalid defaults (a negative latency) are clamped rather than refused: the
        // CLI validates its options, and a server must start.
        var defaults = configuration.defaults
        defaults.latencyMs = max(0, defaults.latencyMs)
        defaults.jitterMs = max(0, defaults.jitterMs)
        defaults.errorRate = min(max(defaults.errorRate.isFinite ? defaults.errorRate : 0, 0), 1)
        defaults.rateLimitRetryAfterSeconds = max(0, defaults.rateLimitRetryAfterSeconds)
        defaults.outages = defaults.outages.filter { $0.from <= $0.until }
        try? state.configure(defaults)
        let sender = WebhookSender(
            state: state, attempts: max(1, configuration.webhookAttempts), backoff: configuration.webhookBackoff,
            timeout: configuration.webhookTimeout, logger: logger)
        return Application(
            router: router(configuration, state: state, logger: logger),
            configuration: ApplicationConfiguration(
                address: .hostname(configuration.host, port: configuration.port), serverName: "switchboard-simulator"),
            services: [sender],
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
            logger: logger)
    }
}

/// The per-request state of the simulator: Hummingbird's core storage, with the body
/// limit and JSON conventions of the gateway.
public struct SimulatorRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage

    public init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
    }

    public var maxUploadSize: Int { SimulatorServer.maximumBodySize }
    public var responseEncoder: JSONEncoder { WireJSON.encoder() }
    public var requestDecoder: JSONDecoder { WireJSON.decoder() }
}

// MARK: Helpers of the routes

/// A JSON answer with the given status and headers; the simulator's bodies are its own
/// plain structs, whose encoding cannot fail.
func jsonResponse(_ status: HTTPResponse.Status, _ value: some Encodable, headers: HTTPFields = [:]) -> Response {
    let data = (try? WireJSON.sharedEncoder.encode(value)) ?? Data("{}".utf8)
    var headers = headers
    headers[.contentType] = "application/json"
    return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(data: data)))
}

/// Why a request body could not be used.
enum BodyError: Error {
    case tooLarge
    case unreadable(String)
    case malformed(String)
}

extension Request {
    /// The raw body, at most `SimulatorServer.maximumBodySize` bytes.
    mutating func collectBody() async throws(BodyError) -> Data {
        do {
            return Data(buffer: try await body.collect(upTo: SimulatorServer.maximumBodySize))
        } catch is NIOTooManyBytesError {
            throw .tooLarge
        } catch {
            throw .unreadable("\(error)")
        }
    }

    /// The body decoded as `type` (an empty body decodes as `{}`).
    mutating func decode<T: Decodable>(_ type: T.Type, userInfo: [CodingUserInfoKey: any Sendable] = [:])
        async throws(BodyError) -> T
    {
        var data = try await collectBody()
        if data.isEmpty { data = Data("{}".utf8) }
        let decoder = WireJSON.decoder()
        decoder.userInfo = userInfo
        do {
            return try decoder.decode(type, from: data)
        } catch let error as DecodingError {
            throw .malformed(describe(error))
        } catch {
            throw .malformed("\(error)")
        }
    }

    /// The token of `Authorization: Bearer <token>`, if there is one.
    var bearerToken: String? {
        guard let value = headers[.authorization] else { return nil }
        let parts = value.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return parts[1].trimmingCharacters(in: .whitespaces)
    }
}

/// A decoding error in a caller's terms: where (a JSON path) and what.
func describe(_ error: DecodingError) -> String {
    func path(_ codingPath: [any CodingKey]) -> String {
        let text = codingPath.map { key in key.intValue.map { "[\($0)]" } ?? ".\(key.stringValue)" }.joined()
        return text.isEmpty ? "the body" : String(text.drop(while: { $0 == "." }))
    }
    switch error {
    case .typeMismatch(_, let context): return "\(path(context.codingPath)): wrong type"
    case .valueNotFound(_, let context): return "\(path(context.codingPath)): must not be null"
    case .keyNotFound(let key, let context): return "\(path(context.codingPath + [key])): is required"
    case .dataCorrupted(let context):
        if context.codingPath.isEmpty { return "the body is not valid JSON" }
        return "\(path(context.codingPath)): \(context.debugDescription)"
    @unknown default: return "\(error)"
    }
}

/// The wait before answering a send, in the behaviour that applies to its session.
func simulateLatency(_ behaviour: SimulatorBehaviour) async throws {
    let delay = behaviour.answerDelay()
    if delay > .zero { try await Task.sleep(for: delay) }
}
