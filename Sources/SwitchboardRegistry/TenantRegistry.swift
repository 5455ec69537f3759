public import Logging
public import SwitchboardBroker
public import SwitchboardCore
public import SwitchboardStore

/// Creates, changes and deletes tenants so that the store and the broker agree: a
/// tenant exists in the store only once its queue exists, and its queue goes before
/// its row (so a tenant with queued messages is never half-deleted).
public struct TenantRegistry: Sendable {
    public let store: any TenantStore
    public let broker: TopologyApplier
    public let logger: Logger

    public init(store: any TenantStore, broker: TopologyApplier, logger: Logger = Logger(label: "switchboard.registry")) {
        self.store = store
        self.broker = broker
        self.logger = logger
    }

    /// Provisions the tenant's topology, then records it. `conflict` if it exists.
    public func create(_ tenant: Tenant) async throws(RegistryFailure) -> Tenant {
        do { _ = try tenant.limits.validated() } catch { throw .store(.invalid(error)) }
        let existing: Tenant?
        do { existing = try await store.tenant(tenant.id) } catch { throw .store(error) }
        guard existing == nil else { throw .store(.conflict("tenant \(tenant.id)")) }
        do { try await broker.provision(tenant.provision) } catch { throw .broker(error) }
        do { try await store.createTenant(tenant) } catch { throw .store(error) }
        logger.info("tenant created", metadata: [LogKey.tenant: "\(tenant.id)"])
        return tenant
    }

    /// Changes name and limits; a changed backlog quota is applied to the broker first.
    public func update(_ tenant: Tenant) async throws(RegistryFailure) {
        let found: Tenant?
        do { found = try await store.tenant(tenant.id) } catch { throw .store(error) }
        guard let current = found else { throw .store(.notFound("tenant \(tenant.id)")) }
        if current.limits.backlogQuota != tenant.limits.backlogQuota {
            do { try await broker.provision(tenant.provision) } catch { throw .broker(error) }
        }
        do { try await store.updateTenant(tenant) } catch { throw .store(error) }
    }

    /// Deprovisions the tenant's queue (refusing while it holds messages, unless
    /// `force`), then deletes the tenant with its sessions and keys.
    public func delete(_ id: TenantID, force: Bool = false) async throws(RegistryFailure) {
        let found: Tenant?
        do { found = try await store.tenant(id) } catch { throw .store(error) }
        guard found != nil else { throw .store(.notFound("tenant \(id)")) }
        do { try await broker.deprovision(id, force: force) } catch { throw .broker(error) }
        do { try await store.deleteTenant(id) } catch { throw .store(error) }
        logger.info("tenant deleted", metadata: [LogKey.tenant: "\(id)", LogKey.forced: "\(force)"])
    }
}

/// Why a registry operation failed: in the store or on the broker.
public enum RegistryFailure: Error, Sendable, CustomStringConvertible {
    case store(StoreError)
    case broker(BrokerError)

    public var description: String {
        switch self {
        case .store(let error): "\(error)"
        case .broker(let error): "\(error)"
        }
    }
}
