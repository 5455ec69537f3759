public import SwitchboardAMQP
public import SwitchboardCore

/// Why a topology or tenant operation on the broker failed.
public enum BrokerError: Error, Sendable, CustomStringConvertible {
    /// An AMQP operation failed.
    case amqp(AMQPError)
    /// The management HTTP API could not be reached or answered an error.
    case management(status: Int?, String)
    /// The topology file or a tenant id is unusable.
    case topology(TopologyError)
    /// Deprovisioning would drop messages; pass `force` to do it anyway.
    case tenantQueueNotEmpty(TenantID, messages: UInt32)
    /// Consumers (a dispatcher) are attached: deleting the queue would drop the messages
    /// they hold unacknowledged. Pause the tenant first, or pass `force`.
    case tenantQueueInUse(TenantID, consumers: UInt32)
    /// `apply` declared what it could; these objects could not be made to match.
    case applyFailed([String])

    public var description: String {
        switch self {
        case .amqp(let error): "\(error)"
        case .management(let status, let message):
            status.map { "management API answered \($0): \(message)" } ?? "management API: \(message)"
        case .topology(let error): "\(error)"
        case .tenantQueueNotEmpty(let tenant, let messages):
            "tenant \(tenant) still has \(messages) queued message(s); deprovision with --force to delete them"
        case .tenantQueueInUse(let tenant, let consumers):
            "tenant \(tenant)'s queue has \(consumers) consumer(s) that may hold unacknowledged messages; "
                + "stop them first, or deprovision with --force"
        case .applyFailed(let failures): "apply failed for: " + failures.joined(separator: "; ")
        }
    }
}
