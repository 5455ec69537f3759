import AsyncHTTPClient
import Crypto
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import Synchronization
import SwitchboardSimulator

/// Quiet unless something goes wrong: the tests read the simulator's answers, not its logs.
let testLogger: Logger = {
    var logger = Logger(label: "test.simulator")
    logger.logLevel = .error
    return logger
}()

/// An answer as a test reads it.
struct TestResponse: @unchecked Sendable {
    let status: Int
    let headers: HTTPHeaders
    let body: Data

    /// The body as a JSON object (empty when it is not one).
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:]
    }

    var text: String { String(decoding: body, as: UTF8.self) }
}

/// Sends one request with the shared client; `json` is sent as `application/json`.
func request(_ method: HTTPMethod, _ url: String, bearer: String? = nil, json: String? = nil) async throws
    -> TestResponse
{
    var request = HTTPClientRequest(url: url)
    request.method = method
    if let bearer { request.headers.add(name: "Authorization", value: "Bearer \(bearer)") }
    if let json {
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: json))
    }
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
    let body = try await response.body.collect(upTo: 16 << 20)
    return TestResponse(status: Int(response.status.code), headers: response.headers, body: Data(buffer: body))
}

/// Runs `body` with a simulator on a free loopback port, stopped afterwards. Webhook
/// retries are quick so that failure tests stay fast.
func withSimulator<T>(
    _ configuration: SimulatorServer.Configuration = SimulatorServer.Configuration(
        port: 0, webhookAttempts: 3, webhookBackoff: .milliseconds(20), webhookTimeout: .seconds(2)),
    _ body: (EmbeddedSimulator) async throws -> T
) async throws -> T {
    let simulator = try await EmbeddedSimulator.start(configuration, logger: testLogger)
    do {
        let result = try await body(simulator)
        try await simulator.stop()
        return result
    } catch {
        try? await simulator.stop()
        throw error
    }
}

/// Polls `check` until it returns a value or `timeout` passes.
@discardableResult
func eventually<T>(within timeout: Duration = .seconds(3), _ what: String, _ check: () async throws -> T?)
    async throws -> T
{
    let deadline = ContinuousClock.now + timeout
    while true {
        if let value = try await check() { return value }
        guard ContinuousClock.now < deadline else { throw TestFailure("timed out waiting for \(what)") }
        try await Task.sleep(for: .milliseconds(10))
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

// MARK: A webhook receiver

/// Silent: cancelling the receiver's task (how it stops) logs an error about the
/// connections it cancels.
let receiverLogger = Logger(label: "test.receiver", factory: { _ in SwiftLogNoOpLogHandler() })

/// One webhook as the receiver got it.
struct ReceivedWebhook: @unchecked Sendable {
    let path: String
    /// Header names in lower case.
    let headers: [String: String]
    let body: Data

    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:]
    }
}

/// A real HTTP server on a free loopback port that records every POST to `/hook/<name>`
/// and answers 200, except: `/hook/flaky…` answers 500 to its first request, and
/// `/hook/down…` always answers 503.
final class WebhookReceiver: Sendable {
    let port: Int
    private let state: ReceiverState
    private let running: Task<Void, any Error>

    private init(port: Int, state: ReceiverState, running: Task<Void, any Error>) {
        self.port = port
        self.state = state
        self.running = running
    }

    func url(_ name: String) -> String { "http://127.0.0.1:\(port)/hook/\(name)" }

    /// What arrived at `/hook/<name>`, in order of arrival.
    func webhooks(_ name: String) -> [ReceivedWebhook] {
        state.received.withLock { $0.filter { $0.path == "/hook/\(name)" } }
    }

    /// Waits until `count` webhooks arrived at `/hook/<name>`.
    func wait(for count: Int, at name: String, within timeout: Duration = .seconds(3)) async throws
        -> [ReceivedWebhook]
    {
        try await eventually(within: timeout, "\(count) webhooks at \(name)") {
            let hooks = webhooks(name)
            return hooks.count >= count ? hooks : nil
        }
    }

    static func with<T>(_ body: (WebhookReceiver) async throws -> T) async throws -> T {
        let receiver = try await start()
        do {
            let result = try await body(receiver)
            await receiver.stop()
            return result
        } catch {
            await receiver.stop()
            throw error
        }
    }

    static func start() async throws -> WebhookReceiver {
        let state = ReceiverState()
        let router = Router()
        router.post("hook/:name") { request, context -> HTTPResponse.Status in
            let name = context.parameters.get("name") ?? ""
            let body = try await request.body.collect(upTo: 1 << 20)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName.lowercased()] = field.value }
            let hook = ReceivedWebhook(path: request.uri.path, headers: headers, body: Data(buffer: body))
            return state.record(hook, name: name)
        }
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let application = Application(
            router: router,
            configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                portContinuation.yield(channel.localAddress?.port ?? 0)
                portContinuation.finish()
            },
            logger: receiverLogger)
        let running = Task {
            defer { portContinuation.finish() }
            try await application.run()
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else {
            _ = try await running.value
            throw TestFailure("the webhook receiver did not start")
        }
        return WebhookReceiver(port: port, state: state, running: running)
    }

    /// Cancelling the application's task shuts its server down.
    func stop() async {
        running.cancel()
        _ = try? await running.value
    }
}

/// The receiver's record, shared between its routes and the test.
private final class ReceiverState: Sendable {
    let received = Mutex<[ReceivedWebhook]>([])
    private let failuresByName = Mutex<[String: Int]>([:])

    func record(_ hook: ReceivedWebhook, name: String) -> HTTPResponse.Status {
        received.withLock { $0.append(hook) }
        if name.hasPrefix("down") { return .serviceUnavailable }
        if name.hasPrefix("flaky") {
            let failedBefore = failuresByName.withLock { failures in
                defer { failures[name, default: 0] += 1 }
                return failures[name, default: 0]
            }
            if failedBefore == 0 { return .internalServerError }
        }
        return .ok
    }
}

// MARK: Independent signature checks

/// Lowercase hex.
func hex(_ bytes: some Sequence<UInt8>) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}

/// Meta: `sha256=<hex HMAC-SHA256(body, app secret)>`.
func expectedMetaSignature(body: Data, secret: String) -> String {
    "sha256=" + hex(HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data(secret.utf8))))
}

/// Standard Webhooks: `v1,<base64 HMAC-SHA256("id.timestamp.body")>` with the key
/// decoded from a `whsec_` secret.
func expectedStandardSignature(id: String, timestamp: String, body: Data, secret: String) -> String {
    let key = secret.hasPrefix("whsec_") ? Data(base64Encoded: String(secret.dropFirst(6)))! : Data(secret.utf8)
    var message = Data("\(id).\(timestamp).".utf8)
    message.append(body)
    let mac = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key))
    return "v1," + Data(mac).base64EncodedString()
}

// MARK: Fixtures

extension EmbeddedSimulator {
    var admin: String { baseURL + "/_sim" }

    /// Registers a session through the admin route; fails the test on anything but 200.
    func register(_ id: String, _ json: String) async throws {
        let response = try await request(.PUT, "\(admin)/sessions/\(id)", json: json)
        guard response.status == 200 else { throw TestFailure("registering \(id): \(response.status) \(response.text)") }
    }

    func wasenderSend(key: String, to: String, text: String = "hello") async throws -> TestResponse {
        try await request(.POST, baseURL + "/api/send-message", bearer: key, json: #"{"to":"\#(to)","text":"\#(text)"}"#)
    }

    func metaSend(phoneNumberID: String, token: String, to: String, text: String = "hello") async throws
        -> TestResponse
    {
        try await request(.POST, "\(baseURL)/v21.0/\(phoneNumberID)/messages", bearer: token, json: """
            {"messaging_product":"whatsapp","recipient_type":"individual","to":"\(to)","type":"text",
             "text":{"body":"\(text)"}}
            """)
    }

    /// The `GET /_sim/messages` list.
    func recorded(session: String? = nil, since: String? = nil) async throws -> [[String: Any]] {
        var query: [String] = []
        if let session { query.append("session=\(session)") }
        if let since { query.append("since=\(since.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)") }
        let response = try await request(.GET, "\(admin)/messages" + (query.isEmpty ? "" : "?" + query.joined(separator: "&")))
        return response.json["messages"] as? [[String: Any]] ?? []
    }

    /// One session's entry of `GET /_sim/stats`.
    func stats(_ session: String) async throws -> [String: Any] {
        let response = try await request(.GET, "\(admin)/stats")
        return (response.json["sessions"] as? [String: Any])?[session] as? [String: Any] ?? [:]
    }
}
