public import Foundation
import SwitchboardCore

/// One message that failed for good, as the archive keeps it: why, where it came from
/// and where it may go back to, its `x-death` history, its headers and properties, and
/// its exact body bytes.
public struct ArchivedDeadLetter: Sendable, Hashable {
    /// Where an archived dead letter stands.
    public enum State: String, Sendable, Hashable, Codable, CaseIterable {
        /// Waiting for an operator (what lists and groups show by default).
        case archived
        /// Published again (confirmed); kept for the record until the retention ends.
        case replayed
        /// Hidden by an operator; kept until the retention ends, and restorable.
        case discarded
    }

    /// The archive's id (a ULID: sorts by archive time).
    public var id: String
    /// What identifies this dead letter's bytes (exchange, key, properties, body): a
    /// second delivery of the same dead letter has the same one and is not archived again.
    public var fingerprint: String
    /// The tenant it concerns: `sb-tenant`, else the first part of its routing key; a
    /// tenant that does not exist (an unroutable key) is kept as written.
    public var tenant: String
    /// The queue it was read from (`sb.dead`, `sb.unroutable`).
    public var source: String
    /// The exchange and routing key it reached that queue with.
    public var exchange: String
    public var routingKey: String
    /// Where it was first published, when known: where a replay sends it.
    public var originalExchange: String?
    public var originalRoutingKey: String?
    /// The reason (`sb.dlx`'s key suffix or the broker's `x-death` reason, `unroutable`).
    public var reason: String
    /// `sb-error-code` and `sb-error-detail`, when the service that parked it said why.
    public var errorCode: String?
    public var detail: String?
    public var attempts: Int
    public var firstFailedAt: Date?
    public var lastFailedAt: Date?
    /// The message's id (AMQP `message-id`), session and provider, when it names them.
    public var messageID: String?
    public var session: String?
    public var provider: String?
    /// JSON: the `x-death` history, every header and the AMQP properties.
    public var deathHistory: Data
    public var headers: Data
    public var properties: Data
    public var body: Data
    public var archivedAt: Date
    public var state: State
    /// How many times it was replayed, and when last.
    public var replays: Int
    public var replayedAt: Date?
    public var discardedAt: Date?
    /// Why the last replay job could not replay it (it waits again).
    public var replayError: String?

    public init(id: String, fingerprint: String, tenant: String, source: String, exchange: String, routingKey: String,
                originalExchange: String?, originalRoutingKey: String?, reason: String, errorCode: String?,
                detail: String?, attempts: Int, firstFailedAt: Date?, lastFailedAt: Date?, messageID: String?,
                session: String?, provider: String?, deathHistory: Data, headers: Data, properties: Data, body: Data,
                archivedAt: Date, state: State = .archived, replays: Int = 0, replayedAt: Date? = nil,
                discardedAt: Date? = nil, replayError: String? = nil) {
        self.id = id
        self.fingerprint = fingerprint
        self.tenant = tenant
        self.source = source
        self.exchange = exchange
        self.routingKey = routingKey
        self.originalExchange = originalExchange
        self.originalRoutingKey = originalRoutingKey
        self.reason = reason
        self.errorCode = errorCode
        self.detail = detail
        self.attempts = attempts
        self.firstFailedAt = firstFailedAt
        self.lastFailedAt = lastFailedAt
        self.messageID = messageID
        self.session = session
        self.provider = provider
        self.deathHistory = deathHistory
        self.headers = headers
        self.properties = properties
        self.body = body
        self.archivedAt = archivedAt
        self.state = state
        self.replays = replays
        self.replayedAt = replayedAt
        self.discardedAt = discardedAt
        self.replayError = replayError
    }
}

/// Which archived dead letters an operator means: every field set narrows the selection
/// (an empty error code, session or provider means "none").
public struct DeadLetterFilter: Sendable, Hashable {
    public var tenant: String?
    public var reason: String?
    public var errorCode: String?
    public var session: String?
    public var provider: String?
    /// Archived at or after / before.
    public var since: Date?
    public var until: Date?
    /// Default: those waiting for an operator.
    public var states: Set<ArchivedDeadLetter.State>

    public init(tenant: String? = nil, reason: String? = nil, errorCode: String? = nil, session: String? = nil,
                provider: String? = nil, since: Date? = nil, until: Date? = nil,
                states: Set<ArchivedDeadLetter.State> = [.archived]) {
        self.tenant = tenant
        self.reason = reason
        self.errorCode = errorCode
        self.session = session
        self.provider = provider
        self.since = since
        self.until = until
        self.states = states
    }
}

/// Where a page of dead letters ended: the next page starts after it (newest first).
public struct DeadLetterCursor: Sendable, Hashable {
    public var archivedAt: Date
    public var id: String

    public init(archivedAt: Date, id: String) {
        self.archivedAt = archivedAt
        self.id = id
    }

    /// `<ms>.<id>`, opaque to callers.
    public var token: String { "\(Int64((archivedAt.timeIntervalSince1970 * 1000).rounded())).\(id)" }

    public init?(token: String) {
        let parts = token.split(separator: ".", maxSplits: 1)
        guard parts.count == 2, let ms = Int64(parts[0]), !parts[1].isEmpty else { return nil }
        archivedAt = Date(timeIntervalSince1970: Double(ms) / 1000)
        id = String(parts[1])
    }
}

/// What dead letters are grouped by, within a tenant.
public enum DeadLetterGrouping: String, Sendable, Hashable, CaseIterable {
    /// The reason and error code (ServicePulse's "by exception").
    case reason
    case session
    case provider
}

/// Dead letters alike: a tenant's with the same reason and code (or session, or
/// provider), acted on as one.
public struct DeadLetterGroup: Sendable, Hashable {
    public var tenant: String
    public var reason: String?
    public var errorCode: String?
    public var session: String?
    public var provider: String?
    /// Waiting for an operator now.
    public var count: Int
    /// Ever archived in the group.
    public var total: Int
    public var firstSeen: Date
    public var lastSeen: Date

    public init(tenant: String, reason: String?, errorCode: String?, session: String?, provider: String?, count: Int,
                total: Int, firstSeen: Date, lastSeen: Date) {
        self.tenant = tenant
        self.reason = reason
        self.errorCode = errorCode
        self.session = session
        self.provider = provider
        self.count = count
        self.total = total
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
    }

    /// The dead letters of this group that wait for an operator (a field the grouping
    /// does not use is any; one it uses but the letters lack is "none", i.e. empty).
    public func filter(_ grouping: DeadLetterGrouping) -> DeadLetterFilter {
        switch grouping {
        case .reason: DeadLetterFilter(tenant: tenant, reason: reason, errorCode: errorCode ?? "")
        case .session: DeadLetterFilter(tenant: tenant, session: session ?? "")
        case .provider: DeadLetterFilter(tenant: tenant, provider: provider ?? "")
        }
    }
}

/// What happened to one dead letter an operator named.
public enum DeadLetterActionOutcome: String, Sendable, Hashable, Codable {
    /// Taken into a replay job / discarded / restored.
    case accepted
    case notFound = "not-found"
    /// Replayed before (a replay is not repeated) or already in another replay job.
    case alreadyReplayed = "already-replayed"
    case alreadyDiscarded = "already-discarded"
    /// A discarded one is restored before it can be replayed.
    case discarded
    /// Restore of one that is not discarded.
    case notDiscarded = "not-discarded"
}

/// A replay of many dead letters, run in the background by the `dead-letters` service
/// (or by the CLI that asked for it), resumable after a crash.
public struct ReplayJob: Sendable, Hashable {
    public enum State: String, Sendable, Hashable, Codable {
        case pending, running, done
    }

    public var id: String
    /// The tenant the job was asked for (nil: an admin's job across tenants).
    public var tenant: String?
    /// Send every message through this session instead (a redirect).
    public var session: String?
    public var state: State
    public var total: Int
    public var replayed: Int
    /// Could not be replayed (no way back, or an envelope the redirect cannot rewrite).
    public var failed: Int
    public var createdAt: Date
    public var updatedAt: Date
    public var actor: String

    public init(id: String, tenant: String?, session: String?, state: State, total: Int, replayed: Int, failed: Int,
                createdAt: Date, updatedAt: Date, actor: String) {
        self.id = id
        self.tenant = tenant
        self.session = session
        self.state = state
        self.total = total
        self.replayed = replayed
        self.failed = failed
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.actor = actor
    }

    public var remaining: Int { total - replayed - failed }
}

/// Who did something to dead letters (or anything else audited), what, and to how many.
public struct AuditEntry: Sendable, Hashable {
    public var id: Int64
    public var at: Date
    /// The key's id and label, or `cli:<user>`.
    public var actorID: String
    public var actorLabel: String?
    /// The tenant acted on; nil for an admin's action across tenants.
    public var tenant: String?
    /// `dead-letters.replay`, `dead-letters.discard`, …
    public var action: String
    /// What was named: ids, a filter, a job id (JSON).
    public var target: String
    public var count: Int

    public init(id: Int64 = 0, at: Date, actorID: String, actorLabel: String?, tenant: String?, action: String,
                target: String, count: Int) {
        self.id = id
        self.at = at
        self.actorID = actorID
        self.actorLabel = actorLabel
        self.tenant = tenant
        self.action = action
        self.target = target
        self.count = count
    }
}

/// The dead-letter archive, its groups, replay jobs and the audit log.
public protocol DeadLetterStore: Sendable {
    /// Archives each dead letter, in one transaction; one whose fingerprint is archived
    /// already is left as it is. Returns how many were new.
    @discardableResult
    func archive(_ letters: [ArchivedDeadLetter]) async throws(StoreError) -> Int
    func deadLetter(_ id: String) async throws(StoreError) -> ArchivedDeadLetter?
    /// Newest first, after `cursor`, at most `limit`.
    func deadLetters(matching filter: DeadLetterFilter, after cursor: DeadLetterCursor?, limit: Int)
        async throws(StoreError) -> [ArchivedDeadLetter]
    /// How many match (for a confirmation before acting on a filter).
    func countDeadLetters(matching filter: DeadLetterFilter) async throws(StoreError) -> Int
    /// The groups of `tenant` (every tenant's when nil), largest first; groups with none
    /// waiting are left out unless `includeEmpty`.
    func deadLetterGroups(tenant: String?, by grouping: DeadLetterGrouping, includeEmpty: Bool)
        async throws(StoreError) -> [DeadLetterGroup]
    /// Discards (or restores) each id; `tenant` limits which ids it may touch.
    func setDiscarded(_ ids: [String], _ discarded: Bool, tenant: String?, at: Date)
        async throws(StoreError) -> [String: DeadLetterActionOutcome]
    /// Discards every dead letter `filter` matches; returns how many.
    func discard(matching filter: DeadLetterFilter, at: Date) async throws(StoreError) -> Int
    /// Marks one dead letter replayed (its republish was confirmed); false when it was
    /// not waiting (replayed, discarded or unknown).
    func markReplayed(_ id: String, at: Date) async throws(StoreError) -> Bool
    /// Deletes replayed and discarded dead letters resolved before `date`; returns how many.
    func purgeDeadLetters(resolvedBefore date: Date) async throws(StoreError) -> Int

    /// A replay job of the named ids (those `tenant` may touch and that wait): per id,
    /// whether it was taken.
    func createReplayJob(ids: [String], tenant: String?, session: String?, actor: String, at: Date)
        async throws(StoreError) -> (job: ReplayJob, outcomes: [String: DeadLetterActionOutcome])
    /// A replay job of every dead letter `filter` matches (and no other job holds).
    func createReplayJob(matching filter: DeadLetterFilter, session: String?, actor: String, at: Date)
        async throws(StoreError) -> ReplayJob
    func replayJob(_ id: String) async throws(StoreError) -> ReplayJob?
    /// Takes the oldest job that is pending or whose lease ran out (its runner died),
    /// leased until `until`; or, with `id`, that job if it is free.
    func claimReplayJob(_ id: String?, leaseUntil until: Date) async throws(StoreError) -> ReplayJob?
    /// Extends a job's lease while its runner works.
    func renewReplayJob(_ id: String, leaseUntil until: Date) async throws(StoreError)
    /// The job's next dead letters not yet replayed, oldest first.
    func nextToReplay(job: String, limit: Int) async throws(StoreError) -> [ArchivedDeadLetter]
    /// Records what became of some of a job's dead letters (replayed: confirmed by the
    /// broker; failed: with why), and ends the job when none remain.
    func settleReplays(job: String, replayed: [String], failed: [String: String], at: Date)
        async throws(StoreError) -> ReplayJob

    func recordAudit(_ entry: AuditEntry) async throws(StoreError)
    /// Newest first; `tenant` nil: every entry (admins).
    func auditEntries(tenant: String?, before id: Int64?, limit: Int) async throws(StoreError) -> [AuditEntry]
}
