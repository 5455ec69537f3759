import Hummingbird
import SwitchboardCore
import SwitchboardHTTP
import SwitchboardStore

/// API keys: admins issue admin keys and any tenant's keys; a tenant key may issue,
/// list and revoke its own tenant's keys (rotation without an admin). A token is shown
/// once, in the answer that creates it.
struct APIKeyRoutes: Sendable {
    let tenants: any TenantStore
    let keys: any APIKeyStore
    let caches: APICaches

    func addRoutes(to group: RouterGroup<APIRequestContext>) {
        group.post("keys", use: createAdminKey)
        group.get("keys", use: listAll)
        group.post("tenants/{tenant}/keys", use: createTenantKey)
        group.get("tenants/{tenant}/keys", use: listTenantKeys)
        group.delete("keys/{key}", use: revoke)
    }

    @Sendable func createAdminKey(_ request: Request, context: APIRequestContext) async throws -> JSONResponse<APIKeyResource> {
        try context.requireAdmin()
        return try await issue(.admin, request: request)
    }

    @Sendable func listAll(_ request: Request, context: APIRequestContext) async throws -> JSONResponse<ListResource<APIKeyResource>> {
        try context.requireAdmin()
        let found = try await storeCall { () async throws(StoreError) in try await keys.keys(of: nil) }
        return JSONResponse(value: ListResource(key: "keys", items: found.map { APIKeyResource($0) }))
    }

    @Sendable func createTenantKey(_ request: Request, context: APIRequestContext) async throws -> JSONResponse<APIKeyResource> {
        let tenant = try context.parameters.id("tenant", as: TenantID.self, what: "tenant")
        try context.requireAccess(to: tenant)
        return try await issue(.tenant(tenant), request: request)
    }

    @Sendable func listTenantKeys(_ request: Request, context: APIRequestContext) async throws -> JSONResponse<ListResource<APIKeyResource>> {
        let tenant = try context.parameters.id("tenant", as: TenantID.self, what: "tenant")
        try context.requireAccess(to: tenant)
        guard try await storeCall({ () async throws(StoreError) in try await tenants.tenant(tenant) }) != nil
        else { throw Problem.notFound("tenant \(tenant)") }
        let found = try await storeCall { () async throws(StoreError) in try await keys.keys(of: tenant) }
        return JSONResponse(value: ListResource(key: "keys", items: found.map { APIKeyResource($0) }))
    }

    @Sendable func revoke(_ request: Request, context: APIRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        guard let id = context.parameters.get("key") else { throw Problem.notFound("api key") }
        if case .tenant(let own) = caller.scope {
            // A tenant key may revoke its own tenant's keys only; others do not exist for it.
            let owned = try await storeCall { () async throws(StoreError) in try await keys.keys(of: own) }
            guard owned.contains(where: { $0.id == id }) else { throw Problem.notFound("api key \(id)") }
        }
        try await storeCall { () async throws(StoreError) in try await keys.revokeKey(id) }
        caches.keys.removeAll()
        context.logger.info("api key revoked", metadata: [LogKey.revokedKey: "\(id)"])
        return Response(status: .noContent)
    }

    private func issue(_ scope: APIKeyScope, request: Request) async throws -> JSONResponse<APIKeyResource> {
        var request = request
        // The body is optional: an empty one issues an unlabelled key.
        let data = try await request.jsonBody(limit: APIServer.maximumBodySize)
        let body = data.isEmpty ? CreateKeyRequest() : try decodeJSONValue(CreateKeyRequest.self, from: data)
        if let label = body.label, label.count > 200 { throw Problem.validation(field: "label", "at most 200 characters") }
        let issued = try await storeCall { () async throws(StoreError) in
            try await keys.createKey(scope: scope, label: body.label)
        }
        return JSONResponse(status: .created, value: APIKeyResource(issued.key, token: issued.token))
    }
}
