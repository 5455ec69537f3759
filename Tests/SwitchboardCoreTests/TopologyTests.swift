import Foundation
import SwitchboardCore
import Testing

/// The project's own topology file, as every command reads it.
let projectTopologyPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Topology/topology.yaml").path

@Suite("The topology definition")
struct TopologyDefinitionTests {
    let topology: Topology

    init() throws {
        topology = try Topology.load(from: projectTopologyPath)
    }

    @Test func theProjectFileDescribesTheDesign() throws {
        let global = topology.globalObjects
        let exchanges = Dictionary(uniqueKeysWithValues: global.exchanges.map { ($0.name, $0) })
        #expect(exchanges["sb.outbound"]?.type == "topic")
        #expect(exchanges["sb.outbound"]?.arguments["alternate-exchange"] == .string("sb.unroutable"))
        #expect(exchanges["sb.retry"]?.type == "headers")
        #expect(exchanges["sb.dlx"]?.type == "topic")
        #expect(exchanges["sb.events"]?.type == "fanout")
        #expect(exchanges["sb.statuses"]?.type == "fanout")
        // Statuses reach no built-in consumer: only subscribers bind to them.
        #expect(!global.bindings.contains { $0.source == "sb.statuses" })
        #expect(exchanges["sb.control"]?.type == "fanout")
        let queues = Set(global.queues.map(\.name))
        #expect(queues.isSuperset(of: ["sb.dead", "sb.unroutable", "sb.inbound.raw", "sb.events.logger",
                                       "sb.events.inbox", "sb.events.bot"]))
        #expect(global.bindings.contains(.init(source: "sb.dlx", queue: "sb.dead", routingKey: "#")))
        #expect(global.queues.allSatisfy { $0.durable })
    }

    @Test func everyRetryTierWaitsThenReturnsToTheOutboundExchange() throws {
        let tiers = topology.retry.tiers
        let global = topology.globalObjects
        #expect(tiers.map(\.name) == ["1s", "5s", "30s", "2m", "10m", "1h"])
        #expect(tiers.map(\.milliseconds) == [1000, 5000, 30_000, 120_000, 600_000, 3_600_000])
        for tier in tiers {
            let name = topology.retryQueue(tier)
            let queue = try #require(global.queues.first { $0.name == name })
            #expect(queue.arguments["x-message-ttl"] == .int(tier.milliseconds))
            #expect(queue.arguments["x-dead-letter-exchange"] == .string("sb.outbound"))
            #expect(queue.arguments["x-dead-letter-routing-key"] == nil, "a retried message keeps its key")
            #expect(global.bindings.contains(.init(
                source: "sb.retry", queue: name, routingKey: "", arguments: ["x-match": "all", "sb-retry-tier": .string(tier.name)])))
        }
    }

    @Test func aTenantGetsAPriorityQueueBoundToItsKeys() throws {
        let acme = try TenantID("acme")
        let objects = topology.objects(for: TenantProvision(id: acme))
        #expect(objects.queues == [.init(name: "sb.outbound.acme", arguments: [
            "x-max-priority": .int(2), "x-single-active-consumer": .bool(true),
        ])])
        #expect(objects.bindings == [.init(source: "sb.outbound", queue: "sb.outbound.acme", routingKey: "acme.*")])
        #expect(objects.policies.isEmpty)
        #expect(topology.tenant(ofQueue: "sb.outbound.acme") == acme)
        #expect(topology.tenant(ofQueue: "sb.outbound") == nil)
        #expect(topology.tenant(ofQueue: "sb.dead") == nil)
    }

    @Test func aBacklogQuotaIsAPolicyThatKeepsTheBaseSettings() throws {
        let policy = try #require(topology.objects(for: TenantProvision(id: try TenantID("acme"), backlogQuota: 500))
            .policies.first)
        #expect(policy.name == "sb-quota-acme")
        #expect(policy.pattern == "^sb\\.outbound\\.acme$")
        #expect(policy.priority == 10)
        #expect(policy.definition == [
            "max-length": .int(500), "overflow": "reject-publish", "dead-letter-exchange": "sb.dlx",
            "queue-version": .int(2), "queue-master-locator": "random",
        ])
    }

    @Test(arguments: ["acme", "a", "tenant-42", "0day"])
    func validTenantIDs(_ id: String) throws {
        let tenant = try TenantID(id)
        #expect(tenant.rawValue == id)
    }

    @Test(arguments: ["", "Acme", "ac.me", "acme*", "a#", "-acme", "ac me", String(repeating: "a", count: 64), "é"])
    func invalidTenantIDs(_ id: String) {
        #expect(throws: TopologyError.invalidTenant(id)) { try TenantID(id) }
    }

    @Test func retryTierDurations() throws {
        #expect(try RetryTier("500ms").milliseconds == 500)
        #expect(try RetryTier("2m").milliseconds == 120_000)
        for bad in ["", "5", "s", "0s", "-1s", "5d", "1.5s"] {
            #expect(throws: TopologyError.self) { try RetryTier(bad) }
        }
    }

    @Test func definitionsAreWhatImportDefinitionsReads() throws {
        let objects = topology.objects(tenants: [TenantProvision(id: try TenantID("acme"), backlogQuota: 5)])
        let data = try JSONEncoder().encode(RabbitDefinitions(objects, virtualHost: "staging"))
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect((json["vhosts"] as? [[String: Any]])?.first?["name"] as? String == "staging")
        let queues = try #require(json["queues"] as? [[String: Any]])
        let acme = try #require(queues.first { $0["name"] as? String == "sb.outbound.acme" })
        #expect(acme["vhost"] as? String == "staging")
        #expect((acme["arguments"] as? [String: Any])?["x-max-priority"] as? Int == 2)
        let bindings = try #require(json["bindings"] as? [[String: Any]])
        #expect(bindings.contains { $0["destination"] as? String == "sb.outbound.acme" && $0["routing_key"] as? String == "acme.*"
            && $0["destination_type"] as? String == "queue" })
        let policies = try #require(json["policies"] as? [[String: Any]])
        #expect(policies.contains { $0["name"] as? String == "sb-quota-acme" && $0["apply-to"] as? String == "queues" })
    }
}

@Suite("Drift between the topology and a broker")
struct TopologyDriftTests {
    let desired = BrokerObjects(
        exchanges: [.init(name: "sb.outbound", type: "topic", arguments: ["alternate-exchange": "sb.unroutable"])],
        queues: [.init(name: "sb.outbound.acme", arguments: ["x-max-priority": .int(10)])],
        bindings: [.init(source: "sb.outbound", queue: "sb.outbound.acme", routingKey: "acme.*")],
        policies: [.init(name: "sb-tenant-queues", pattern: "^sb\\.outbound\\.", applyTo: "queues", priority: 0,
                         definition: ["dead-letter-exchange": "sb.dlx"])])

    @Test func identicalMeansNoDrift() {
        #expect(desired.drift(from: desired).isEmpty)
    }

    @Test func numbersCompareByValue() {
        var live = desired
        live.queues[0].arguments["x-max-priority"] = .double(10)
        #expect(desired.drift(from: live).isEmpty)
    }

    @Test func missingObjectsAreDrift() {
        let drift = desired.drift(from: BrokerObjects())
        #expect(drift.map(\.kind) == [.missing, .missing, .missing, .missing])
        #expect(drift.allSatisfy { $0.isDrift })
        #expect(drift.map(\.object).contains("binding sb.outbound → sb.outbound.acme key 'acme.*'"))
    }

    @Test func differentArgumentsTypesAndPoliciesAreDrift() {
        var live = desired
        live.exchanges[0].type = "direct"
        live.queues[0].arguments["x-max-priority"] = .int(5)
        live.policies[0].definition["dead-letter-exchange"] = "elsewhere"
        let drift = desired.drift(from: live)
        #expect(drift.count == 3)
        #expect(drift.allSatisfy { $0.kind == .different })
        #expect(drift.contains { $0.object == "queue sb.outbound.acme" && $0.detail.contains("x-max-priority: 5") })
    }

    @Test func aBindingWithAnotherKeyIsMissingPlusUnexpected() {
        var live = desired
        live.bindings[0].routingKey = "acme.#"
        let drift = desired.drift(from: live)
        #expect(drift.map(\.kind).sorted { $0.rawValue < $1.rawValue } == [.missing, .unexpected])
    }

    @Test func strangersAreReportedButAreNotDrift() {
        var live = desired
        live.queues.append(.init(name: "sb.retry.7d"))
        live.queues.append(.init(name: "billing.jobs"))
        let drift = desired.drift(from: live)
        #expect(drift == [TopologyDrift(kind: .unexpected, object: "queue sb.retry.7d", detail: "")])
        #expect(!drift[0].isDrift)
    }
}

@Suite("Topology file checks")
struct TopologyValidationTests {
    @Test func aBindingToAnUndefinedExchangeIsRejected() throws {
        var yaml = try String(contentsOfFile: projectTopologyPath, encoding: .utf8)
        yaml = yaml.replacingOccurrences(of: "{ exchange: sb.dlx, key: \"#\" }", with: "{ exchange: sb.nowhere }")
        #expect(throws: TopologyError.self) { try Topology.parse(yaml) }
    }

    @Test func anUnknownVersionIsRejected() throws {
        var yaml = try String(contentsOfFile: projectTopologyPath, encoding: .utf8)
        yaml = yaml.replacingOccurrences(of: "version: 1", with: "version: 2")
        #expect(throws: TopologyError.self) { try Topology.parse(yaml) }
    }

    @Test func servicesReadTheirNamesFromTheRoles() throws {
        let topology = try Topology.load(from: projectTopologyPath)
        #expect(topology.roles.events == "sb.events")
        #expect(topology.roles.exchange(for: .messageStatus) == "sb.statuses")
        #expect(topology.roles.exchange(for: .messageReceived) == "sb.events")
        #expect(topology.roles.exchange(for: .sessionStatus) == "sb.events")
        #expect(topology.roles.inboundQueue == "sb.inbound.raw")
        #expect(topology.inboundRoutingKey == "raw")
    }

    @Test func aRoleNamingAnUndefinedExchangeOrQueueIsRejected() throws {
        let yaml = try String(contentsOfFile: projectTopologyPath, encoding: .utf8)
        for (from, to) in [("  events: sb.events ", "  events: sb.nowhere "),
                           ("  statuses: sb.statuses ", "  statuses: sb.nowhere "),
                           ("  bot-queue: sb.events.bot ", "  bot-queue: sb.nowhere "),
                           ("  inbound-queue: sb.inbound.raw ", "  inbound-queue: sb.dead ")] {
            #expect(yaml.contains(from))
            #expect(throws: TopologyError.self) { try Topology.parse(yaml.replacingOccurrences(of: from, with: to)) }
        }
    }
}
