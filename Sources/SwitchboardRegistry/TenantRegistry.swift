public import Logging
public import SwitchboardBroker
public import SwitchboardCore
public import SwitchboardStore

/// Creates, changes and deletes tenants so that the store and the broker agree: a
/// tenant exists in the store only once its queue exists, and its queue goes before
/// its row (so a tenant with queued messages is never half-deleted).
public struct TenantRegistry: Sendable {
    public let store: any TenantStore & SessionStore
    public let broker: TopologyApplier
    public let logger: Logger

    public init(store: any TenantStore & SessionStore, broker: TopologyApplier,
                logger: Logger = Logger(label: "switchboard.registry")) {
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
        do { try await broker.provision(tenant.provision, new: true) } catch { throw .broker(error) }
        do { try await store.createTenant(tenant) } catch { throw .store(error) }
        logger.info("tenant created", metadata: [LogKey.tenant: "\(tenant.id)"])
        return tenant
    }

    /// Creates many tenants with their sessions (a batch, an import): each item on its own,
    /// one outcome per item in order. An item whose tenant exists is left as it was
    /// (`exists`); one whose session exists, or that repeats an earlier item's tenant or
    /// session, fails with `conflict`; the rest are provisioned together (spread over
    /// several connections) and then recorded in one transaction.
    public func create(_ onboardings: [TenantOnboarding]) async -> [BatchOutcome] {
        var outcomes = [BatchOutcome?](repeating: nil, count: onboardings.count)
        let existingTenants: Set<TenantID>
        let existingSessions: Set<SessionID>
        do {
            existingTenants = try await store.existingTenants(among: onboardings.map(\.tenant.id))
            existingSessions = try await store.existingSessions(among: onboardings.flatMap { $0.sessions.map(\.session.id) })
        } catch {
            return onboardings.map { _ in .failed(.store(error)) }
        }
        var seenTenants = existingTenants
        var seenSessions = existingSessions
        var accepted: [Int] = []
        for (index, onboarding) in onboardings.enumerated() {
            let tenant = onboarding.tenant
            do { _ = try tenant.limits.validated() } catch {
                outcomes[index] = .failed(.store(.invalid(error)))
                continue
            }
            if existingTenants.contains(tenant.id) {
                outcomes[index] = .exists
                continue
            }
            guard seenTenants.insert(tenant.id).inserted else {
                outcomes[index] = .failed(.store(.conflict("tenant \(tenant.id) (an earlier item)")))
                continue
            }
            let sessions = onboarding.sessions.map(\.session.id)
            if let taken = sessions.first(where: { seenSessions.contains($0) }) ?? Self.firstRepeated(sessions) {
                outcomes[index] = .failed(.store(.conflict("session \(taken)")))
                continue
            }
            seenSessions.formUnion(sessions)
            accepted.append(index)
        }
        if !accepted.isEmpty {
            do {
                try await broker.provision(accepted.map { onboardings[$0].tenant.provision }, new: true)
                let recorded = try await store.createTenants(accepted.map { onboardings[$0] })
                for (index, error) in zip(accepted, recorded) {
                    outcomes[index] = error.map { .failed(.store($0)) } ?? .created(onboardings[index])
                }
            } catch let error as BrokerError {
                for index in accepted { outcomes[index] = .failed(.broker(error)) }
            } catch let error as StoreError {
                for index in accepted { outcomes[index] = .failed(.store(error)) }
            } catch {
                for index in accepted { outcomes[index] = .failed(.store(.database("\(error)"))) }
            }
        }
        let created = outcomes.filter { if case .created = $0 { true } else { false } }.count
        logger.info("tenants created", metadata: [LogKey.count: "\(created)",
                                                  LogKey.failures: "\(onboardings.count - created)"])
        return outcomes.map { $0! }
    }

    /// What became of one item of a batch.
    public enum BatchOutcome: Sendable {
        case created(TenantOnboarding)
        /// The tenant existed before the batch: left as it was (an import run again skips it).
        case exists
        case failed(RegistryFailure)
    }

    private static func firstRepeated(_ ids: [SessionID]) -> SessionID? {
        var seen: Set<SessionID> = []
        return ids.first { !seen.insert($0).inserted }
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
