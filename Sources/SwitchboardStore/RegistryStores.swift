public import Foundation
public import SwitchboardCore

/// Tenants: the accounts of the gateway.
public protocol TenantStore: Sendable {
    func createTenant(_ tenant: Tenant) async throws(StoreError)
    func tenant(_ id: TenantID) async throws(StoreError) -> Tenant?
    func tenants() async throws(StoreError) -> [Tenant]
    func updateTenant(_ tenant: Tenant) async throws(StoreError)
    /// Deletes the tenant with its sessions and keys.
    func deleteTenant(_ id: TenantID) async throws(StoreError)
    /// Records many tenants with their sessions in one transaction, each item on its own
    /// (a conflict fails that item, not the others): one error or nil per item, in order.
    func createTenants(_ onboardings: [TenantOnboarding]) async throws(StoreError) -> [StoreError?]
    /// Which of `ids` exist, in one read.
    func existingTenants(among ids: [TenantID]) async throws(StoreError) -> Set<TenantID>
}

/// A tenant with its first sessions, recorded together (batch onboarding, imports).
public struct TenantOnboarding: Sendable {
    public var tenant: Tenant
    public var sessions: [NewSession]

    public init(tenant: Tenant, sessions: [NewSession] = []) {
        self.tenant = tenant
        self.sessions = sessions
    }

    /// The sessions as recorded: the first one marked primary, else the first, is the
    /// tenant's primary; the others are not.
    public var recordedSessions: [Session] {
        let primary = sessions.firstIndex(where: \.session.isPrimary) ?? 0
        return sessions.enumerated().map { index, new in
            var session = new.session
            session.isPrimary = index == primary
            return session
        }
    }
}

/// A session to add, with the secrets it is sealed with.
public struct NewSession: Sendable {
    public var session: Session
    public var secrets: SessionSecrets

    public init(session: Session, secrets: SessionSecrets) {
        self.session = session
        self.secrets = secrets
    }
}

/// A session as stored, its secrets still sealed: caches read every session in one
/// query and open only the secrets whose sealed bytes changed.
public struct SealedSession: Sendable {
    public let session: Session
    public let sealedSecrets: Data
}

/// Sessions and their sealed secrets.
public protocol SessionStore: Sendable {
    /// Adds a session; the first session of a tenant, or one marked primary, becomes
    /// the tenant's primary (the previous primary stops being one).
    func addSession(_ session: Session, secrets: SessionSecrets) async throws(StoreError)
    func session(_ id: SessionID) async throws(StoreError) -> Session?
    /// Every session of every tenant (the webhook receiver's directory).
    func allSessions() async throws(StoreError) -> [Session]
    func sessions(of tenant: TenantID) async throws(StoreError) -> [Session]
    func primarySession(of tenant: TenantID) async throws(StoreError) -> Session?
    /// Every session with its secrets sealed, in one read.
    func sealedSessions() async throws(StoreError) -> [SealedSession]
    /// Opens the secrets of a session read with `sealedSessions()`.
    func open(_ sealed: SealedSession) throws(StoreError) -> SessionSecrets
    /// Which of `ids` exist (sessions ids are unique across tenants), in one read.
    func existingSessions(among ids: [SessionID]) async throws(StoreError) -> Set<SessionID>
    /// The decrypted secrets, for the code that talks to the provider.
    func secrets(of session: SessionID) async throws(StoreError) -> SessionSecrets
    func setStatus(_ status: SessionStatus, of session: SessionID) async throws(StoreError)
    /// Makes the session its tenant's primary; the previous primary stops being one.
    func makePrimary(_ session: SessionID) async throws(StoreError)
    /// Replaces the session's secrets (credential or webhook secret rotation).
    func replaceSecrets(of session: SessionID, with secrets: SessionSecrets) async throws(StoreError)
    func deleteSession(_ id: SessionID) async throws(StoreError)
}

/// An API key as stored: who it speaks for; never its secret.
public struct APIKey: Sendable, Hashable, Codable {
    public let id: String
    public let scope: APIKeyScope
    public let label: String?
    public let createdAt: Date
}

/// A key just created: the only time its text exists outside the caller's hands.
public struct IssuedAPIKey: Sendable, Hashable {
    public let key: APIKey
    /// `sb_<id>_<secret>`: show once, store nowhere.
    public let token: String
}

/// API keys, stored hashed.
public protocol APIKeyStore: Sendable {
    func createKey(scope: APIKeyScope, label: String?) async throws(StoreError) -> IssuedAPIKey
    /// The key a presented token belongs to, or nil (unknown, malformed or revoked).
    func authenticate(_ token: String) async throws(StoreError) -> APIKey?
    /// Every key, or one tenant's.
    func keys(of tenant: TenantID?) async throws(StoreError) -> [APIKey]
    func revokeKey(_ id: String) async throws(StoreError)
}
