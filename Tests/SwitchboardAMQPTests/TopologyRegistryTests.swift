import Testing
@testable import SwitchboardAMQP

@Suite("Topology replayed after a reconnect")
struct TopologyRegistryTests {
    @Test func replaysInDeclarationOrderByKind() {
        var registry = TopologyRegistry()
        registry.record(AMQPBinding(exchange: "sb.outbound", queue: "sb.outbound.acme", routingKey: "acme.*"))
        registry.record(AMQPQueueDeclaration(name: "sb.outbound.acme"))
        registry.record(AMQPExchangeDeclaration(name: "sb.outbound", kind: .topic))
        registry.record(AMQPExchangeDeclaration(name: "sb.dlx", kind: .topic))
        let replay = registry.replayOrder
        #expect(replay.exchanges.map(\.name) == ["sb.outbound", "sb.dlx"])
        #expect(replay.queues.map(\.name) == ["sb.outbound.acme"])
        #expect(replay.bindings.count == 1)
    }

    @Test func redeclarationKeepsOrderAndTakesTheNewArguments() {
        var registry = TopologyRegistry()
        registry.record(AMQPQueueDeclaration(name: "a"))
        registry.record(AMQPQueueDeclaration(name: "b"))
        registry.record(AMQPQueueDeclaration(name: "a", arguments: ["x-max-priority": 10]))
        #expect(registry.replayOrder.queues.map(\.name) == ["a", "b"])
        #expect(registry.replayOrder.queues.first?.arguments["x-max-priority"] == 10)
    }

    @Test func deletingAQueueForgetsItsBindings() {
        var registry = TopologyRegistry()
        registry.record(AMQPExchangeDeclaration(name: "e", kind: .fanout))
        registry.record(AMQPQueueDeclaration(name: "q1"))
        registry.record(AMQPQueueDeclaration(name: "q2"))
        registry.record(AMQPBinding(exchange: "e", queue: "q1"))
        registry.record(AMQPBinding(exchange: "e", queue: "q2"))
        registry.forget(queue: "q1")
        #expect(registry.replayOrder.queues.map(\.name) == ["q2"])
        #expect(registry.replayOrder.bindings == [AMQPBinding(exchange: "e", queue: "q2")])
        registry.forget(exchange: "e")
        #expect(registry.replayOrder.bindings.isEmpty)
        #expect(registry.replayOrder.exchanges.isEmpty)
    }

    @Test func serverNamedQueuesAreNotReplayed() {
        var registry = TopologyRegistry()
        registry.record(AMQPQueueDeclaration(name: "", exclusive: true))
        #expect(registry.isEmpty)
    }

    @Test func unbindForgetsOnlyThatBinding() {
        var registry = TopologyRegistry()
        let a = AMQPBinding(exchange: "e", queue: "q", routingKey: "a")
        let b = AMQPBinding(exchange: "e", queue: "q", routingKey: "b")
        registry.record(a)
        registry.record(b)
        registry.record(a)
        registry.forget(binding: a)
        #expect(registry.replayOrder.bindings == [b])
    }
}
