/// A tenant's id: the slug that names its queue (`sb.outbound.<id>`) and starts its
/// routing keys (`<id>.transactional`). Dots, wildcards and upper case are excluded
/// because they would change what a routing key or queue pattern matches.
public struct TenantID: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public let rawValue: String

    public init(_ rawValue: String) throws(TopologyError) {
        let bytes = Array(rawValue.utf8)
        func allowed(_ b: UInt8) -> Bool { (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) || b == 0x2D }
        guard (1...63).contains(bytes.count), bytes.allSatisfy(allowed), bytes[0] != 0x2D else {
            throw .invalidTenant(rawValue)
        }
        self.rawValue = rawValue
    }

    public init(from decoder: any Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(raw) } catch { throw error }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }
    public static func < (lhs: TenantID, rhs: TenantID) -> Bool { lhs.rawValue < rhs.rawValue }
}
