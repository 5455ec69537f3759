/// A tenant's id: the slug that names its queue (`sb.outbound.<id>`) and starts its
/// routing keys (`<id>.transactional`). Dots, wildcards and upper case are excluded
/// because they would change what a routing key or queue pattern matches.
public struct TenantID: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public let rawValue: String

    public init(_ rawValue: String) throws(TopologyError) {
        guard Slug.isValid(rawValue) else { throw .invalidTenant(rawValue) }
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
