import Foundation
public import SwitchboardAMQP
import SwitchboardCore

/// Parks a delivery the service cannot use in `sb.dlx` under `<tenant>.<code>`, body
/// intact, with the reason headers of the dead-letter contract, so operators can see
/// why, fix, and replay it.
public struct DeadLetter: Sendable {
    let publisher: AMQPConnection
    let exchange: String

    /// `exchange` is the topology's `dead-letters` role.
    public init(publisher: AMQPConnection, exchange: String) {
        self.publisher = publisher
        self.exchange = exchange
    }

    public func park(_ delivery: AMQPDelivery, tenant: String?, code: String, detail: String) async throws(AMQPError) {
        var properties = delivery.properties
        var headers = delivery.headers
        let now = AMQPFieldValue.string(WireJSON.format(Date()))
        headers[OutboundHeader.errorCode] = .string(code)
        headers[OutboundHeader.errorDetail] = .string(String(detail.prefix(1000)))
        headers[OutboundHeader.attempts] = .int32(1)
        headers[OutboundHeader.firstFailedAt] = now
        headers[OutboundHeader.lastFailedAt] = now
        headers[OutboundHeader.originalRoutingKey] = .string(delivery.routingKey)
        headers[OutboundHeader.originalExchange] = .string(delivery.exchange)
        properties.headers = headers
        try await publisher.publish(delivery.body, exchange: exchange, routingKey: "\(tenant ?? "unknown").\(code)",
                                    properties: properties)
    }

    /// Parks the delivery, then acks it; if the park is not confirmed, the delivery goes
    /// back to its queue instead (nothing is lost either way). True when parked.
    @discardableResult
    public func parkAndAck(_ delivery: AMQPDelivery, tenant: String?, code: String, detail: String) async -> Bool {
        do {
            try await park(delivery, tenant: tenant, code: code, detail: detail)
            try await delivery.ack()
            return true
        } catch {
            try? await delivery.nack(requeue: true)
            return false
        }
    }
}
