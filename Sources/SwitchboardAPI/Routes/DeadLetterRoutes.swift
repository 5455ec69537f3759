import Foundation
import Hummingbird
import SwitchboardCore
import SwitchboardDeadLetters
import SwitchboardHTTP
import SwitchboardStore

/// `/v1/dead-letters` and `/v1/audit`: what failed for good, for operators. List and
/// group the archive, read one (decoded envelope, raw body, headers, `x-death`), replay
/// (ids or a filter, as a background job; optionally through another session), edit an
/// envelope and replay it, discard and restore; every action is in the audit log. A
/// tenant key sees and acts on its own tenant's dead letters only (another's are 404).
struct DeadLetterRoutes: Sendable {
    let store: any DeadLetterStore
    let sessions: any SessionStore
    let replayer: DeadLetterReplayer

    /// Ids one request may name.
    static let maximumIDs = 10_000

    func addRoutes(to group: RouterGroup<APIRequestContext>) {
        group.get("dead-letters", use: list)
        group.get("dead-letters/groups", use: groups)
        group.get("dead-letters/jobs/{job}", use: job)
        group.post("dead-letters/replay", use: replay)
        group.post("dead-letters/discard", use: discard)
        group.post("dead-letters/restore", use: restore)
        group.get("dead-letters/{id}", use: show)
        group.post("dead-letters/{id}/edit", use: edit)
        group.get("audit", use: audit)
    }

    // MARK: Reading

    @Sendable func list(_ request: Request, context: APIRequestContext) async throws
        -> JSONResponse<DeadLetterPage>
    {
        let query = request.uri.queryParameters
        var filter = try DeadLetterFilterBody(
            tenant: query.get("tenant"), reason: query.get("reason"), errorCode: query.get("code"),
            session: query.get("session"), provider: query.get("provider"), since: query.get("since"),
            until: query.get("until")).filter(context, requireCriterion: false)
        if let state = query.get("state") {
            switch state {
            case "all": filter.states = Set(ArchivedDeadLetter.State.allCases)
            default:
                guard let value = ArchivedDeadLetter.State(rawValue: state) else {
                    throw Problem.validation(field: "state", "must be archived, replayed, discarded or all")
                }
                filter.states = [value]
            }
        }
        let limit = try pageLimit(query.get("limit"))
        var cursor: DeadLetterCursor?
        if let token = query.get("cursor") {
            guard let value = DeadLetterCursor(token: token) else {
                throw Problem.validation(field: "cursor", "is not a cursor this API returned")
            }
            cursor = value
        }
        let page = try await storeCall { () async throws(StoreError) in
            try await store.deadLetters(matching: filter, after: cursor, limit: limit)
        }
        return JSONResponse(value: DeadLetterPage(
            deadLetters: page.map(DeadLetterSummary.init),
            nextCursor: page.count == limit ? page.last.map { DeadLetterCursor(archivedAt: $0.archivedAt, id: $0.id).token } : nil))
    }

    @Sendable func groups(_ request: Request, context: APIRequestContext) async throws
        -> JSONResponse<DeadLetterGroupList>
    {
        let query = request.uri.queryParameters
        let tenant = try scope(context, named: query.get("tenant"))
        var grouping = DeadLetterGrouping.reason
        if let text = query.get("by") {
            guard let value = DeadLetterGrouping(rawValue: text) else {
                throw Problem.validation(field: "by", "must be reason, session or provider")
            }
            grouping = value
        }
        let includeEmpty = try request.flag("all")
        let groups = try await storeCall { () async throws(StoreError) in
            try await store.deadLetterGroups(tenant: tenant, by: grouping, includeEmpty: includeEmpty)
        }
        return JSONResponse(value: DeadLetterGroupList(by: grouping.rawValue, groups: groups.map(GroupResource.init)))
    }

    @Sendable func show(_ request: Request, context: APIRequestContext) async throws
        -> JSONResponse<DeadLetterDetail>
    {
        JSONResponse(value: DeadLetterDetail(try await visible(context.parameters.get("id") ?? "", context)))
    }

    @Sendable func job(_ request: Request, context: APIRequestContext) async throws -> JSONResponse<JobResource> {
        let id = context.parameters.get("job") ?? ""
        guard let job = try await storeCall({ () async throws(StoreError) in try await store.replayJob(id) }),
              try mayAct(context, on: job.tenant)
        else { throw Problem.notFound("replay job \(id)") }
        return JSONResponse(value: JobResource(job))
    }

    @Sendable func audit(_ request: Request, context: APIRequestContext) async throws -> JSONResponse<AuditPage> {
        let query = request.uri.queryParameters
        let tenant = try scope(context, named: query.get("tenant"))
        let limit = try pageLimit(query.get("limit"))
        var before: Int64?
        if let text = query.get("before") {
            guard let value = Int64(text), value > 0 else { throw Problem.validation(field: "before", "must be an entry id") }
            before = value
        }
        let entries = try await storeCall { () async throws(StoreError) in
            try await store.auditEntries(tenant: tenant, before: before, limit: limit)
        }
        return JSONResponse(value: AuditPage(entries: entries.map(AuditResource.init),
                                             nextBefore: entries.count == limit ? entries.last?.id : nil))
    }

    // MARK: Acting

    /// What a replay, discard or restore names: ids, or a filter (not both).
    struct ActionRequest: Codable, Sendable {
        var ids: [String]?
        var filter: DeadLetterFilterBody?
        /// Replay only: send through this session of the tenant instead (a redirect).
        var session: String?
    }

    @Sendable func replay(_ request: Request, context: APIRequestContext) async throws
        -> JSONResponse<ActionAnswer>
    {
        var request = request
        let body = try await request.decodeJSON(ActionRequest.self, limit: APIServer.maximumBodySize)
        let caller = try context.requireCaller()
        let actor = caller.id
        let now = Date()
        switch try selection(body, context) {
        case .ids(let ids, let tenant):
            if let session = body.session { try await checkRedirect(session, tenant: tenant, ids: ids) }
            let (job, outcomes) = try await storeCall { () async throws(StoreError) in
                try await store.createReplayJob(ids: ids, tenant: tenant, session: body.session, actor: actor, at: now)
            }
            try await record(context, "dead-letters.replay", tenant: tenant,
                             target: ["ids": .array(ids.map(JSONValue.string)), "job": .string(job.id)],
                             count: job.total)
            return JSONResponse(status: .accepted, value: ActionAnswer(count: job.total, job: JobResource(job),
                                                                       results: results(ids, outcomes)))
        case .filter(let filter, let text):
            if let session = body.session {
                guard let tenant = filter.tenant else {
                    throw Problem.validation(field: "session", "a redirect needs the filter to name one tenant")
                }
                try await checkRedirect(session, tenant: tenant, ids: [])
            }
            let job = try await storeCall { () async throws(StoreError) in
                try await store.createReplayJob(matching: filter, session: body.session, actor: actor, at: now)
            }
            try await record(context, "dead-letters.replay", tenant: filter.tenant,
                             target: ["filter": text, "job": .string(job.id)], count: job.total)
            return JSONResponse(status: .accepted, value: ActionAnswer(count: job.total, job: JobResource(job),
                                                                       results: nil))
        }
    }

    @Sendable func discard(_ request: Request, context: APIRequestContext) async throws -> JSONResponse<ActionAnswer> {
        try await setDiscarded(request, context, true)
    }

    @Sendable func restore(_ request: Request, context: APIRequestContext) async throws -> JSONResponse<ActionAnswer> {
        try await setDiscarded(request, context, false)
    }

    private func setDiscarded(_ request: Request, _ context: APIRequestContext, _ discarded: Bool) async throws
        -> JSONResponse<ActionAnswer>
    {
        var request = request
        let body = try await request.decodeJSON(ActionRequest.self, limit: APIServer.maximumBodySize)
        if body.session != nil { throw Problem.validation(field: "session", "only a replay takes a session") }
        let action = discarded ? "dead-letters.discard" : "dead-letters.restore"
        let now = Date()
        switch try selection(body, context) {
        case .ids(let ids, let tenant):
            let outcomes = try await storeCall { () async throws(StoreError) in
                try await store.setDiscarded(ids, discarded, tenant: tenant, at: now)
            }
            let count = outcomes.values.filter { $0 == .accepted }.count
            try await record(context, action, tenant: tenant, target: ["ids": .array(ids.map(JSONValue.string))],
                             count: count)
            return JSONResponse(value: ActionAnswer(count: count, job: nil, results: results(ids, outcomes)))
        case .filter(let filter, let text):
            guard discarded else { throw Problem.validation(field: "filter", "restore takes ids") }
            let count = try await storeCall { () async throws(StoreError) in
                try await store.discard(matching: filter, at: now)
            }
            try await record(context, action, tenant: filter.tenant, target: ["filter": text], count: count)
            return JSONResponse(value: ActionAnswer(count: count, job: nil, results: nil))
        }
    }

    /// An edited envelope: a JSON merge patch (RFC 7386) over the dead letter's body.
    struct EditRequest: Codable, Sendable {
        var patch: JSONValue
    }

    @Sendable func edit(_ request: Request, context: APIRequestContext) async throws -> JSONResponse<EditAnswer> {
        var request = request
        let body = try await request.decodeJSON(EditRequest.self, limit: APIServer.maximumBodySize)
        let letter = try await visible(context.parameters.get("id") ?? "", context)
        let edited: (envelope: OutboundEnvelope, letter: ArchivedDeadLetter)
        do {
            edited = try await DeadLetterEditor(store: store, sessions: sessions, replayer: replayer)
                .edit(letter, patch: body.patch)
        } catch {
            switch error {
            case .notWaiting(let state):
                throw Problem.conflict("dead-letter-resolved", "dead letter \(letter.id) is \(state.rawValue), not waiting")
            case .notAnEnvelope(let why):
                throw Problem.conflict("not-an-envelope", "dead letter \(letter.id) cannot be edited: \(why)")
            case .invalid(let problems): throw Problem.validation(problems)
            case .replay(let why): throw Problem.brokerUnavailable("\(why)")
            case .store(let why): throw Problem(why)
            }
        }
        try await record(context, "dead-letters.edit", tenant: letter.tenant,
                         target: ["id": .string(letter.id), "patch": body.patch], count: 1)
        return JSONResponse(value: EditAnswer(deadLetter: DeadLetterSummary(edited.letter), messageID: edited.envelope.id))
    }

    // MARK: Helpers

    private enum Selection {
        case ids([String], tenant: String?)
        case filter(DeadLetterFilter, text: JSONValue)
    }

    /// The ids or the filter of an action, scoped to what the caller may touch.
    private func selection(_ body: ActionRequest, _ context: APIRequestContext) throws -> Selection {
        switch (body.ids, body.filter) {
        case (let ids?, nil):
            guard !ids.isEmpty, ids.count <= Self.maximumIDs else {
                throw Problem.validation(field: "ids", "must name 1–\(Self.maximumIDs) dead letters")
            }
            return .ids(ids, tenant: try scope(context, named: nil))
        case (nil, let filter?):
            return .filter(try filter.filter(context, requireCriterion: true), text: filter.json)
        default:
            throw Problem.validation(field: "ids", "name either ids or a filter")
        }
    }

    /// The tenant a tenant key is limited to, or the one an admin names (nil: all).
    private func scope(_ context: APIRequestContext, named name: String?) throws -> String? {
        switch try context.requireCaller().scope {
        case .tenant(let own):
            if let name, name != own.rawValue { throw Problem.notFound("tenant \(name)") }
            return own.rawValue
        case .admin:
            return name
        }
    }

    private func mayAct(_ context: APIRequestContext, on tenant: String?) throws -> Bool {
        switch try context.requireCaller().scope {
        case .admin: true
        case .tenant(let own): tenant == own.rawValue
        }
    }

    /// The dead letter `id`, if the caller may see it (404 otherwise, as if absent).
    private func visible(_ id: String, _ context: APIRequestContext) async throws -> ArchivedDeadLetter {
        guard let letter = try await storeCall({ () async throws(StoreError) in try await store.deadLetter(id) }),
              try mayAct(context, on: letter.tenant)
        else { throw Problem.notFound("dead letter \(id)") }
        return letter
    }

    /// A redirect must name a session of the dead letters' tenant.
    private func checkRedirect(_ session: String, tenant: String?, ids: [String]) async throws {
        guard let id = try? SessionID(session),
              let found = try await storeCall({ () async throws(StoreError) in try await sessions.session(id) })
        else { throw Problem.validation(field: "session", "no session \(session)") }
        var tenants: Set<String> = tenant.map { [$0] } ?? []
        if tenant == nil {
            for id in ids {
                if let letter = try await storeCall({ () async throws(StoreError) in try await store.deadLetter(id) }) {
                    tenants.insert(letter.tenant)
                }
            }
        }
        guard tenants.count <= 1, tenants.first.map({ $0 == found.tenant.rawValue }) ?? true else {
            throw Problem.validation(field: "session", "session \(session) is not a session of the dead letters' tenant")
        }
    }

    private func record(_ context: APIRequestContext, _ action: String, tenant: String?, target: [String: JSONValue],
                        count: Int) async throws {
        let caller = try context.requireCaller()
        let text = String(decoding: (try? JSONEncoder().encode(target)) ?? Data(), as: UTF8.self)
        try await storeCall { () async throws(StoreError) in
            try await store.recordAudit(AuditEntry(at: Date(), actorID: caller.id, actorLabel: caller.label, tenant: tenant,
                                                   action: action, target: text, count: count))
        }
    }

    private func results(_ ids: [String], _ outcomes: [String: DeadLetterActionOutcome]) -> [ActionResult] {
        var seen: Set<String> = []
        return ids.filter { seen.insert($0).inserted }.map { ActionResult(id: $0, outcome: outcomes[$0] ?? .notFound) }
    }
}

// MARK: Bodies

/// A filter as a query or a body gives it.
struct DeadLetterFilterBody: Codable, Sendable {
    var tenant: String?
    var reason: String?
    var errorCode: String?
    var session: String?
    var provider: String?
    var since: String?
    var until: String?

    enum CodingKeys: String, CodingKey {
        case tenant, reason, session, provider, since, until
        case errorCode = "error_code"
    }

    /// The store's filter, limited to the caller's tenant; an action on a filter must
    /// narrow it by at least one field.
    func filter(_ context: APIRequestContext, requireCriterion: Bool) throws -> DeadLetterFilter {
        var tenantScope: String?
        switch try context.requireCaller().scope {
        case .tenant(let own):
            if let tenant, tenant != own.rawValue { throw Problem.notFound("tenant \(tenant)") }
            tenantScope = own.rawValue
        case .admin:
            tenantScope = tenant
        }
        let filter = DeadLetterFilter(
            tenant: tenantScope, reason: reason, errorCode: errorCode, session: session, provider: provider,
            since: try time(since, field: "since"), until: try time(until, field: "until"))
        if requireCriterion, tenant == nil, reason == nil, errorCode == nil, session == nil, provider == nil,
           since == nil, until == nil {
            throw Problem.validation(field: "filter", "must name at least one of tenant, reason, error_code, session, provider, since, until")
        }
        return filter
    }

    var json: JSONValue {
        var object: [String: JSONValue] = [:]
        for (key, value) in [("tenant", tenant), ("reason", reason), ("error_code", errorCode), ("session", session),
                             ("provider", provider), ("since", since), ("until", until)] {
            if let value { object[key] = .string(value) }
        }
        return .object(object)
    }
}

struct DeadLetterPage: Codable, Sendable {
    var deadLetters: [DeadLetterSummary]
    var nextCursor: String?

    enum CodingKeys: String, CodingKey {
        case deadLetters = "dead_letters", nextCursor = "next_cursor"
    }
}

struct GroupResource: Codable, Sendable {
    var tenant: String
    var reason: String?
    var errorCode: String?
    var session: String?
    var provider: String?
    var count: Int
    var total: Int
    var firstSeen: Date
    var lastSeen: Date

    enum CodingKeys: String, CodingKey {
        case tenant, reason, session, provider, count, total
        case errorCode = "error_code", firstSeen = "first_seen", lastSeen = "last_seen"
    }

    init(_ group: DeadLetterGroup) {
        tenant = group.tenant
        reason = group.reason
        errorCode = group.errorCode
        session = group.session
        provider = group.provider
        count = group.count
        total = group.total
        firstSeen = group.firstSeen
        lastSeen = group.lastSeen
    }
}

struct DeadLetterGroupList: Codable, Sendable {
    var by: String
    var groups: [GroupResource]
}

struct JobResource: Codable, Sendable {
    var id: String
    var tenant: String?
    var session: String?
    var state: ReplayJob.State
    var total: Int
    var replayed: Int
    var failed: Int
    var createdAt: Date
    var updatedAt: Date

    enum CodingKeys: String, CodingKey {
        case id, tenant, session, state, total, replayed, failed
        case createdAt = "created_at", updatedAt = "updated_at"
    }

    init(_ job: ReplayJob) {
        id = job.id
        tenant = job.tenant
        session = job.session
        state = job.state
        total = job.total
        replayed = job.replayed
        failed = job.failed
        createdAt = job.createdAt
        updatedAt = job.updatedAt
    }
}

struct ActionResult: Codable, Sendable {
    var id: String
    var outcome: DeadLetterActionOutcome
}

struct ActionAnswer: Codable, Sendable {
    /// How many dead letters the action took.
    var count: Int
    var job: JobResource?
    /// Per id, when ids were named.
    var results: [ActionResult]?
}

struct EditAnswer: Codable, Sendable {
    var deadLetter: DeadLetterSummary
    var messageID: String

    enum CodingKeys: String, CodingKey {
        case deadLetter = "dead_letter", messageID = "message_id"
    }
}

struct AuditResource: Codable, Sendable {
    var id: Int64
    var at: Date
    var actor: String
    var actorLabel: String?
    var tenant: String?
    var action: String
    var target: JSONValue
    var count: Int

    enum CodingKeys: String, CodingKey {
        case id, at, actor, tenant, action, target, count
        case actorLabel = "actor_label"
    }

    init(_ entry: AuditEntry) {
        id = entry.id
        at = entry.at
        actor = entry.actorID
        actorLabel = entry.actorLabel
        tenant = entry.tenant
        action = entry.action
        target = (try? JSONDecoder().decode(JSONValue.self, from: Data(entry.target.utf8))) ?? .string(entry.target)
        count = entry.count
    }
}

struct AuditPage: Codable, Sendable {
    var entries: [AuditResource]
    var nextBefore: Int64?

    enum CodingKeys: String, CodingKey {
        case entries
        case nextBefore = "next_before"
    }
}
