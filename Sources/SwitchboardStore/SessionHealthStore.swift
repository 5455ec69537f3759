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
    /// The session's history, newest first.
    func sessionStatusHistory(_ session: SessionID, limit: Int) async throws(StoreError) -> [SessionStatusRecord]
}
