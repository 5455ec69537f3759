import Crypto
import Foundation
import Hummingbird
import SwitchboardBroker
import SwitchboardCore
import SwitchboardHTTP
import SwitchboardProviders
import SwitchboardStore

/// Sessions: admins add and delete them; a tenant key lists, reads and changes its
/// own (primary flag, status, credential rotation). Credentials are write-only.
struct SessionRoutes: Sendable {
    let tenants: any TenantStore
    let sessions: any SessionStore
    let caches: APICaches
    let control: ControlAnnouncer

    func addRoutes(to group: RouterGroup<APIRequestContext>) {
        group.post("tenants/{tenant}/sessions", use: create)
        group.get("tenants/{tenant}/sessions", use: list)
        group.get("sessions/{session}", use: show)
        group.patch("sessions/{session}", use: update)
        group.delete("sessions/{session}", use: delete)
    }

    @Sendable func create(_ request: Request, context: APIRequestContext) async throws -> JSONResponse<SessionResource> {
        try context.requireAdmin()
        let tenant = try context.parameters.id("tenant", as: TenantID.self, what: "tenant")
        var request = request
        let body = try await request.decodeJSON(CreateSessionRequest.self, limit: APIServer.maximumBodySize)
        let (new, generatedSecret) = try body.session(of: tenant)
        let id = new.session.id
        try await storeCall { () async throws(StoreError) in
            try await sessions.addSession(new.session, secrets: new.secrets)
        }
        caches.sessionsChanged()
        await control.announce(ControlEvent(.sessionChanged, tenant: tenant, session: id))
        let stored = try await self.session(id, for: context)
        context.logger.info("session added", metadata: [LogKey.session: "\(id)", LogKey.tenant: "\(tenant)"])
        return JSONResponse(status: .created, headers: [.location: "/v1/sessions/\(id)"],
                            value: SessionResource(stored, webhookSecret: generatedSecret))
    }

    @Sendable func list(_ request: Request, context: APIRequestContext) async throws -> JSONResponse<ListResource<SessionResource>> {
        let tenant = try context.parameters.id("tenant", as: TenantID.self, what: "tenant")
        try context.requireAccess(to: tenant)
        guard try await storeCall({ () async throws(StoreError) in try await tenants.tenant(tenant) }) != nil
        else { throw Problem.notFound("tenant \(tenant)") }
        let found = try await storeCall { () async throws(StoreError) in try await sessions.sessions(of: tenant) }
        return JSONResponse(value: ListResource(key: "sessions", items: found.map { SessionResource($0) }))
    }

    @Sendable func show(_ request: Request, context: APIRequestContext) async throws -> JSONResponse<SessionResource> {
        let id = try context.parameters.id("session", as: SessionID.self, what: "session")
        return JSONResponse(value: SessionResource(try await session(id, for: context)))
    }

    @Sendable func update(_ request: Request, context: APIRequestContext) async throws -> JSONResponse<SessionResource> {
        let id = try context.parameters.id("session", as: SessionID.self, what: "session")
        _ = try await session(id, for: context)
        var request = request
        let patch = try await request.decodeJSON(UpdateSessionRequest.self, limit: APIServer.maximumBodySize)
        if patch.primary == false {
            throw Problem.validation(field: "primary", "make another session primary instead")
        }
        if let secret = patch.webhookSecret, secret.count < 16 {
            throw Problem.validation(field: "webhook_secret", "must be at least 16 characters")
        }
        try await storeCall { () async throws(StoreError) in
            if patch.primary == true { try await sessions.makePrimary(id) }
            if let status = patch.status { try await sessions.setStatus(status, of: id) }
            if patch.credentials != nil || patch.webhookSecret != nil {
                var secrets = try await sessions.secrets(of: id)
                if let credentials = patch.credentials { secrets.credentials = credentials }
                if let webhookSecret = patch.webhookSecret { secrets.webhookSecret = webhookSecret }
                try await sessions.replaceSecrets(of: id, with: secrets)
            }
        }
        caches.sessionsChanged()
        let changed = try await session(id, for: context)
        await control.announce(ControlEvent(.sessionChanged, tenant: changed.tenant, session: id))
        return JSONResponse(value: SessionResource(changed))
    }

    @Sendable func delete(_ request: Request, context: APIRequestContext) async throws -> Response {
        try context.requireAdmin()
        let id = try context.parameters.id("session", as: SessionID.self, what: "session")
        let deleted = try await session(id, for: context)
        try await storeCall { () async throws(StoreError) in try await sessions.deleteSession(id) }
        caches.sessionsChanged()
        await control.announce(ControlEvent(.sessionChanged, tenant: deleted.tenant, session: id))
        return Response(status: .noContent)
    }

    /// The session, if the caller may see it: another tenant's is "not found".
    private func session(_ id: SessionID, for context: APIRequestContext) async throws(Problem) -> Session {
        let found = try await storeCall { () async throws(StoreError) in try await sessions.session(id) }
        guard let found else { throw .notFound("session \(id)") }
        do { try context.requireAccess(to: found.tenant) } catch { throw .notFound("session \(id)") }
        return found
    }

}

/// Webhook secrets the gateway makes for providers (the simulator) that take ours.
enum WebhookSecret {
    /// 32 random bytes, base64url.
    static func generate() -> String {
        let key = SymmetricKey(size: .bits256)
        return key.withUnsafeBytes { Data($0) }.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
