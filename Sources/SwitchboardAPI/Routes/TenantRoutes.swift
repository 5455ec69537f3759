import Hummingbird
import SwitchboardBroker
import SwitchboardCore
import SwitchboardHTTP
import SwitchboardRegistry
import SwitchboardStore

/// `/v1/tenants`: admins create, list, change and delete tenants (each creation and
/// deletion provisions or deprovisions the tenant's queue); a tenant key reads its own.
struct TenantRoutes: Sendable {
    let registry: TenantRegistry
    let caches: APICaches
    let control: ControlAnnouncer

    func addRoutes(to group: RouterGroup<APIRequestContext>) {
        group.post("tenants", use: create)
        group.post("tenants/batch", use: createBatch)
        group.get("tenants", use: list)
        group.get("tenants/{tenant}", use: show)
        group.patch("tenants/{tenant}", use: update)
        group.delete("tenants/{tenant}", use: delete)
    }

    @Sendable func create(_ request: Request, context: APIRequestContext) async throws -> JSONResponse<TenantResource> {
        try context.requireAdmin()
        var request = request
        let body = try await request.decodeJSON(CreateTenantRequest.self, limit: APIServer.maximumBodySize)
        let requested = try body.tenant()
        let tenant = try await Self.run { () async throws(RegistryFailure) in try await registry.create(requested) }
        let id = tenant.id
        await control.announce(ControlEvent(.tenantCreated, tenant: id))
        return JSONResponse(status: .created, headers: [.location: "/v1/tenants/\(id)"], value: TenantResource(tenant))
    }

    /// Items a batch may hold.
    static let maximumBatchItems = 1_000
    /// A batch's body limit: a thousand tenants with sessions and credentials.
    static let maximumBatchBodySize = 8 << 20

    /// Up to 1,000 tenants with their sessions; each item succeeds or fails on its own
    /// (the answer is 200 with a result per item, or a problem for the batch as a whole).
    @Sendable func createBatch(_ request: Request, context: APIRequestContext) async throws -> JSONResponse<TenantBatchResource> {
        try context.requireAdmin()
        var request = request
        let body = try await request.decodeJSON(TenantBatchRequest.self, limit: Self.maximumBatchBodySize)
        guard (1...Self.maximumBatchItems).contains(body.tenants.count) else {
            throw Problem.validation(field: "tenants", "must hold 1–\(Self.maximumBatchItems) tenants")
        }
        var results = body.tenants.map { TenantBatchResource.Result(id: $0.tenant.id, status: 0) }
        var onboardings: [TenantOnboarding] = []
        var positions: [Int] = []
        var generatedSecrets: [SessionID: String] = [:]
        for (index, item) in body.tenants.enumerated() {
            do throws(Problem) {
                let tenant = try item.tenant.tenant()
                var sessions: [NewSession] = []
                for (number, requested) in item.sessions.enumerated() {
                    do {
                        let (new, generated) = try requested.session(of: tenant.id)
                        sessions.append(new)
                        if let generated { generatedSecrets[new.session.id] = generated }
                    } catch {
                        throw error.within("sessions[\(number)]")
                    }
                }
                onboardings.append(TenantOnboarding(tenant: tenant, sessions: sessions))
                positions.append(index)
            } catch {
                results[index].status = Int(error.status.code)
                results[index].problem = error
            }
        }
        let outcomes = await registry.create(onboardings)
        var created: [TenantOnboarding] = []
        for (index, outcome) in zip(positions, outcomes) {
            switch outcome {
            case .exists:
                let problem = Problem.conflict("tenant-exists", "tenant \(results[index].id) already exists")
                results[index].status = Int(problem.status.code)
                results[index].problem = problem
            case .created(let onboarding):
                created.append(onboarding)
                results[index].status = 201
                results[index].tenant = TenantResource(onboarding.tenant)
                results[index].sessions = onboarding.recordedSessions.map {
                    SessionResource($0, webhookSecret: generatedSecrets[$0.id])
                }
            case .failed(let failure):
                let problem = Self.problem(failure)
                results[index].status = Int(problem.status.code)
                results[index].problem = problem
            }
        }
        if !created.isEmpty { caches.sessionsChanged() }
        await control.announce(created.map { ControlEvent(.tenantCreated, tenant: $0.tenant.id) })
        context.logger.info("tenant batch", metadata: [LogKey.count: "\(created.count)",
                                                       LogKey.failures: "\(body.tenants.count - created.count)"])
        return JSONResponse(value: TenantBatchResource(created: created.count, failed: body.tenants.count - created.count,
                                                       results: results))
    }

    @Sendable func list(_ request: Request, context: APIRequestContext) async throws -> JSONResponse<ListResource<TenantResource>> {
        try context.requireAdmin()
        let tenants = try await storeCall { () async throws(StoreError) in try await registry.store.tenants() }
        return JSONResponse(value: ListResource(key: "tenants", items: tenants.map(TenantResource.init)))
    }

    @Sendable func show(_ request: Request, context: APIRequestContext) async throws -> JSONResponse<TenantResource> {
        let id = try context.parameters.id("tenant", as: TenantID.self, what: "tenant")
        try context.requireAccess(to: id)
        return JSONResponse(value: TenantResource(try await tenant(id)))
    }

    @Sendable func update(_ request: Request, context: APIRequestContext) async throws -> JSONResponse<TenantResource> {
        try context.requireAdmin()
        let id = try context.parameters.id("tenant", as: TenantID.self, what: "tenant")
        var request = request
        let patch = try await request.decodeJSON(UpdateTenantRequest.self, limit: APIServer.maximumBodySize)
        var tenant = try await tenant(id)
        if let name = patch.name {
            guard !name.isEmpty, name.count <= 200 else { throw Problem.validation(field: "name", "must be 1–200 characters") }
            tenant.name = name
        }
        if let rate = patch.sessionRate { tenant.limits.sessionRate = rate }
        if let share = patch.bulkShare { tenant.limits.bulkShare = share }
        switch patch.backlogQuota {
        case .absent: break
        case .null: tenant.limits.backlogQuota = nil
        case .value(let quota): tenant.limits.backlogQuota = quota
        }
        do { _ = try tenant.limits.validated() } catch { throw Problem.validation(field: error.field, error.reason) }
        try await Self.run { () async throws(RegistryFailure) in try await registry.update(tenant) }
        await control.announce(ControlEvent(.tenantUpdated, tenant: id))
        return JSONResponse(value: TenantResource(tenant))
    }

    @Sendable func delete(_ request: Request, context: APIRequestContext) async throws -> Response {
        try context.requireAdmin()
        let id = try context.parameters.id("tenant", as: TenantID.self, what: "tenant")
        let force = try request.flag("force")
        try await Self.run { () async throws(RegistryFailure) in try await registry.delete(id, force: force) }
        // Its keys and sessions went with it.
        caches.keys.removeAll()
        caches.sessionsChanged()
        await control.announce(ControlEvent(.tenantDeleted, tenant: id))
        return Response(status: .noContent)
    }

    private func tenant(_ id: TenantID) async throws(Problem) -> Tenant {
        guard let tenant = try await storeCall({ () async throws(StoreError) in try await registry.store.tenant(id) })
        else { throw .notFound("tenant \(id)") }
        return tenant
    }

    /// Runs a registry operation, turning its failure into problem details.
    static func run<T>(_ body: () async throws(RegistryFailure) -> T) async throws(Problem) -> T {
        do { return try await body() } catch { throw problem(error) }
    }

    static func problem(_ failure: RegistryFailure) -> Problem {
        switch failure {
        case .store(let error): Problem(error)
        case .broker(let error): problem(error)
        }
    }

    static func problem(_ error: BrokerError) -> Problem {
        switch error {
        case .tenantQueueNotEmpty(let tenant, let messages):
            .conflict("tenant-queue-not-empty",
                      "tenant \(tenant)'s queue holds \(messages) messages: drain it, or delete with ?force=true")
        case .tenantQueueInUse(let tenant, let consumers):
            .conflict("tenant-queue-in-use",
                      "tenant \(tenant)'s queue has \(consumers) consumers: stop dispatching it, or delete with ?force=true")
        default:
            .brokerUnavailable("the broker could not apply the change: \(error)")
        }
    }
}
