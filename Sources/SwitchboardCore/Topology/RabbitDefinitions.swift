/// A RabbitMQ definitions document (the format of `rabbitmqctl export_definitions` and
/// `import_definitions`) holding exactly the given objects in one virtual host.
public struct RabbitDefinitions: Sendable, Encodable {
    struct VirtualHost: Encodable, Sendable { let name: String }

    struct Exchange: Encodable, Sendable {
        let name, vhost, type: String
        let durable: Bool
        let auto_delete: Bool
        let `internal`: Bool
        let arguments: TopologyTable
    }

    struct Queue: Encodable, Sendable {
        let name, vhost: String
        let durable: Bool
        let auto_delete: Bool
        let arguments: TopologyTable
    }

    struct Binding: Encodable, Sendable {
        let source, vhost, destination, destination_type, routing_key: String
        let arguments: TopologyTable
    }

    struct Policy: Encodable, Sendable {
        let vhost, name, pattern: String
        let applyTo: String
        let definition: TopologyTable
        let priority: Int

        enum CodingKeys: String, CodingKey {
            case vhost, name, pattern, definition, priority
            case applyTo = "apply-to"
        }
    }

    let rabbit_version = "3.10.0"
    let vhosts: [VirtualHost]
    let policies: [Policy]
    let queues: [Queue]
    let exchanges: [Exchange]
    let bindings: [Binding]

    public init(_ objects: BrokerObjects, virtualHost vhost: String) {
        vhosts = [VirtualHost(name: vhost)]
        exchanges = objects.exchanges.map {
            Exchange(name: $0.name, vhost: vhost, type: $0.type, durable: $0.durable, auto_delete: $0.autoDelete,
                     internal: $0.internal, arguments: $0.arguments)
        }
        queues = objects.queues.map {
            Queue(name: $0.name, vhost: vhost, durable: $0.durable, auto_delete: $0.autoDelete, arguments: $0.arguments)
        }
        bindings = objects.bindings.map {
            Binding(source: $0.source, vhost: vhost, destination: $0.queue, destination_type: "queue",
                    routing_key: $0.routingKey, arguments: $0.arguments)
        }
        policies = objects.policies.map {
            Policy(vhost: vhost, name: $0.name, pattern: $0.pattern, applyTo: $0.applyTo, definition: $0.definition,
                   priority: $0.priority)
        }
    }
}
