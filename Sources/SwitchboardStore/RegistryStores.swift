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
