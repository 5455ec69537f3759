public import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
public import SwitchboardCore

/// What the dispatcher needs of a provider: send one message for a session, or say
/// why not in terms it can act on (transient or permanent).
public protocol ProviderClient: Sendable {
    func send(_ envelope: OutboundEnvelope, through session: Session, secrets: SessionSecrets)
        async throws(SendFailure) -> ProviderReceipt
    /// The session's state as the provider reports it now (the monitor's poll); throws
    /// when no answer came or the provider cannot say (the state is then left alone).
    func sessionState(of session: Session, secrets: SessionSecrets) async throws(SendFailure) -> ProviderSessionState
    /// Asks the provider to connect the session: its state after, and the QR code to scan
    /// when it waits for one.
    func connect(_ session: Session, secrets: SessionSecrets) async throws(SendFailure) -> SessionConnection
    /// The QR code the session shows while it waits for a scan; nil when it does not.
    func qrCode(of session: Session, secrets: SessionSecrets) async throws(SendFailure) -> String?
    /// Asks the provider to disconnect the session; its state after.
    func disconnect(_ session: Session, secrets: SessionSecrets) async throws(SendFailure) -> SessionStatus
}

/// A session's state as its provider reports it: the status, and for Meta numbers the
/// quality rating (`GREEN`, `YELLOW`, `RED`) and messaging limit tier (`TIER_1K`, …).
public struct ProviderSessionState: Sendable, Hashable {
    public var status: SessionStatus
    public var qualityRating: String?
    public var messagingLimitTier: String?

    public init(status: SessionStatus, qualityRating: String? = nil, messagingLimitTier: String? = nil) {
        self.status = status
        self.qualityRating = qualityRating
        self.messagingLimitTier = messagingLimitTier
    }
}

/// What a connect answered.
public struct SessionConnection: Sendable, Hashable {
    public var status: SessionStatus
    public var qrCode: String?

    public init(status: SessionStatus, qrCode: String?) {
        self.status = status
        self.qrCode = qrCode
    }
}

/// The code of a failure meaning "this provider has no such call" (Meta numbers have no
/// session to poll, connect or scan).
public let unsupportedProviderCall = "unsupported"

extension ProviderClient {
    public func sessionState(of session: Session, secrets: SessionSecrets) async throws(SendFailure) -> ProviderSessionState {
        throw SendFailure(.permanent, code: unsupportedProviderCall, detail: "this provider's sessions are not polled")
    }

    public func connect(_ session: Session, secrets: SessionSecrets) async throws(SendFailure) -> SessionConnection {
        throw SendFailure(.permanent, code: unsupportedProviderCall,
                          detail: "\(session.provider) numbers are connected in the provider's own console, not by QR code")
    }

    public func qrCode(of session: Session, secrets: SessionSecrets) async throws(SendFailure) -> String? {
        throw SendFailure(.permanent, code: unsupportedProviderCall, detail: "\(session.provider) numbers have no QR code")
    }

    public func disconnect(_ session: Session, secrets: SessionSecrets) async throws(SendFailure) -> SessionStatus {
        throw SendFailure(.permanent, code: unsupportedProviderCall,
                          detail: "\(session.provider) numbers are disconnected in the provider's own console")
    }
}

/// A provider's acceptance of a message.
public struct ProviderReceipt: Sendable, Hashable {
    /// The provider's id for it (WasenderAPI `msgId`, Meta `wamid…`).
    public let providerMessageID: String

    public init(providerMessageID: String) {
        self.providerMessageID = providerMessageID
    }
}

/// The send adapters of every registered provider, sharing one HTTP client. A session
/// may point its adapter elsewhere with the credential `base_url` (tests, the
/// simulator, a proxy).
public struct ProviderDirectory: Sendable {
    private let clients: [ProviderKind: any ProviderClient]

    public init(http: HTTPClient, simulatorBaseURL: String = "http://127.0.0.1:8090/api",
                timeout: Duration = .seconds(10), registry: ProviderRegistry = .standard) {
        let context = ProviderClientContext(http: http, timeout: timeout, simulatorBaseURL: simulatorBaseURL)
        clients = Dictionary(registry.providers.map { ($0.kind, $0.makeClient(context)) },
                             uniquingKeysWith: { first, _ in first })
    }

    /// The adapter of `provider`; nil for a kind no provider registered.
    public func client(for provider: ProviderKind) -> (any ProviderClient)? {
        clients[provider]
    }
}

// MARK: Shared HTTP handling

/// One provider call: a JSON POST with a Bearer token, answered with status, headers
/// and body, or a transient failure when no answer came.
struct ProviderCall {
    let http: HTTPClient
    let timeout: Duration

    struct Answer {
        let status: Int
        let headers: HTTPHeaders
        let body: Data
    }

    func post(_ url: String, token: String, json: Data) async throws(SendFailure) -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(data: json))
        return try await execute(request, token: token)
    }

    func get(_ url: String, token: String) async throws(SendFailure) -> Answer {
        try await execute(HTTPClientRequest(url: url), token: token)
    }

    private func execute(_ request: HTTPClientRequest, token: String) async throws(SendFailure) -> Answer {
        var request = request
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Accept", value: "application/json")
        do {
            let response = try await http.execute(request, timeout: .nanoseconds(timeout.nanoseconds))
            let body = try await response.body.collect(upTo: 1 << 20)
            return Answer(status: Int(response.status.code), headers: response.headers, body: Data(buffer: body))
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout
            || error == .connectTimeout
        {
            throw SendFailure(.transient, code: "timeout", detail: "no answer within \(timeout)")
        } catch {
            throw SendFailure(.transient, code: "connection", detail: "\(error)")
        }
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

/// `Retry-After` in seconds (the HTTP-date form is read as "soon": 1 s).
func retryAfter(_ headers: HTTPHeaders) -> Duration? {
    guard let value = headers.first(name: "Retry-After") else { return nil }
    if let seconds = Double(value.trimmingCharacters(in: .whitespaces)), seconds >= 0 {
        return .milliseconds(Int64(seconds * 1000))
    }
    return .seconds(1)
}

/// Request bodies: plain JSON, keys as the providers spell them.
let jsonEncoder: JSONEncoder = {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return encoder
}()

/// A JSON object read leniently: providers change shapes, and an unexpected one must
/// still classify (the adapters log what they did not expect).
typealias JSONObject = [String: Any]

func jsonObject(_ data: Data) -> JSONObject? {
    (try? JSONSerialization.jsonObject(with: data)) as? JSONObject
}

func text(_ data: Data, limit: Int = 300) -> String {
    String(decoding: data.prefix(limit), as: UTF8.self)
}
