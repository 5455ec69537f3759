public import struct Foundation.Date

/// A client account of the gateway: its WhatsApp sessions, keys and limits.
public struct Tenant: Sendable, Hashable, Codable {
    public var id: TenantID
    public var name: String
    public var limits: TenantLimits
    public var createdAt: Date

    public init(id: TenantID, name: String, limits: TenantLimits = TenantLimits(), createdAt: Date = Date()) {
        self.id = id
        self.name = name
        self.limits = limits
        self.createdAt = createdAt
    }

    /// What the broker needs to know of this tenant.
    public var provision: TenantProvision { TenantProvision(id: id, backlogQuota: limits.backlogQuota) }
}

/// How fast and how much a tenant may send.
public struct TenantLimits: Sendable, Hashable, Codable {
    /// Messages per second per session (the provider's limit for the number).
    public var sessionRate: Double
    /// The share of `sessionRate` that bulk messages may use (0…1); transactional
    /// messages may use all of it.
    public var bulkShare: Double
    /// Ready messages the tenant's queue may hold before publishes are refused; nil is unlimited.
    public var backlogQuota: Int?

    public init(sessionRate: Double = 1, bulkShare: Double = 0.5, backlogQuota: Int? = nil) {
        self.sessionRate = sessionRate
        self.bulkShare = bulkShare
        self.backlogQuota = backlogQuota
    }

    /// Checks the ranges; throws with the field that is out of range.
    public func validated() throws(RegistryError) -> TenantLimits {
        guard sessionRate > 0, sessionRate <= 1000, sessionRate.isFinite else {
            throw .invalid(field: "session_rate", "must be more than 0 and at most 1000 messages/s")
        }
        guard (0...1).contains(bulkShare) else { throw .invalid(field: "bulk_share", "must be between 0 and 1") }
        if let backlogQuota, backlogQuota < 1 {
            throw .invalid(field: "backlog_quota", "must be at least 1 (or absent for no quota)")
        }
        return self
    }
}
