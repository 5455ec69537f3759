import Foundation
import SwitchboardAMQP
import SwitchboardBroker
import SwitchboardCore
import Testing

@Suite("The topology on a real broker")
struct TopologyTests {
    @Test func tenantKeysLandOnlyInTheirTenantsQueueAndStrangersInUnroutable() async throws {
        try await ScratchVirtualHost.with { vhost in
            _ = try await vhost.provision("acme")
            _ = try await vhost.provision("globex")
            try await vhost.publish("otp", key: "acme.transactional")
            try await vhost.publish("promo", key: "acme.bulk")
            try await vhost.publish("nobody", key: "ghost.bulk")
            #expect(await vhost.waitForDepth("sb.outbound.acme", 2))
            #expect(try await vhost.depth("sb.outbound.globex") == 0)
            #expect(await vhost.waitForDepth("sb.unroutable", 1))
            let stray = try #require(try await vhost.connection.get(queue: "sb.unroutable", autoAck: true))
            #expect(stray.routingKey == "ghost.bulk")
            #expect(String(decoding: stray.body, as: UTF8.self) == "nobody")
        }
    }

    @Test func aTransactionalMessageOvertakesTheTenantsWaitingBulk() async throws {
        try await ScratchVirtualHost.with { vhost in
            _ = try await vhost.provision("acme")
            for n in 0..<200 {
                try await vhost.publish("bulk \(n)", key: "acme.bulk",
                                        properties: .init(deliveryMode: .persistent, priority: 1, messageID: "bulk-\(n)"))
            }
            try await vhost.publish("otp", key: "acme.transactional",
                                    properties: .init(deliveryMode: .persistent, priority: 9, messageID: "otp"))
            let consumer = try await vhost.connection.consume(queue: "sb.outbound.acme", options: .init(prefetch: 1))
            var first: [String] = []
            for try await delivery in consumer {
                first.append(delivery.properties.messageID ?? "")
                try await delivery.ack()
                if first.count == 2 { break }
            }
            await consumer.cancel()
            #expect(first.contains("otp"), "first two deliveries: \(first)")
        }
    }

    @Test func aRetriedMessageComesBackToItsTenantQueueAfterItsTier() async throws {
        try await ScratchVirtualHost.with { vhost in
            _ = try await vhost.provision("acme")
            let headers: AMQPTable = ["sb-retry-tier": "1s", "sb-attempt": .int32(2), "sb-tenant": "acme"]
            let sent = ContinuousClock.now
            try await vhost.publish("{\"id\":\"m-1\"}", exchange: "sb.retry", key: "acme.bulk",
                                    properties: .init(contentType: "application/json", headers: headers,
                                                      deliveryMode: .persistent, messageID: "m-1"))
            #expect(try await vhost.depth("sb.outbound.acme") == 0)
            #expect(await vhost.waitForDepth("sb.outbound.acme", 1))
            let waited = ContinuousClock.now - sent
            #expect(waited >= .milliseconds(900) && waited < .seconds(5), "came back after \(waited)")
            let back = try #require(try await vhost.connection.get(queue: "sb.outbound.acme", autoAck: true))
            #expect(String(decoding: back.body, as: UTF8.self) == "{\"id\":\"m-1\"}")
            #expect(back.routingKey == "acme.bulk")
            #expect(back.properties.messageID == "m-1")
            #expect(back.headers["sb-attempt"]?.intValue == 2)
            #expect(back.headers["sb-retry-tier"] == "1s")
            let death = try #require(back.headers["x-death"]?.arrayValue?.first?.tableValue)
            #expect(death["queue"] == "sb.retry.1s")
            #expect(death["reason"] == "expired")
        }
    }

    @Test func everyRetryTierReturnsToTheOriginalQueue() async throws {
        try await ScratchVirtualHost.with { vhost in
            _ = try await vhost.provision("acme")
            _ = try await vhost.provision("globex")
            // A per-message TTL of 0 expires at once in any tier, so every tier's route is
            // exercised without waiting an hour; the tier TTLs themselves are checked above
            // and in the unit tests.
            for (index, tier) in vhost.topology.retry.tiers.enumerated() {
                let key = index.isMultiple(of: 2) ? "acme.bulk" : "globex.transactional"
                try await vhost.publish(tier.name, exchange: "sb.retry", key: key, properties: .init(
                    headers: ["sb-retry-tier": .string(tier.name)], deliveryMode: .persistent, expiration: "0"))
            }
            let tiers = vhost.topology.retry.tiers.count
            #expect(await vhost.waitForDepth("sb.outbound.acme", UInt32((tiers + 1) / 2)))
            #expect(await vhost.waitForDepth("sb.outbound.globex", UInt32(tiers / 2)))
            var returned: Set<String> = []
            for queue in ["sb.outbound.acme", "sb.outbound.globex"] {
                while let message = try await vhost.connection.get(queue: queue, autoAck: true) {
                    let tier = String(decoding: message.body, as: UTF8.self)
                    returned.insert(tier)
                    #expect(message.headers["x-death"]?.arrayValue?.first?.tableValue?["queue"]?.stringValue
                        == "sb.retry.\(tier)")
                }
            }
            #expect(returned == Set(vhost.topology.retry.tiers.map(\.name)))
        }
    }

    @Test func aRejectedMessageIsDeadWithItsHistory() async throws {
        try await ScratchVirtualHost.with { vhost in
            _ = try await vhost.provision("acme")
            try await vhost.publish("doomed", key: "acme.bulk")
            let delivery = try #require(try await vhost.connection.get(queue: "sb.outbound.acme"))
            try await delivery.reject(requeue: false)
            #expect(await vhost.waitForDepth("sb.dead", 1))
            let dead = try #require(try await vhost.connection.get(queue: "sb.dead", autoAck: true))
            #expect(String(decoding: dead.body, as: UTF8.self) == "doomed")
            #expect(dead.routingKey == "acme.bulk")
            let death = try #require(dead.headers["x-death"]?.arrayValue?.first?.tableValue)
            #expect(death["queue"] == "sb.outbound.acme")
            #expect(death["reason"] == "rejected")
            #expect(death["exchange"] == "sb.outbound")
        }
    }

    @Test func aBacklogQuotaNacksPastItsSizeWhileAnotherTenantPublishes() async throws {
        try await ScratchVirtualHost.with { vhost in
            _ = try await vhost.provision("acme", backlogQuota: 5)
            _ = try await vhost.provision("globex")
            #expect(await eventually { await vhost.policy(of: "sb.outbound.acme") == "sb-quota-acme" })
            for n in 0..<5 { try await vhost.publish("m\(n)", key: "acme.bulk") }
            for _ in 0..<3 {
                await #expect {
                    try await vhost.publish("over", key: "acme.bulk")
                } throws: { ($0 as? AMQPError)?.code == .publishNacked }
                try await vhost.publish("fine", key: "globex.bulk")
            }
            #expect(try await vhost.depth("sb.outbound.acme") == 5)
            #expect(try await vhost.depth("sb.outbound.globex") == 3)
            // The quota policy still dead-letters, like the policy it extends.
            let delivery = try #require(try await vhost.connection.get(queue: "sb.outbound.acme"))
            try await delivery.reject(requeue: false)
            #expect(await vhost.waitForDepth("sb.dead", 1))
            // Lifting the quota lets acme publish again.
            _ = try await vhost.provision("acme")
            #expect(await eventually { await vhost.policy(of: "sb.outbound.acme") == "sb-tenant-queues" })
            try await vhost.publish("again", key: "acme.bulk")
        }
    }

    @Test func anEventReachesEveryBuiltInConsumerAndAnyBoundQueue() async throws {
        try await ScratchVirtualHost.with { vhost in
            let mine = "billing.events"
            try await vhost.connection.declareQueue(AMQPQueueDeclaration(name: mine, durable: false, exclusive: true))
            try await vhost.connection.bind(AMQPBinding(exchange: "sb.events", queue: mine))
            try await vhost.publish("{\"type\":\"message.received\"}", exchange: "sb.events", key: "")
            for queue in ["sb.events.logger", "sb.events.inbox", "sb.events.bot", mine] {
                #expect(await vhost.waitForDepth(queue, 1), "\(queue) got the event")
            }
        }
    }

    @Test func aStatusReachesOnlyTheQueuesBoundToTheStatusesFanOut() async throws {
        try await ScratchVirtualHost.with { vhost in
            let mine = "billing.statuses"
            try await vhost.connection.declareQueue(AMQPQueueDeclaration(name: mine, durable: false, exclusive: true))
            try await vhost.connection.bind(AMQPBinding(exchange: "sb.statuses", queue: mine))
            try await vhost.publish("{\"type\":\"message.status\"}", exchange: "sb.statuses", key: "")
            #expect(await vhost.waitForDepth(mine, 1))
            for queue in ["sb.events.logger", "sb.events.inbox", "sb.events.bot"] {
                #expect(try await vhost.depth(queue) == 0, "\(queue) got no status")
            }
        }
    }

    @Test func applyingTwiceChangesNothingAndVerifyFindsNoDrift() async throws {
        try await ScratchVirtualHost.with { vhost in
            let tenants = try (0..<50).map { TenantProvision(id: try TenantID("t\($0)"), backlogQuota: $0 % 5 == 0 ? 100 : nil) }
            try await vhost.applier.provision(tenants)
            let again = try await vhost.applier.apply(tenants: tenants)
            #expect(again.changedNothing, "second apply created \(again.created) and wrote \(again.policiesWritten)")
            #expect(again.declared > 0)
            #expect(try await vhost.applier.verify().filter(\.isDrift).isEmpty)
            // Applying from several instances at once is safe too.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<4 { group.addTask { try await vhost.applier.apply() } }
                try await group.waitForAll()
            }
            #expect(try await vhost.applier.verify().filter(\.isDrift).isEmpty)
        }
    }

    @Test func aQueueOfAnotherTypeIsReplacedOnlyWhenEmptyAndAskedTo() async throws {
        try await ScratchVirtualHost.with { vhost in
            // A node from before the event queues became quorum queues: a classic one, holding an event.
            try await vhost.connection.deleteQueue("sb.events.bot")
            try await vhost.connection.declareQueue(AMQPQueueDeclaration(name: "sb.events.bot", durable: true))
            try await vhost.connection.bind(AMQPBinding(exchange: "sb.events", queue: "sb.events.bot"))
            try await vhost.publish("{\"type\":\"message.received\"}", exchange: "sb.events", key: "")
            #expect(await vhost.waitForDepth("sb.events.bot", 1))
            #expect(try await vhost.applier.verify().contains { $0.kind == .different && $0.object == "queue sb.events.bot" })

            // Without the option, and with it while the queue holds a message: refused, nothing lost.
            await #expect(throws: BrokerError.self) { try await vhost.applier.apply() }
            await #expect(throws: BrokerError.self) { try await vhost.applier.apply(replacingEmptyQueues: true) }
            #expect(try await vhost.depth("sb.events.bot") == 1)

            // A tenant queue from the older template (ten priority levels), empty.
            let acme = try await vhost.provision("acme")
            try await vhost.connection.deleteQueue("sb.outbound.acme")
            try await vhost.connection.declareQueue(AMQPQueueDeclaration(
                name: "sb.outbound.acme", durable: true, arguments: ["x-max-priority": 10, "x-single-active-consumer": true]))
            try await vhost.connection.bind(AMQPBinding(exchange: "sb.outbound", queue: "sb.outbound.acme",
                                                        routingKey: "acme.*"))

            // Drained: replaced by the quorum queue, bound again, no drift.
            _ = try await vhost.connection.purgeQueue("sb.events.bot")
            let report = try await vhost.applier.apply(replacingEmptyQueues: true)
            #expect(Set(report.replaced) == ["queue sb.events.bot", "queue sb.outbound.acme"])
            #expect(try await vhost.applier.verify(tenants: [acme]).filter(\.isDrift).isEmpty)
            try await vhost.publish("{\"type\":\"message.received\"}", exchange: "sb.events", key: "")
            #expect(await vhost.waitForDepth("sb.events.bot", 1))
            try await vhost.publish("{}", key: "acme.bulk")
            #expect(await vhost.waitForDepth("sb.outbound.acme", 1))
        }
    }

    @Test func verifyReportsMissingObjectsDifferentPoliciesAndMissingBindings() async throws {
        try await ScratchVirtualHost.with { vhost in
            let acme = try await vhost.provision("acme")
            try await vhost.connection.unbind(AMQPBinding(exchange: "sb.outbound", queue: "sb.outbound.acme",
                                                          routingKey: "acme.*"))
            try await vhost.connection.deleteQueue("sb.events.bot")
            try await vhost.management.put(.init(name: "sb-tenant-queues", pattern: "^sb\\.outbound\\.",
                                                 applyTo: "queues", priority: 0,
                                                 definition: ["dead-letter-exchange": "elsewhere"]),
                                           virtualHost: vhost.name)
            let drift = try await vhost.applier.verify(tenants: [acme]).filter(\.isDrift)
            #expect(drift.contains { $0.kind == .missing && $0.object == "binding sb.outbound → sb.outbound.acme key 'acme.*'" })
            #expect(drift.contains { $0.kind == .missing && $0.object == "queue sb.events.bot" })
            #expect(drift.contains { $0.kind == .missing && $0.object == "binding sb.events → sb.events.bot key ''" })
            #expect(drift.contains { $0.kind == .different && $0.object == "policy sb-tenant-queues" })
            #expect(drift.count == 4, "\(drift)")
            // apply repairs it all.
            try await vhost.applier.apply(tenants: [TenantProvision(id: acme)])
            #expect(try await vhost.applier.verify(tenants: [acme]).filter(\.isDrift).isEmpty)
        }
    }

    @Test func deprovisionRefusesAQueueWithMessagesUnlessForced() async throws {
        try await ScratchVirtualHost.with { vhost in
            let acme = try await vhost.provision("acme", backlogQuota: 10)
            try await vhost.publish("pending", key: "acme.bulk")
            await #expect {
                try await vhost.applier.deprovision(acme)
            } throws: { error in
                if case BrokerError.tenantQueueNotEmpty(acme, messages: 1)? = error as? BrokerError { return true }
                return false
            }
            #expect(try await vhost.depth("sb.outbound.acme") == 1)
            // A consumer (a dispatcher) may hold messages unacknowledged: also refused.
            let held = try #require(try await vhost.connection.get(queue: "sb.outbound.acme"))
            let consumer = try await vhost.connection.consume(queue: "sb.outbound.acme")
            await #expect {
                try await vhost.applier.deprovision(acme)
            } throws: { error in
                if case BrokerError.tenantQueueInUse(acme, consumers: 1)? = error as? BrokerError { return true }
                return false
            }
            await consumer.cancel()
            try await held.nack(requeue: true)
            #expect(await vhost.waitForDepth("sb.outbound.acme", 1))
            try await vhost.applier.deprovision(acme, force: true)
            await #expect { try await vhost.connection.inspectQueue("sb.outbound.acme") } throws: {
                ($0 as? AMQPError)?.code == .notFound
            }
            let live = try await vhost.management.snapshot(virtualHost: vhost.name)
            #expect(!live.policies.contains { $0.name == "sb-quota-acme" })
            // Deprovisioning again is not an error; acme's keys are unroutable now.
            try await vhost.applier.deprovision(acme)
            try await vhost.publish("late", key: "acme.bulk")
            #expect(await vhost.waitForDepth("sb.unroutable", 1))
        }
    }

    @Test func anExportImportedIntoAFreshVirtualHostHasNoDrift() async throws {
        let topology = try TestTopology.load()
        let management = try TestTopology.management()
        let fresh = "test-import-\(UUID().uuidString.prefix(8).lowercased())"
        let tenants = [TenantProvision(id: try TenantID("acme"), backlogQuota: 250),
                       TenantProvision(id: try TenantID("globex"))]
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("\(fresh).json")
        let encoder = JSONEncoder()
        try encoder.encode(RabbitDefinitions(topology.objects(tenants: tenants), virtualHost: fresh)).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        do {
            try await runProgram("/bin/bash", [DisposableNode.repositoryRoot.appendingPathComponent(
                "deploy/local/rabbitmq.sh").path, "ctl", "import_definitions", file.path])
            try await management.createVirtualHost(fresh, grantingTo: "guest")
            var configuration = try TestBroker.configuration("import")
            configuration.virtualHost = fresh
            let connection = try await AMQPConnection.connect(configuration, logger: TestBroker.logger)
            let applier = TopologyApplier(topology: topology, connection: connection, management: management,
                                          logger: TestBroker.logger)
            let drift = try await applier.verify(tenants: tenants.map(\.id))
            #expect(drift.filter(\.isDrift).isEmpty, "\(drift)")
            #expect(drift.isEmpty, "nothing unexpected either: \(drift)")
            await connection.close()
            try await management.deleteVirtualHost(fresh)
        } catch {
            try? await management.deleteVirtualHost(fresh)
            throw error
        }
    }

    @Test func aThousandTenantsProvision() async throws {
        try await ScratchVirtualHost.with { vhost in
            let tenants = try (0..<1000).map { TenantProvision(id: try TenantID("tenant-\($0)")) }
            try await vhost.applier.provision(tenants)
            let live = try await vhost.management.snapshot(virtualHost: vhost.name)
            #expect(live.queues.filter { vhost.topology.tenant(ofQueue: $0.name) != nil }.count == 1000)
            #expect(try await vhost.applier.apply(tenants: tenants).changedNothing)
        }
    }
}
