public import Foundation
public import SwitchboardCore

/// What applying a reported session status did.
public struct SessionStatusChange: Sendable, Hashable {
    public var tenant: TenantID
    public var session: SessionID
    public var from: SessionStatus
    public var to: SessionStatus
    public var at: Date
    /// The session's status changed (else the report repeated it, or was older than the
    /// status the session has, and changed nothing).
    public var changed: Bool
    /// The session is connected again after a `session.alert` said it was down: the
    /// caller owes the "back" alert (claimed here, so only one caller gets it).
    public var recovered: Bool

    public init(tenant: TenantID, session: SessionID, from: SessionStatus, to: SessionStatus, at: Date, changed: Bool,
                recovered: Bool) {
        self.tenant = tenant
        self.session = session
        self.from = from
        self.to = to
        self.at = at
        self.changed = changed
        self.recovered = recovered
    }
}

/// A session down long enough to be told about, claimed for one alert.
public struct DownSession: Sendable, Hashable {
    public var tenant: TenantID
    public var session: SessionID
    public var status: SessionStatus
    public var since: Date

    public init(tenant: TenantID, session: SessionID, status: SessionStatus, since: Date) {
        self.tenant = tenant
        self.session = session
        self.status = status
        self.since = since
    }
}

/// One entry of a session's status history.
public struct SessionStatusRecord: Sendable, Hashable {
    public var status: SessionStatus
    public var at: Date
    /// `webhook`, `poll`, `send`, `operator`.
    public var source: String

    public init(status: SessionStatus, at: Date, source: String) {
        self.status = status
        self.at = at
        self.source = source
    }
}

/// Sessions' health as the `monitor` keeps it: statuses reported by providers, an
/// append-only history, and which sessions are down and were alerted about.
public protocol SessionHealthStore: Sendable {
    /// Makes `status` (reported as of `at`) `tenant`'s `session`'s status unless a later
    /// report was applied already; a change joins the history with its source and report
    /// id. A repeat (a replayed webhook, a poll that finds nothing new, a second monitor)
    /// changes nothing. Throws `notFound` for a session the tenant does not have.
    func applySessionStatus(_ status: SessionStatus, of session: SessionID, tenant: TenantID, at: Date,
                            source: String, reportID: String) async throws(StoreError) -> SessionStatusChange
    /// Claims the sessions down since before `before` that were not alerted about yet.
    func claimDownSessions(downSince before: Date, at: Date) async throws(StoreError) -> [DownSession]
    /// Keeps a Meta number's quality rating and messaging limit tier, for the health view.
    func recordProviderDetails(of session: SessionID, qualityRating: String?, messagingLimitTier: String?)
        async throws(StoreError)
    /// The session's history, newest first.
    func sessionStatusHistory(_ session: SessionID, limit: Int) async throws(StoreError) -> [SessionStatusRecord]
}

/// One session as the health view shows it.
public struct SessionHealth: Sendable, Hashable {
    public var tenant: TenantID
    public var session: SessionID
    public var provider: ProviderKind
    public var status: SessionStatus
    /// When the status last changed (nil: never reported since it was added).
    public var statusChangedAt: Date?
    /// Down (any status but connected) since.
    public var downSince: Date?
    public var lastSentAt: Date?
    /// Meta numbers: `GREEN`/`YELLOW`/`RED` and `TIER_…`, as the last poll heard them.
    public var qualityRating: String?
    public var messagingLimitTier: String?

    public init(tenant: TenantID, session: SessionID, provider: ProviderKind, status: SessionStatus,
                statusChangedAt: Date?, downSince: Date?, lastSentAt: Date?, qualityRating: String? = nil,
                messagingLimitTier: String? = nil) {
        self.tenant = tenant
        self.session = session
        self.provider = provider
        self.status = status
        self.statusChangedAt = statusChangedAt
        self.downSince = downSince
        self.lastSentAt = lastSentAt
        self.qualityRating = qualityRating
        self.messagingLimitTier = messagingLimitTier
    }
}

/// Service instances as their heartbeats on `sb.control` report them.
public protocol ServiceInstanceStore: Sendable {
    func recordHeartbeat(_ heartbeat: InstanceHeartbeat, at: Date) async throws(StoreError)
    /// Instances heard from since `date`, most recent first.
    func serviceInstances(seenSince date: Date) async throws(StoreError) -> [(InstanceHeartbeat, lastSeen: Date)]
    /// Every session's health, by tenant and session.
    func sessionHealth() async throws(StoreError) -> [SessionHealth]
}
