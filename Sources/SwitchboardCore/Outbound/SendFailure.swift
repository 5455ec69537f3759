/// Why a provider did not accept a message, as the dispatcher acts on it.
public struct SendFailure: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// It may work later: a timeout, a connection error, a 5xx, a rate limit.
        case transient
        /// It will not work however often it is tried: an invalid recipient, another 4xx.
        case permanent
        /// The provider says the session itself cannot send (disconnected, waiting for a
        /// QR scan, logged out): not the message's fault; it waits for the session.
        case sessionDown(SessionStatus)
    }

    public let kind: Kind
    /// A short stable code for `sb-error-code`: `timeout`, `connection`, `http-503`,
    /// `rate-limited`, `invalid-recipient`, `meta-131026`, …
    public let code: String
    /// What the provider said, for `sb-error-detail` (trimmed).
    public let detail: String
    /// How long the provider asked us to wait, if it did (`Retry-After`, `retry_after`).
    public let retryAfter: Duration?

    public init(_ kind: Kind, code: String, detail: String, retryAfter: Duration? = nil) {
        self.kind = kind
        self.code = code
        self.detail = String(detail.prefix(500))
        self.retryAfter = retryAfter
    }

    public var isTransient: Bool { kind == .transient }

    /// What a provider's words say of the session, when they say it cannot send:
    /// WasenderAPI answers a send through a session that is not connected with a message
    /// naming its state (the exact text is not documented: matched loosely).
    public static func sessionDown(inProviderMessage message: String) -> SessionStatus? {
        let text = message.lowercased()
        if text.contains("logged out") || text.contains("logged_out") { return .loggedOut }
        if text.contains("need_scan") || text.contains("need scan") || text.contains("qr") { return .needScan }
        if text.contains("expired") && text.contains("session") { return .expired }
        if text.contains("not connected") || text.contains("disconnected") { return .disconnected }
        return nil
    }

    public var description: String {
        let kind = switch kind {
        case .transient: "transient"
        case .permanent: "permanent"
        case .sessionDown(let status): "session \(status.rawValue)"
        }
        return "\(kind) \(code): \(detail)"
            + (retryAfter.map { " (retry after \($0))" } ?? "")
    }

    /// Meta Cloud API error codes that mean "slow down", not "never".
    public static let metaTransientCodes: Set<Int> = [130429, 131056, 80007, 131048, 1, 2, 4, 131000]

    /// Classifies an HTTP answer that was not a success: 429 and 5xx are transient,
    /// 408 too; any other 4xx is permanent unless `providerCode` is a known rate limit.
    public static func http(status: Int, providerCode: Int? = nil, detail: String, retryAfter: Duration? = nil)
        -> SendFailure
    {
        if let providerCode, metaTransientCodes.contains(providerCode) {
            return SendFailure(.transient, code: "meta-\(providerCode)", detail: detail, retryAfter: retryAfter)
        }
        switch status {
        case 429:
            return SendFailure(.transient, code: "rate-limited", detail: detail, retryAfter: retryAfter)
        case 408, 500...599:
            return SendFailure(.transient, code: "http-\(status)", detail: detail, retryAfter: retryAfter)
        default:
            let code = providerCode.map { "meta-\($0)" } ?? "http-\(status)"
            return SendFailure(.permanent, code: code, detail: detail)
        }
    }
}
