import Foundation
public import Logging
public import ServiceLifecycle
public import SwitchboardBroker
public import SwitchboardCore
public import SwitchboardTelemetry

/// The broker's side of the picture: every queue's ready and unacknowledged depth, read
/// from the management API at an interval by one service (the monitor's process), not
/// per scrape, and kept as gauges by queue, kind and tenant. A queue that disappears
/// (a deleted tenant) loses its series.
public struct BrokerQueueGauges: Service {
    let management: RabbitMQManagement
    let virtualHost: String
    let topology: Topology
    let interval: Duration
    let metrics: GatewayMetrics
    let logger: Logger

    public init(management: RabbitMQManagement, virtualHost: String, topology: Topology, interval: Duration,
                metrics: GatewayMetrics, logger: Logger) {
        self.management = management
        self.virtualHost = virtualHost
        self.topology = topology
        self.interval = interval
        self.metrics = metrics
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var shown: Set<[String]> = []
            repeat {
                do {
                    shown = show(try await management.queueDepths(virtualHost: virtualHost), replacing: shown)
                } catch {
                    metrics.brokerReadErrors.increment()
                    logger.warning("cannot read queue depths", metadata: [LogKey.error: "\(error)"])
                }
            } while (try? await Task.sleep(for: interval)) != nil
        }
    }

    /// Sets every queue's gauges; the series of queues gone since are removed.
    private func show(_ depths: [RabbitMQManagement.QueueDepth], replacing previous: Set<[String]>) -> Set<[String]> {
        var now: Set<[String]> = []
        // Each instance's own control queue is named with a random suffix: an id, not a
        // label value, and always near empty.
        for depth in depths where !depth.name.hasPrefix(topology.roles.control + ".") {
            let labels = labels(of: depth.name)
            now.insert(labels)
            metrics.queueReady[labels].set(depth.ready)
            metrics.queueUnacked[labels].set(depth.unacknowledged)
        }
        for gone in previous.subtracting(now) {
            metrics.queueReady.remove(gone)
            metrics.queueUnacked.remove(gone)
        }
        return now
    }

    /// `[queue, kind, tenant]` for a queue of the topology (`-` for no tenant).
    func labels(of queue: String) -> [String] {
        let roles = topology.roles
        if let tenant = topology.tenant(ofQueue: queue) { return [queue, "tenant", tenant.rawValue] }
        let kind: String = switch queue {
        case _ where topology.retry.tiers.contains(where: { topology.retryQueue($0) == queue }): "retry"
        case roles.deadLetterQueue, roles.unroutableQueue: "dead-letter"
        case roles.inboundQueue: "inbound"
        case roles.loggerQueue, roles.inboxQueue, roles.botQueue, roles.monitorQueue: "events"
        default: "other"
        }
        return [queue, kind, "-"]
    }
}
