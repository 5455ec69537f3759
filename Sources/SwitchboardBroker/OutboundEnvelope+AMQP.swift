public import Foundation
public import SwitchboardAMQP
public import SwitchboardCore

extension OutboundEnvelope {
    /// The AMQP properties of ARCHITECTURE.md's contract: `message_id`, JSON,
    /// persistent, the class's priority, the time, and headers `sb-attempt`, `sb-tenant`.
    public func amqpProperties(attempt: Int32 = 1, at date: Date = Date()) -> AMQPMessageProperties {
        var properties = AMQPMessageProperties.persistent(contentType: "application/json")
        properties.messageID = id
        properties.priority = messageClass.priority
        properties.timestamp = date
        properties.headers = ["sb-attempt": .int32(attempt), "sb-tenant": .string(tenant.rawValue)]
        return properties
    }

    /// The JSON body published to `sb.outbound`.
    public func wireBody() throws -> Data { try WireJSON.sharedEncoder.encode(self) }
}
