public import Logging
public import SwitchboardAMQP
public import SwitchboardCore

/// Tells the other services on `sb.control` that a tenant or session changed, so a
/// dispatcher starts a new tenant or pauses one at once. Best effort: the change is
/// already stored, and receivers refresh periodically, so a failed announcement is
/// logged, not answered as an error.
public struct ControlAnnouncer: Sendable {
    let publisher: AMQPConnection
    /// The topology's `control` exchange.
    let exchange: String
    let logger: Logger

    public init(publisher: AMQPConnection, exchange: String, logger: Logger) {
        self.publisher = publisher
        self.exchange = exchange
        self.logger = logger
    }

    /// Announces many changes at once (a batch): published together, each confirmed.
    public func announce(_ events: [ControlEvent]) async {
        await withDiscardingTaskGroup { group in
            for event in events { group.addTask { await announce(event) } }
        }
    }

    public func announce(_ event: ControlEvent) async {
        do {
            var properties = AMQPMessageProperties(contentType: "application/json")
            properties.type = event.type.rawValue
            try await publisher.publish(try WireJSON.sharedEncoder.encode(event), exchange: exchange, routingKey: "",
                                        properties: properties)
        } catch {
            logger.warning("control event not announced", metadata: [
                LogKey.tenant: "\(event.tenant)", LogKey.type: "\(event.type.rawValue)", LogKey.error: "\(error)",
            ])
        }
    }
}
