public import Foundation
public import SwitchboardAMQP
public import SwitchboardCore

extension OutboundEnvelope {
    /// The AMQP properties of ARCHITECTURE.md's contract: `message_id`, JSON,
    /// persistent, the class's priority, the time, and headers `sb-attempt`, `sb-tenant`,
    /// `sb-accepted-at`.
    /// `republished` marks a second publish of the same message (its first publish's
    /// outcome unknown), so the dispatcher checks for a send of the first copy.
    public func amqpProperties(attempt: Int32 = 1, at date: Date = Date(), republished: Bool = false)
        -> AMQPMessageProperties
    {
        var properties = AMQPMessageProperties.persistent(contentType: "application/json")
        properties.messageID = id
        properties.priority = messageClass.priority
        properties.timestamp = date
        var headers: AMQPTable = [
            OutboundHeader.attempt: .int32(attempt), OutboundHeader.tenant: .string(tenant.rawValue),
            OutboundHeader.acceptedAt: .int64(Int64((date.timeIntervalSince1970 * 1000).rounded())),
        ]
        if republished { headers[OutboundHeader.republished] = .bool(true) }
        properties.headers = headers
        return properties
    }

    /// The JSON body published to `sb.outbound`.
    public func wireBody() throws -> Data { try WireJSON.sharedEncoder.encode(self) }
}
