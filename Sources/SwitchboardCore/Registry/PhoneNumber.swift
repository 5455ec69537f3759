/// A phone number in E.164 form (`+` then 7–15 digits, no leading zero): what both
/// providers accept and what contacts are keyed by.
public struct PhoneNumber: Sendable, Hashable, Codable, CustomStringConvertible {
    public let e164: String

    public init(_ text: String) throws(RegistryError) {
        let bytes = Array(text.utf8)
        guard bytes.count >= 8, bytes.count <= 16, bytes[0] == UInt8(ascii: "+"), bytes[1] != UInt8(ascii: "0"),
              bytes.dropFirst().allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        else {
            throw .invalid(field: "phone number", "'\(text)' is not E.164 (+ and 7–15 digits, e.g. +14155550123)")
        }
        e164 = text
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(text) } catch { throw error }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(e164)
    }

    public var description: String { e164 }

    /// A valid number (the one the docs use), for checking the other fields of an
    /// envelope whose own number is invalid.
    public static let example = PhoneNumber(unchecked: "+14155550123")

    private init(unchecked: String) { e164 = unchecked }
}

/// Why registry input is unusable.
public enum RegistryError: Error, Sendable, Hashable, CustomStringConvertible {
    case invalid(field: String, String)

    public var description: String {
        switch self {
        case .invalid(let field, let why): "invalid \(field): \(why)"
        }
    }

    /// The field at fault.
    public var field: String {
        switch self {
        case .invalid(let field, _): field
        }
    }

    /// What is wrong with it.
    public var reason: String {
        switch self {
        case .invalid(_, let why): why
        }
    }
}
