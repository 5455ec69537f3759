public import Foundation
public import SwitchboardAMQP
public import SwitchboardCore
public import SwitchboardStore

/// Why a dead letter could not be replayed.
public enum ReplayError: Error, Sendable, Hashable, CustomStringConvertible {
    /// It did not come from a door it can go back through (only `sb.outbound` and
    /// `sb.inbound` take replays; an event a consumer parked is not republished).
    case noWayBack(String)
    /// A redirect or an edit needs an outbound envelope, and the body is not one.
    case notAnEnvelope(String)
    /// The broker did not confirm the republish (nothing is marked; try again).
    case broker(AMQPError)

    public var description: String {
        switch self {
        case .noWayBack(let why): "cannot be replayed: \(why)"
        case .notAnEnvelope(let why): "not an outbound envelope: \(why)"
        case .broker(let error): "the broker did not confirm the replay: \(error)"
        }
    }
}

/// Sends an archived dead letter back where it was first published (`sb.outbound`
/// under its original key, or a raw webhook to `sb.inbound`), with confirm: its failure
/// headers and `x-death` stripped, `sb-attempt` 1 again, `sb-replays` counted and
/// `sb-replayed-from` naming the archive entry. `sb-republished` makes the dispatcher
/// ask the store first, so a message the provider already accepted is not sent twice.
public struct DeadLetterReplayer: Sendable {
    let publisher: AMQPConnection
    let roles: Topology.Roles

    /// Headers that describe the failure, not the message.
    static let failureHeaders: Set<String> = [
        "x-death", "x-first-death-reason", "x-first-death-queue", "x-first-death-exchange",
        "x-last-death-reason", "x-last-death-queue", "x-last-death-exchange",
        OutboundHeader.errorCode, OutboundHeader.errorDetail, OutboundHeader.attempts, OutboundHeader.firstFailedAt,
        OutboundHeader.lastFailedAt, OutboundHeader.originalRoutingKey, OutboundHeader.originalExchange,
        "sb-retry-tier",
    ]

    public init(publisher: AMQPConnection, roles: Topology.Roles) {
        self.publisher = publisher
        self.roles = roles
    }

    /// Where outbound envelopes go back to (the only dead letters that can be edited).
    public var outboundExchange: String { roles.outbound }

    /// Republishes `letter` (with `body` instead of its own, for an edit; through
    /// `session` instead of the envelope's, for a redirect) and returns once the broker
    /// confirmed it.
    public func replay(_ letter: ArchivedDeadLetter, body: Data? = nil, session: String? = nil)
        async throws(ReplayError)
    {
        let (exchange, routingKey, properties, payload) = try Self.message(for: letter, roles: roles, body: body,
                                                                           session: session)
        do {
            try await publisher.publish(payload, exchange: exchange, routingKey: routingKey, properties: properties)
        } catch {
            throw .broker(error)
        }
    }

    /// What a replay of `letter` publishes: exchange, routing key, properties and body.
    public static func message(for letter: ArchivedDeadLetter, roles: Topology.Roles, body: Data? = nil,
                               session: String? = nil)
        throws(ReplayError) -> (exchange: String, routingKey: String, properties: AMQPMessageProperties, body: Data)
    {
        guard let exchange = letter.originalExchange, let routingKey = letter.originalRoutingKey else {
            throw .noWayBack("where it was first published is not known")
        }
        guard exchange == roles.outbound || exchange == roles.inbound else {
            throw .noWayBack("it came from \(exchange.isEmpty ? "the default exchange" : exchange), which takes no replays")
        }
        var payload = body ?? letter.body
        if let session {
            guard exchange == roles.outbound else { throw .notAnEnvelope("a raw webhook cannot be redirected") }
            guard case .object(var envelope)? = try? JSONDecoder().decode(JSONValue.self, from: payload) else {
                throw .notAnEnvelope("its body is not a JSON object")
            }
            envelope["session"] = .string(session)
            payload = AMQPJSON.data(JSONValue.object(envelope))
        }
        var headers = AMQPJSON.table(AMQPJSON.object(letter.headers))
        for name in Self.failureHeaders { headers[name] = nil }
        let replays = (headers[OutboundHeader.replays]?.intValue ?? 0) + 1
        headers[OutboundHeader.replays] = .int32(Int32(clamping: replays))
        headers[OutboundHeader.replayedFrom] = .string(letter.id)
        if exchange == roles.outbound {
            headers[OutboundHeader.attempt] = .int32(1)
            headers[OutboundHeader.republished] = .bool(true)
        }
        var properties = AMQPJSON.properties(AMQPJSON.object(letter.properties), headers: headers)
        // A per-message TTL would expire it again; a user id must match the replaying
        // connection's user. Neither is the message's.
        properties.expiration = nil
        properties.userID = nil
        properties.deliveryMode = .persistent
        return (exchange, routingKey, properties, payload)
    }
}
