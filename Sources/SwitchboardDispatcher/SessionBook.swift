import Synchronization
import SwitchboardCore
import SwitchboardStore

/// What the dispatcher knows of tenants and their sessions: all of them read at each
/// periodic reload, one tenant again when a control event names it; limits, sessions
/// and their status, and (on first use) decrypted secrets.
final class SessionBook: Sendable {
    /// One tenant as the dispatcher sees it.
    struct Entry: Sendable {
        let tenant: Tenant
        let sessions: [SessionID: Session]
        let primary: Session?

        init(tenant: Tenant, sessions: [Session]) {
            self.tenant = tenant
            self.sessions = Dictionary(uniqueKeysWithValues: sessions.map { ($0.id, $0) })
            primary = sessions.first(where: \.isPrimary)
        }

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

    /// Reads every tenant and session again, in two queries; returns the new picture.
    func reload() async throws(StoreError) -> [TenantID: Entry] {
        let tenants = try await store.tenants()
        let sessions = Dictionary(grouping: try await store.allSessions(), by: \.tenant)
        var fresh: [TenantID: Entry] = [:]
        fresh.reserveCapacity(tenants.count)
        for tenant in tenants {
            fresh[tenant.id] = Entry(tenant: tenant, sessions: sessions[tenant.id] ?? [])
        }
        let picture = fresh
        entries.withLock { $0 = picture }
        // Secrets may have been rotated: read them again on next use.
        secrets.withLock { $0.removeAll() }
        return fresh
    }

    /// Reads one tenant and its sessions again (a control event said it changed);
    /// returns its entry, nil when it no longer exists.
    func reload(_ tenant: TenantID) async throws(StoreError) -> Entry? {
        let found = try await store.tenant(tenant)
        let entry = if let found { Entry(tenant: found, sessions: try await store.sessions(of: tenant)) } else { nil as Entry? }
        let previous = entries.withLock { entries in
            defer { entries[tenant] = entry }
            return entries[tenant]
        }
        let touched = (previous.map { Array($0.sessions.keys) } ?? []) + (entry.map { Array($0.sessions.keys) } ?? [])
        secrets.withLock { secrets in
            for session in touched { secrets[session] = nil }
        }
        return entry
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
