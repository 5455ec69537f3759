import Crypto
import Foundation

/// The text form of an API key, `sb_<id>_<secret>`: the id finds the row, the secret
/// (32 random bytes, base64url) is checked against its stored SHA-256. A hash of a
/// high-entropy secret needs no slow KDF; the plaintext exists only in the answer that
/// created it.
struct APIKeyToken: Sendable, Hashable {
    let id: String
    let secret: String

    static func generate() -> APIKeyToken {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("abcdefghijkmnopqrstuvwxyz23456789")
        let id = String((0..<12).map { _ in alphabet[Int(generator.next(upperBound: UInt32(alphabet.count)))] })
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let secret = Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        return APIKeyToken(id: id, secret: secret)
    }

    init(id: String, secret: String) {
        self.id = id
        self.secret = secret
    }

    /// Parses a presented key; nil when it does not have the form at all.
    init?(_ text: String) {
        let parts = text.split(separator: "_", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "sb", parts[1].count == 12, parts[2].count == 43 else { return nil }
        id = String(parts[1])
        secret = String(parts[2])
    }

    var text: String { "sb_\(id)_\(secret)" }

    var secretHash: Data { Data(SHA256.hash(data: Data(secret.utf8))) }

    /// Constant-time comparison with a stored hash.
    func matches(_ storedHash: Data) -> Bool {
        let presented = secretHash
        guard presented.count == storedHash.count else { return false }
        var difference: UInt8 = 0
        for (a, b) in zip(presented, storedHash) { difference |= a ^ b }
        return difference == 0
    }
}
