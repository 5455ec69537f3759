import Crypto
public import Foundation

/// The three ways providers prove a webhook is theirs (ARCHITECTURE.md, PROVIDERS.md).
/// Every comparison takes the same time whatever the input, so a caller cannot learn a
/// secret byte by byte.
public enum WebhookSignature {
    /// Why a Standard Webhooks signature was refused.
    public enum Refusal: Error, Sendable, Hashable, CustomStringConvertible {
        case missingHeaders
        /// `webhook-timestamp` further from now than the tolerance (a replay).
        case stale(seconds: Int)
        case mismatch

        public var description: String {
            switch self {
            case .missingHeaders: "webhook-id, webhook-timestamp and webhook-signature are required"
            case .stale(let seconds): "webhook-timestamp is \(seconds) s from now, beyond the tolerance"
            case .mismatch: "no signature matches"
            }
        }
    }

    /// WasenderAPI: `X-Webhook-Signature` carries the session's webhook secret itself.
    public static func wasender(header: String?, secret: String) -> Bool {
        guard let header else { return false }
        return constantTimeEqual(Array(header.utf8), Array(secret.utf8))
    }

    /// Meta: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(raw body, app secret)>`.
    public static func meta(header: String?, body: some DataProtocol, appSecret: String) -> Bool {
        guard let header, header.hasPrefix("sha256="), let given = hexBytes(header.dropFirst(7)) else { return false }
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data(appSecret.utf8)))
        return constantTimeEqual(Array(mac), given)
    }

    /// Standard Webhooks: `webhook-signature` holds space-separated `v1,<base64 HMAC-
    /// SHA256 of "id.timestamp.body">`, any of which may match; the key is the base64
    /// rest of a `whsec_` secret, else the secret's bytes; the timestamp must be within
    /// `tolerance` of `now` either way.
    public static func standard(id: String?, timestamp: String?, signatures: String?, body: some DataProtocol,
                                secret: String, now: Date = Date(), tolerance: Duration = .seconds(300))
        throws(Refusal)
    {
        guard let id, let timestamp, let signatures, let seconds = Int(timestamp) else { throw .missingHeaders }
        let skew = Int(now.timeIntervalSince1970) - seconds
        guard abs(skew) <= Int(tolerance.components.seconds) else { throw .stale(seconds: skew) }
        var key = Data(secret.utf8)
        if secret.hasPrefix("whsec_"), let decoded = Data(base64Encoded: String(secret.dropFirst(6))) { key = decoded }
        var signed = Data("\(id).\(timestamp).".utf8)
        signed.append(contentsOf: body)
        let expected = Array(HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: key)))
        var matched = false
        for candidate in signatures.split(separator: " ") where candidate.hasPrefix("v1,") {
            if let given = Data(base64Encoded: String(candidate.dropFirst(3))),
               constantTimeEqual(expected, Array(given)) {
                matched = true
            }
        }
        guard matched else { throw .mismatch }
    }

    /// Signs for Standard Webhooks: `v1,` and the base64 HMAC-SHA256 of
    /// `id.timestamp.body`; a `whsec_` secret's key is its base64-decoded rest, any other
    /// secret's its UTF-8 bytes. What `standard(…)` checks.
    public static func standardSignature(id: String, timestamp: Int, body: some DataProtocol, secret: String) -> String {
        var key = Data(secret.utf8)
        if secret.hasPrefix("whsec_"), let decoded = Data(base64Encoded: String(secret.dropFirst(6))) { key = decoded }
        var signed = Data("\(id).\(timestamp).".utf8)
        signed.append(contentsOf: body)
        let mac = HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: key))
        return "v1," + Data(mac).base64EncodedString()
    }

    /// True when both are equal, in time that depends on their lengths only.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        let count = max(a.count, b.count)
        for index in 0..<count {
            let x = index < a.count ? a[index] : 0
            let y = index < b.count ? b[index] : 0
            difference |= x ^ y
        }
        return difference == 0
    }

    private static func hexBytes(_ text: Substring) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = nibble(digits[index]), let low = nibble(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
