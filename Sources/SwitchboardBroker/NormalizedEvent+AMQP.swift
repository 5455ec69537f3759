import Foundation
public import SwitchboardAMQP
public import SwitchboardCore
public import Tracing

extension NormalizedEvent {
    /// Persistent JSON with the event id as `message_id` (subscribers deduplicate on
    /// it), the type as `type` and routing key, and `sb-tenant` so a subscriber's
    /// binding or consumer can filter by tenant without parsing the body.
    public var amqpProperties: AMQPMessageProperties {
        var properties = AMQPMessageProperties.persistent(contentType: "application/json")
        properties.messageID = id
        properties.type = type.rawValue
        properties.timestamp = occurredAt
        properties.headers = [OutboundHeader.tenant: .string(tenant.rawValue)]
        return properties
    }
}

extension AMQPConnection {
    /// Publishes `event` to the exchange its type goes to (`message.status` to the
    /// topology's `statuses` role, the rest to `events`) and returns once the broker
    /// confirmed it.
    /// With `tracer`, the current span's context travels with it.
    public func publish(_ event: NormalizedEvent, over roles: Topology.Roles, tracer: (any Tracer)? = nil) async throws {
        try await publish(event, to: roles.exchange(for: event.type), tracer: tracer)
    }

    /// Publishes `event` to `exchange` and returns once the broker confirmed it.
    public func publish(_ event: NormalizedEvent, to exchange: String, tracer: (any Tracer)? = nil) async throws {
        var properties = event.amqpProperties
        properties.injectTraceContext(tracer)
        try await publish(try WireJSON.sharedEncoder.encode(event), exchange: exchange,
                          routingKey: event.type.rawValue, properties: properties)
    }
}
