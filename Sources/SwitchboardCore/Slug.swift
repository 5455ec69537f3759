/// The ids Switchboard names things by (tenants, sessions): 1–63 of `a-z 0-9 -`, not
/// starting with `-`. They appear in routing keys, queue names, policy patterns and
/// URLs, where a dot, a wildcard or upper case would change what they match.
enum Slug {
    static func isValid(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard (1...63).contains(bytes.count), bytes[0] != UInt8(ascii: "-") else { return false }
        return bytes.allSatisfy { b in
            (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
                || b == UInt8(ascii: "-")
        }
    }
}

/// An id that is a slug: it is coded as its text, sorts and prints as its text, and
/// can only be made through its validating initializer.
public protocol SlugIdentifier: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    var rawValue: String { get }
    /// Validates `slug`; throws the id's own error when it is not one.
    init(validating slug: String) throws
}

extension SlugIdentifier {
    public init(from decoder: any Decoder) throws {
        try self.init(validating: decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}
