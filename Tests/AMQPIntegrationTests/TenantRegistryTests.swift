import Crypto
import Foundation
import SwitchboardAMQP
import SwitchboardBroker
import SwitchboardCore
import SwitchboardRegistry
import SwitchboardStore
import Testing

@Suite("Tenant lifecycle: the store and the broker in step")
struct TenantRegistryTests {
    private func withRegistry(_ body: (TenantRegistry, ScratchVirtualHost, any GatewayStore) async throws -> Void)
        async throws
    {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sbreg-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = try TestStore.database(in: directory)
        let store = try await database.location.open(secretBox: database.secretBox, logger: TestBroker.logger)
        try await ScratchVirtualHost.with { vhost in
            try await body(TenantRegistry(store: store, broker: vhost.applier, logger: TestBroker.logger), vhost, store)
        }
    }

    @Test func creatingATenantProvisionsItsQueueAndQuota() async throws {
        try await withRegistry { registry, vhost, store in
            let acme = Tenant(id: try TenantID("acme"), name: "Acme", limits: TenantLimits(backlogQuota: 2))
            _ = try await registry.create(acme)
            #expect(try await store.tenant(acme.id)?.name == "Acme")
            #expect(try await vhost.depth("sb.outbound.acme") == 0)
            try await vhost.publish("1", key: "acme.bulk")
            try await vhost.publish("2", key: "acme.bulk")
            await #expect { try await vhost.publish("3", key: "acme.bulk") } throws: {
                ($0 as? AMQPError)?.code == .publishNacked
            }
            await #expect { _ = try await registry.create(acme) } throws: { error in
                if case .store(.conflict)? = error as? RegistryFailure { return true }
                return false
            }
            // Raising the quota through an update reaches the broker.
            var bigger = acme
            bigger.limits.backlogQuota = 10
            try await registry.update(bigger)
            #expect(await eventually { (try? await vhost.publish("3", key: "acme.bulk")) != nil })
            #expect(try await vhost.applier.verify(tenants: [acme.id]).filter(\.isDrift).isEmpty)
        }
    }

    @Test func deletingATenantWithQueuedMessagesNeedsForce() async throws {
        try await withRegistry { registry, vhost, store in
            let acme = Tenant(id: try TenantID("acme"), name: "Acme")
            _ = try await registry.create(acme)
            try await store.addSession(Session(id: try SessionID("acme-main"), tenant: acme.id, provider: .simulator,
                                               phoneNumber: try PhoneNumber("+14155550100")),
                                       secrets: SessionSecrets(credentials: [:], webhookSecret: "w"))
            try await vhost.publish("pending", key: "acme.transactional")
            await #expect { try await registry.delete(acme.id) } throws: { error in
                if case .broker(.tenantQueueNotEmpty)? = error as? RegistryFailure { return true }
                return false
            }
            #expect(try await store.tenant(acme.id) != nil, "nothing was deleted")
            #expect(try await vhost.depth("sb.outbound.acme") == 1)
            try await registry.delete(acme.id, force: true)
            #expect(try await store.tenant(acme.id) == nil)
            #expect(try await store.session(try SessionID("acme-main")) == nil)
            await #expect { try await vhost.connection.inspectQueue("sb.outbound.acme") } throws: {
                ($0 as? AMQPError)?.code == .notFound
            }
        }
    }
}
