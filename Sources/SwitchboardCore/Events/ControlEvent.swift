/// What one service tells the others on `sb.control` (fanout; every instance binds its
/// own queue): a tenant or session changed, so caches and consumers must follow.
/// Receivers also refresh periodically, so a lost control event only delays a change.
public struct ControlEvent: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable {
        case tenantCreated = "tenant.created"
        case tenantUpdated = "tenant.updated"
        case tenantDeleted = "tenant.deleted"
        /// Added, changed (status, primary, credentials) or deleted.
        case sessionChanged = "session.changed"
        /// A contact opted out or in, or its bulk messages were paused or resumed.
        case contactChanged = "contact.changed"
    }

    public var type: Kind
    public var tenant: TenantID
    public var session: SessionID?
    /// The contact of a `contact.changed` event.
    public var contact: PhoneNumber?

    public init(_ type: Kind, tenant: TenantID, session: SessionID? = nil, contact: PhoneNumber? = nil) {
        self.type = type
        self.tenant = tenant
        self.session = session
        self.contact = contact
    }
}
