/// A tenant's id: the slug that names its queue (`sb.outbound.<id>`) and starts its
/// routing keys (`<id>.transactional`).
public struct TenantID: SlugIdentifier {
    public let rawValue: String

    public init(_ rawValue: String) throws(TopologyError) {
        guard Slug.isValid(rawValue) else { throw .invalidTenant(rawValue) }
        self.rawValue = rawValue
    }

    public init(validating slug: String) throws { try self.init(slug) }
}
