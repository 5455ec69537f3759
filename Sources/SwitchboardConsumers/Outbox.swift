import Foundation
public import SwitchboardAMQP
import SwitchboardBroker
public import SwitchboardCore
public import SwitchboardStore

/// Publishes what a consumer owes for an event (kept with the event's receipt), each
/// with a confirm, to where its kind goes: events to `sb.events` (statuses to
/// `sb.statuses`), outbound envelopes to `sb.outbound` under `<tenant>.<class>`,
/// control events to `sb.control`.
public struct Outbox: Sendable {
    let publisher: AMQPConnection
    /// The exchanges by role: events, outbound and control.
    let roles: Topology.Roles

    public init(publisher: AMQPConnection, roles: Topology.Roles) {
        self.publisher = publisher
        self.roles = roles
    }

    /// `replay` marks outbound envelopes as possibly published before, so the
    /// dispatcher checks whether the first copy was sent.
    public func publish(_ items: [OutboxItem], replay: Bool) async throws {
        for item in items {
            switch item.kind {
            case .event:
                let event = try WireJSON.sharedDecoder.decode(NormalizedEvent.self, from: item.body)
                try await publisher.publish(event, over: roles)
            case .outbound:
                let envelope = try WireJSON.sharedDecoder.decode(OutboundEnvelope.self, from: item.body)
                try await publisher.publish(item.body, exchange: roles.outbound, routingKey: envelope.routingKey,
                                            properties: envelope.amqpProperties(republished: replay))
            case .control:
                var properties = AMQPMessageProperties(contentType: "application/json")
                properties.type = (try? WireJSON.sharedDecoder.decode(ControlEvent.self, from: item.body))?.type.rawValue
                try await publisher.publish(item.body, exchange: roles.control, routingKey: "", properties: properties)
            }
        }
    }
}

extension Outbox {
    /// Publishes what `consumer` owes for an event, then clears it from the event's
    /// receipt, so a redelivery finds nothing owed.
    public func settle(_ owed: [OutboxItem], consumer: String, tenant: TenantID, eventID: String,
                       receipts: any EventReceiptStore, replay: Bool) async throws {
        guard !owed.isEmpty else { return }
        try await publish(owed, replay: replay)
        try await receipts.clearPending(consumer: consumer, tenant: tenant, eventID: eventID)
    }
}

extension OutboxItem {
    public static func event(_ event: NormalizedEvent) throws -> OutboxItem {
        OutboxItem(kind: .event, body: try WireJSON.sharedEncoder.encode(event))
    }

    public static func outbound(_ envelope: OutboundEnvelope) throws -> OutboxItem {
        OutboxItem(kind: .outbound, body: try envelope.wireBody())
    }

    public static func control(_ event: ControlEvent) throws -> OutboxItem {
        OutboxItem(kind: .control, body: try WireJSON.sharedEncoder.encode(event))
    }
}
