import Foundation
public import Logging
public import ServiceLifecycle
public import SwitchboardAMQP
import SwitchboardBroker
import SwitchboardConsumers
public import SwitchboardCore
public import SwitchboardProviders
public import SwitchboardStore
public import SwitchboardTelemetry
public import Tracing
import Synchronization

/// The `dispatcher` service: consumes every dispatchable tenant's queue (single active
/// consumer, so one instance owns a tenant at a time), sends each message through its
/// session's provider at the session's pace, and settles it (sent, retried, dead-
/// lettered) before acknowledging. A tenant named by an `sb.control` event is read
/// again alone (its consumer started, paused or stopped at once), so a change costs the
/// same with ten or ten thousand tenants; every tenant is read again, in two queries,
/// every `refreshInterval` (with jitter), the safety net for a lost event.
///
/// Each tenant consumer needs an AMQP channel of its own, and a connection carries at
/// most the broker's `channel_max` (2,047 by default) of them; so consumers do not run
/// on the dispatcher's connection but on lanes: connections opened on demand, each
/// holding at most `channelsPerLane` consumers (capped by what its broker negotiated),
/// closed when they empty (all but the first) and when the dispatcher stops. The
/// dispatcher's own connection publishes (status events, retries, dead letters) and
/// listens for control events.
public final class Dispatcher: Service, Sendable {
    /// Opens the connection of lane `number` (1, 2, …) when the lanes open so far are full.
    public typealias LaneOpener = @Sendable (_ number: Int) async throws -> AMQPConnection

    /// How the dispatcher paces and retries.
    public struct Configuration: Sendable {
        /// Deliveries a tenant may have in flight (its consumer's prefetch): a
        /// transactional message waits behind at most this many of its tenant's bulk
        /// messages already fetched.
        public var inFlightPerTenant: UInt16
        /// How often every tenant and session is read again without a control event (±10 %).
        public var refreshInterval: Duration
        /// Sends in all before a transiently failing message is dead-lettered.
        public var maximumAttempts: Int
        /// The wait before the first retry (each later one is four times longer, rounded
        /// up to a tier): 5 s by default, so 6 attempts span about 1 h 13 min.
        public var firstRetryDelay: Duration
        /// Tenant consumers one lane connection carries at most; a lane also stays below
        /// the `channel_max` its broker negotiated, less the client's own channels.
        public var channelsPerLane: Int

        public init(inFlightPerTenant: UInt16 = 8, refreshInterval: Duration = .seconds(60), maximumAttempts: Int = 6,
                    firstRetryDelay: Duration = .seconds(5), channelsPerLane: Int = 1000) {
            self.inFlightPerTenant = inFlightPerTenant
            self.refreshInterval = refreshInterval
            self.maximumAttempts = maximumAttempts
            self.firstRetryDelay = firstRetryDelay
            self.channelsPerLane = channelsPerLane
        }
    }

    private let configuration: Configuration
    private let connection: AMQPConnection
    private let store: any GatewayStore
    private let topology: Topology
    private let processor: DeliveryProcessor
    private let book: SessionBook
    private let restrictions: ContactRestrictions
    private let metrics: GatewayMetrics
    private let logger: Logger
    /// The consumers running now, by tenant, to cancel one when its tenant pauses.
    private let consumers = Mutex<[TenantID: AMQPConsumer]>([:])
    private let instance = UUID().uuidString.prefix(8).lowercased()
    /// A lane: a connection and how many of its consumer channels are taken.
    private struct Lane {
        /// 1, 2, …: the smallest number free when it opened.
        let number: Int
        let connection: AMQPConnection
        var used: Int
    }
    /// The lanes open, by number; only the reconcile loop opens one or takes a slot,
    /// dispatch tasks give slots back (and close a lane other than the first that
    /// empties).
    private let lanes = Mutex<[Lane]>([])
    /// What the reconcile loop has to read again: everything, or the tenants named by
    /// control events since it last ran.
    private struct Pending {
        var everything = false
        var tenants: Set<TenantID> = []
    }
    private let pending = Mutex(Pending())
    /// Tenants whose queue could not be consumed, or whose consumer the broker cancelled
    /// (its cluster node died): tried again every `retryOrphansEvery` rather than at the
    /// next periodic reload.
    private let orphans = Mutex(Set<TenantID>())
    private static let retryOrphansEvery: Duration = .seconds(5)
    private let openLane: LaneOpener

    /// `openLane` opens a lane's connection; by default, with the configuration of
    /// `connection`, named after it with `-lane-N`.
    public init(configuration: Configuration = Configuration(), connection: AMQPConnection, store: any GatewayStore,
                providers: ProviderDirectory, topology: Topology, metrics: GatewayMetrics = .off,
                tracer: (any Tracer)? = nil, logger: Logger, openLane: LaneOpener? = nil) {
        self.configuration = configuration
        self.metrics = metrics
        self.connection = connection
        self.openLane = openLane ?? { [amqp = connection.configuration] number in
            var lane = amqp
            lane.connectionName = "\(amqp.connectionName)-lane-\(number)"
            return try await AMQPConnection.connect(lane, logger: logger)
        }
        self.store = store
        self.topology = topology
        self.logger = logger
        book = SessionBook(store: store)
        restrictions = ContactRestrictions(store: store, logger: logger)
        processor = DeliveryProcessor(
            book: book, restrictions: restrictions, pacer: SessionPacer(), inFlight: KeyedGate(), providers: providers,
            messages: store, publisher: connection,
            topology: topology, schedule: RetrySchedule(tiers: topology.retry.tiers,
                                                        maximumAttempts: configuration.maximumAttempts,
                                                        firstDelay: configuration.firstRetryDelay),
            metrics: metrics, tracer: tracer, logger: logger)
    }

    /// The tenants being consumed now.
    public var activeTenants: Set<TenantID> { consumers.withLock { Set($0.keys) } }

    /// How many lane connections are open.
    public var laneCount: Int { lanes.withLock { $0.count } }

    /// Consumer channels taken on each lane, in lane-number order.
    public var laneLoad: [Int] { lanes.withLock { $0.map(\.used) } }

    public func run() async throws {
        let (changes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let control = ControlSubscription(connection: connection, exchange: topology.roles.control,
                                          listener: "dispatcher", logger: logger)
        // The outer group holds one task per dispatched tenant; it is never cancelled, so
        // at shutdown the deliveries in flight finish and are acknowledged.
        await withDiscardingTaskGroup { dispatching in
            await withTaskGroup(of: Void.self) { background in
                background.addTask {
                    // Events sent before the queue was bound are missed: read everything then.
                    await control.follow(subscribed: { self.needs(everything: true, wake) }) { event in
                        await self.apply(event, wake)
                    }
                }
                background.addTask {
                    // The periodic reload: a lost control event only delays a change.
                    while (try? await Task.sleep(for: self.configuration.refreshInterval * Double.random(in: 0.9...1.1)))
                        != nil
                    {
                        self.needs(everything: true, wake)
                    }
                }
                background.addTask {
                    while (try? await Task.sleep(for: Self.retryOrphansEvery)) != nil {
                        let tenants = self.orphans.withLock { orphans in
                            defer { orphans.removeAll() }
                            return orphans
                        }
                        for tenant in tenants { self.needs(tenant: tenant, wake) }
                    }
                }
                needs(everything: true, wake)
                for await _ in changes.cancelOnGracefulShutdown() {
                    await reconcile { tenant in
                        dispatching.addTask {
                            await self.dispatch(tenant.consumer, tenant: tenant.id)
                            // Its deliveries are settled and its channel closed (or closing,
                            // before any later command on that connection): the slot is free.
                            await self.release(tenant.lane)
                        }
                    }
                }
                background.cancelAll()
            }
            // Graceful shutdown: stop fetching; what is in flight finishes.
            for tenant in activeTenants { await stop(tenant) }
        }
        // Every consumer is cancelled and its deliveries settled: the lanes may close.
        let open = lanes.withLock { lanes in
            defer { lanes.removeAll() }
            return lanes.map(\.connection)
        }
        for lane in open { await lane.close() }
        logger.info("dispatcher stopped")
    }

    /// A tenant consumer just started, for the caller to run.
    private struct Started {
        let id: TenantID
        let consumer: AMQPConsumer
        /// The number of the lane it runs on.
        let lane: Int
    }

    private func needs(everything: Bool = false, tenant: TenantID? = nil, _ wake: AsyncStream<Void>.Continuation) {
        pending.withLock { pending in
            if everything { pending.everything = true }
            if let tenant { pending.tenants.insert(tenant) }
        }
        wake.yield()
    }

    private func apply(_ event: ControlEvent, _ wake: AsyncStream<Void>.Continuation) async {
        switch event.type {
        case .contactChanged:
            // One contact's opt-out or pause: read it alone, at once.
            if let contact = event.contact { await restrictions.reload(contact, tenant: event.tenant) }
        case .tenantCreated, .tenantUpdated, .tenantDeleted, .sessionChanged:
            needs(tenant: event.tenant, wake)
        }
    }

    /// Reads again what changed (everything, or the tenants named since the last run),
    /// then starts the tenants that became dispatchable and stops the rest.
    private func reconcile(run: (Started) -> Void) async {
        let work = pending.withLock { pending in
            defer { pending = Pending() }
            return pending
        }
        var wanted: [TenantID: Bool] = [:]
        do {
            if work.everything {
                let picture = try await book.reload()
                try await restrictions.reload()
                for (tenant, entry) in picture { wanted[tenant] = entry.isDispatchable }
                for tenant in activeTenants where picture[tenant] == nil { wanted[tenant] = false }
            } else {
                for tenant in work.tenants {
                    wanted[tenant] = try await book.reload(tenant)?.isDispatchable ?? false
                }
            }
        } catch {
            // Tried again at the next event or periodic reload, whichever wakes first.
            pending.withLock { pending in
                pending.everything = pending.everything || work.everything
                pending.tenants.formUnion(work.tenants)
            }
            logger.error("cannot read tenants", metadata: [LogKey.error: "\(error)"])
            return
        }
        let running = activeTenants
        for (tenant, dispatchable) in wanted.sorted(by: { $0.key < $1.key }) {
            if dispatchable, !running.contains(tenant) {
                if let started = await start(tenant) { run(started) }
            } else if !dispatchable, running.contains(tenant) {
                await stop(tenant)
            }
        }
    }

    /// Subscribes to a tenant's queue on a lane with a free slot.
    private func start(_ tenant: TenantID) async -> Started? {
        guard let (lane, connection) = await takeSlot() else { return nil }
        do {
            let consumer = try await connection.consume(
                queue: topology.tenantQueue(tenant), options: AMQPConsumeOptions(prefetch: configuration.inFlightPerTenant))
            let active = consumers.withLock { consumers in
                consumers[tenant] = consumer
                return consumers.count
            }
            metrics.activeTenants.set(active)
            logger.info("dispatching tenant", metadata: [LogKey.tenant: "\(tenant)", LogKey.lane: "\(lane)"])
            return Started(id: tenant, consumer: consumer, lane: lane)
        } catch {
            await release(lane)
            logger.warning("cannot consume tenant queue", metadata: [LogKey.tenant: "\(tenant)", LogKey.error: "\(error)"])
            _ = orphans.withLock { $0.insert(tenant) }
            return nil
        }
    }

    /// The consumers a lane may carry: `channelsPerLane`, and below the negotiated
    /// `channel_max` less the client's own channels (0 negotiated: no limit, 65,535).
    private func budget(of connection: AMQPConnection) -> Int {
        let negotiated = connection.negotiatedChannelMax
        let channelMax = negotiated == 0 ? Int(UInt16.max) : negotiated
        return max(1, min(configuration.channelsPerLane, channelMax - AMQPConnection.reservedChannels))
    }

    /// Takes a slot on the first lane with room, opening a lane when all are full; nil
    /// when a new lane cannot be opened (the tenant is tried again at the next reload).
    private func takeSlot() async -> (number: Int, connection: AMQPConnection)? {
        let taken = lanes.withLock { lanes -> (Int, AMQPConnection)? in
            guard let index = lanes.indices.first(where: { lanes[$0].used < budget(of: lanes[$0].connection) }) else {
                return nil
            }
            lanes[index].used += 1
            return (lanes[index].number, lanes[index].connection)
        }
        if let taken { return taken }
        let number = lanes.withLock { lanes in
            let numbers = Set(lanes.map(\.number))
            return (1...).first { !numbers.contains($0) }!
        }
        do {
            let connection = try await openLane(number)
            logger.info("consumer lane opened", metadata: [LogKey.lane: "\(number)",
                                                           LogKey.channelMax: "\(connection.negotiatedChannelMax)"])
            lanes.withLock { lanes in
                lanes.append(Lane(number: number, connection: connection, used: 1))
                lanes.sort { $0.number < $1.number }
            }
            return (number, connection)
        } catch {
            logger.warning("cannot open a consumer lane", metadata: [LogKey.lane: "\(number)", LogKey.error: "\(error)"])
            return nil
        }
    }

    /// Gives a slot back; a lane other than the first that is left empty closes.
    private func release(_ number: Int) async {
        let emptied = lanes.withLock { lanes -> AMQPConnection? in
            guard let index = lanes.firstIndex(where: { $0.number == number }) else { return nil }
            lanes[index].used -= 1
            guard lanes[index].used == 0, index > 0 else { return nil }
            return lanes.remove(at: index).connection
        }
        if let emptied {
            await emptied.close()
            logger.info("consumer lane closed", metadata: [LogKey.lane: "\(number)"])
        }
    }

    private func stop(_ tenant: TenantID) async {
        guard let (consumer, active) = consumers.withLock({ consumers -> (AMQPConsumer, Int)? in
            consumers.removeValue(forKey: tenant).map { ($0, consumers.count) }
        }) else { return }
        metrics.activeTenants.set(active)
        await consumer.cancel()
        logger.info("tenant paused", metadata: [LogKey.tenant: "\(tenant)"])
    }

    /// One tenant's deliveries, processed concurrently (the prefetch bounds how many).
    private func dispatch(_ consumer: AMQPConsumer, tenant: TenantID) async {
        let failed = await withDiscardingTaskGroup { group in
            do {
                for try await delivery in consumer {
                    group.addTask { _ = await self.processor.process(delivery, tenant: tenant) }
                }
                return false
            } catch {
                logger.warning("tenant consumer ended", metadata: [LogKey.tenant: "\(tenant)", LogKey.error: "\(error)"])
                return true
            }
        }
        // Ended by the broker (queue deleted) rather than by us: forget it so a refresh
        // can start it again.
        let active = consumers.withLock { current in
            if current[tenant]?.consumerTag == consumer.consumerTag { current[tenant] = nil }
            return current.count
        }
        metrics.activeTenants.set(active)
        // Cancelled by the broker (its node died, or the queue was deleted): tried again soon.
        if failed { _ = orphans.withLock { $0.insert(tenant) } }
    }

}
