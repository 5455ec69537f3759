import Foundation
import Hummingbird
import SwitchboardCore
import SwitchboardHTTP
import SwitchboardProviders
import SwitchboardStore

/// Reconnect prompts: `GET /v1/sessions/{s}/qr` (the provider's current QR code for a
/// session waiting for a scan), `POST /v1/sessions/{s}/connect` and `/disconnect` (ask the
/// provider). For admins and the session's tenant. A provider without such calls (Meta:
/// numbers are managed in Meta's console) answers 409. The resulting status reaches the
/// registry the usual way (the provider's webhook, or the monitor's poll).
struct SessionConnectionRoutes: Sendable {
    let sessions: any SessionStore
    let providers: ProviderDirectory

    func addRoutes(to group: RouterGroup<APIRequestContext>) {
        group.get("sessions/{session}/qr", use: qr)
        group.post("sessions/{session}/connect", use: connect)
        group.post("sessions/{session}/disconnect", use: disconnect)
    }

    @Sendable func qr(_ request: Request, context: APIRequestContext) async throws -> JSONResponse<SessionConnectionAnswer> {
        let (session, client, secrets) = try await resolve(context)
        guard let code = try await provider({ () async throws(SendFailure) in
            try await client.qrCode(of: session, secrets: secrets)
        }) else {
            throw Problem.conflict("no-qr-code", "session \(session.id) is not waiting for a QR scan (status \(session.status.rawValue))")
        }
        return JSONResponse(value: SessionConnectionAnswer(session: session.id.rawValue, status: .needScan, qrCode: code))
    }

    @Sendable func connect(_ request: Request, context: APIRequestContext) async throws -> JSONResponse<SessionConnectionAnswer> {
        let (session, client, secrets) = try await resolve(context)
        let connection = try await provider { () async throws(SendFailure) in try await client.connect(session, secrets: secrets) }
        return JSONResponse(value: SessionConnectionAnswer(session: session.id.rawValue, status: connection.status,
                                                           qrCode: connection.qrCode))
    }

    @Sendable func disconnect(_ request: Request, context: APIRequestContext) async throws -> JSONResponse<SessionConnectionAnswer> {
        let (session, client, secrets) = try await resolve(context)
        let status = try await provider { () async throws(SendFailure) in try await client.disconnect(session, secrets: secrets) }
        return JSONResponse(value: SessionConnectionAnswer(session: session.id.rawValue, status: status, qrCode: nil))
    }

    private func resolve(_ context: APIRequestContext) async throws -> (Session, any ProviderClient, SessionSecrets) {
        let id = try context.parameters.id("session", as: SessionID.self, what: "session")
        guard let session = try await storeCall({ () async throws(StoreError) in try await sessions.session(id) }) else {
            throw Problem.notFound("session \(id)")
        }
        do { try context.requireAccess(to: session.tenant) } catch { throw Problem.notFound("session \(id)") }
        guard let client = providers.client(for: session.provider) else {
            throw Problem.conflict("unsupported", "session \(id)'s provider '\(session.provider)' is not registered")
        }
        let secrets = try await storeCall { () async throws(StoreError) in try await sessions.secrets(of: id) }
        return (session, client, secrets)
    }

    /// A provider call: unsupported is 409, anything else the provider said is 502.
    private func provider<T>(_ call: () async throws(SendFailure) -> T) async throws(Problem) -> T {
        do { return try await call() } catch {
            if error.code == unsupportedProviderCall { throw .conflict("unsupported", error.detail) }
            throw Problem(.badGateway, kind: "provider-error", title: "The provider did not do it",
                          detail: "\(error.code): \(error.detail)")
        }
    }
}

struct SessionConnectionAnswer: Codable, Sendable {
    var session: String
    var status: SessionStatus
    var qrCode: String?

    enum CodingKeys: String, CodingKey {
        case session, status
        case qrCode = "qr_code"
    }
}
