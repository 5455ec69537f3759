import Synchronization
import SwitchboardCore
import SwitchboardStore

/// What the dispatcher knows of tenants and their sessions, read from the store at each
/// refresh: limits, sessions and their status, and (on first use) decrypted secrets.
final class SessionBook: Sendable {
    /// One tenant as the dispatcher sees it.
    struct Entry: Sendable {
        let tenant: Tenant
        let sessions: [SessionID: Session]
        let primary: Session?

        /// A tenant is consumed while it has sessions and every one is connected: a
        /// disconnected session stops its tenant, so its messages wait in the broker.
        var isDispatchable: Bool { !sessions.isEmpty && sessions.values.allSatisfy { $0.status == .connected } }
    }

    private let store: any TenantStore & SessionStore
    private let entries = Mutex<[TenantID: Entry]>([:])
    private let secrets = Mutex<[SessionID: SessionSecrets]>([:])

    init(store: any TenantStore & SessionStore) {
        self.store = store
    }

    /// Reads every tenant and session again; returns the new picture.
    func refresh() async throws(StoreError) -> [TenantID: Entry] {
        var fresh: [TenantID: Entry] = [:]
        for tenant in try await store.tenants() {
            let sessions = try await store.sessions(of: tenant.id)
            fresh[tenant.id] = Entry(tenant: tenant, sessions: Dictionary(uniqueKeysWithValues: sessions.map { ($0.id, $0) }),
                                     primary: sessions.first(where: \.isPrimary))
        }
        let picture = fresh
        entries.withLock { $0 = picture }
        // Secrets may have been rotated: read them again on next use.
        secrets.withLock { $0.removeAll() }
        return fresh
    }

    func entry(_ tenant: TenantID) -> Entry? {
        entries.withLock { $0[tenant] }
    }

    func secrets(of session: SessionID) async throws(StoreError) -> SessionSecrets {
        if let cached = secrets.withLock({ $0[session] }) { return cached }
        let loaded = try await store.secrets(of: session)
        secrets.withLock { $0[session] = loaded }
        return loaded
    }
}
