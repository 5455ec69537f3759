import Foundation
public import Logging
public import ServiceLifecycle
public import SwitchboardAMQP
import SwitchboardBroker
public import SwitchboardCore
public import SwitchboardProviders
public import SwitchboardStore
import Synchronization

/// The `dispatcher` service: consumes every dispatchable tenant's queue (single active
/// consumer, so one instance owns a tenant at a time), sends each message through its
/// session's provider at the session's pace, and settles it (sent, retried, dead-
/// lettered) before acknowledging. Tenants and sessions are re-read on every
/// `sb.control` event and every `refreshInterval`, so tenants created later are picked
/// up and a disconnected session pauses its tenant without a restart.
///
/// Each tenant consumer needs an AMQP channel of its own, and a connection carries at
/// most the broker's `channel_max` (2,047 by default) of them; so consumers do not run
/// on the dispatcher's connection but on lanes: connections opened on demand, each
/// holding at most `channelsPerLane` consumers (capped by what its broker negotiated),
/// closed when the dispatcher stops. The dispatcher's own connection publishes (status
/// events, retries, dead letters) and listens for control events.
public final class Dispatcher: Service, Sendable {
    /// Opens the connection of lane `number` (1, 2, …) when the lanes open so far are full.
    public typealias LaneOpener = @Sendable (_ number: Int) async throws -> AMQPConnection

    /// How the dispatcher paces and retries.
    public struct Configuration: Sendable {
        /// Deliveries a tenant may have in flight (its consumer's prefetch): a
        /// transactional message waits behind at most this many of its tenant's bulk
        /// messages already fetched.
        public var inFlightPerTenant: UInt16
        /// How often tenants and sessions are read again without a control event.
        public var refreshInterval: Duration
        /// Sends in all before a transiently failing message is dead-lettered.
        public var maximumAttempts: Int
        /// The wait before the first retry (each later one is four times longer, rounded
        /// up to a tier): 5 s by default, so 6 attempts span about 1 h 13 min.
        public var firstRetryDelay: Duration
        /// Tenant consumers one lane connection carries at most; a lane also stays below
        /// the `channel_max` its broker negotiated, less the client's own channels.
        public var channelsPerLane: Int

        public init(inFlightPerTenant: UInt16 = 8, refreshInterval: Duration = .seconds(5), maximumAttempts: Int = 6,
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
    private let store: SQLiteStore
    private let topology: Topology
    private let processor: DeliveryProcessor
    private let book: SessionBook
    private let restrictions: ContactRestrictions
    private let logger: Logger
    /// The consumers running now, by tenant, to cancel one when its tenant pauses.
    private let consumers = Mutex<[TenantID: AMQPConsumer]>([:])
    private let instance = UUID().uuidString.prefix(8).lowercased()
    /// A lane: a connection and how many of its consumer channels are taken.
    private struct Lane {
        let connection: AMQPConnection
        var used: Int
    }
    /// The lanes opened so far, in order; only the reconcile loop opens one or takes a
    /// slot, dispatch tasks give slots back.
    private let lanes = Mutex<[Lane]>([])
    private let openLane: LaneOpener

    /// `openLane` opens a lane's connection; by default, with the configuration of
    /// `connection`, named after it with `-lane-N`.
    public init(configuration: Configuration = Configuration(), connection: AMQPConnection, store: SQLiteStore,
                providers: ProviderDirectory, topology: Topology, logger: Logger, openLane: LaneOpener? = nil) {
        self.configuration = configuration
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
            book: book, restrictions: restrictions, pacer: SessionPacer(), providers: providers, messages: store, publisher: connection,
            topology: topology, schedule: RetrySchedule(tiers: topology.retry.tiers,
                                                        maximumAttempts: configuration.maximumAttempts,
                                                        firstDelay: configuration.firstRetryDelay),
            logger: logger)
    }

    /// The tenants being consumed now.
    public var activeTenants: Set<TenantID> { consumers.withLock { Set($0.keys) } }

    /// How many lane connections are open.
    public var laneCount: Int { lanes.withLock { $0.count } }

    /// Consumer channels taken on each lane, in lane order.
    public var laneLoad: [Int] { lanes.withLock { $0.map(\.used) } }

    public func run() async throws {
        let (changes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        // The outer group holds one task per dispatched tenant; it is never cancelled, so
        // at shutdown the deliveries in flight finish and are acknowledged.
        await withDiscardingTaskGroup { dispatching in
            await withTaskGroup(of: Void.self) { background in
                background.addTask { await self.listenForControlEvents(wake) }
                background.addTask {
                    // The periodic refresh: a lost control event only delays a change.
                    while (try? await Task.sleep(for: self.configuration.refreshInterval)) != nil {
                        wake.yield()
                    }
                }
                wake.yield()
                // Reconcile on every wake: start tenants that became dispatchable, stop the rest.
                for await _ in changes.cancelOnGracefulShutdown() {
                    let picture: [TenantID: SessionBook.Entry]
                    do {
                        picture = try await book.refresh()
                        try await restrictions.reload()
                    } catch {
                        logger.error("cannot read tenants", metadata: [LogKey.error: "\(error)"])
                        continue
                    }
                    let wanted = Set(picture.filter { $0.value.isDispatchable }.keys)
                    let running = activeTenants
                    for tenant in running.subtracting(wanted) {
                        await stop(tenant)
                    }
                    for tenant in wanted.subtracting(running) {
                        guard let started = await start(tenant) else { continue }
                        let (consumer, lane) = started
                        dispatching.addTask {
                            await self.dispatch(consumer, tenant: tenant)
                            // Its deliveries are settled and its channel closed (or closing,
                            // before any later command on that connection): the slot is free.
                            self.release(lane)
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

    /// Subscribes to a tenant's queue on a lane with a free slot; returns the lane taken.
    private func start(_ tenant: TenantID) async -> (AMQPConsumer, Int)? {
        guard let lane = await takeSlot() else { return nil }
        do {
            let consumer = try await lanes.withLock { $0[lane].connection }.consume(
                queue: topology.tenantQueue(tenant), options: AMQPConsumeOptions(prefetch: configuration.inFlightPerTenant))
            consumers.withLock { $0[tenant] = consumer }
            logger.info("dispatching tenant", metadata: [LogKey.tenant: "\(tenant)", LogKey.lane: "\(lane + 1)"])
            return (consumer, lane)
        } catch {
            release(lane)
            logger.warning("cannot consume tenant queue", metadata: [LogKey.tenant: "\(tenant)", LogKey.error: "\(error)"])
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
    /// when a new lane cannot be opened (the tenant is tried again at the next refresh).
    private func takeSlot() async -> Int? {
        let taken = lanes.withLock { lanes -> Int? in
            guard let index = lanes.indices.first(where: { lanes[$0].used < budget(of: lanes[$0].connection) }) else {
                return nil
            }
            lanes[index].used += 1
            return index
        }
        if let taken { return taken }
        let number = laneCount + 1
        do {
            let connection = try await openLane(number)
            logger.info("consumer lane opened", metadata: [LogKey.lane: "\(number)",
                                                           LogKey.channelMax: "\(connection.negotiatedChannelMax)"])
            return lanes.withLock { lanes in
                lanes.append(Lane(connection: connection, used: 1))
                return lanes.count - 1
            }
        } catch {
            logger.warning("cannot open a consumer lane", metadata: [LogKey.lane: "\(number)", LogKey.error: "\(error)"])
            return nil
        }
    }

    private func release(_ lane: Int) {
        lanes.withLock { lanes in
            if lanes.indices.contains(lane) { lanes[lane].used -= 1 }
        }
    }

    private func stop(_ tenant: TenantID) async {
        guard let consumer = consumers.withLock({ $0.removeValue(forKey: tenant) }) else { return }
        await consumer.cancel()
        logger.info("tenant paused", metadata: [LogKey.tenant: "\(tenant)"])
    }

    /// One tenant's deliveries, processed concurrently (the prefetch bounds how many).
    private func dispatch(_ consumer: AMQPConsumer, tenant: TenantID) async {
        await withDiscardingTaskGroup { group in
            do {
                for try await delivery in consumer {
                    group.addTask { _ = await self.processor.process(delivery, tenant: tenant) }
                }
            } catch {
                logger.warning("tenant consumer ended", metadata: [LogKey.tenant: "\(tenant)", LogKey.error: "\(error)"])
            }
        }
        // Ended by the broker (queue deleted) rather than by us: forget it so a refresh
        // can start it again.
        consumers.withLock { current in
            if current[tenant]?.consumerTag == consumer.consumerTag { current[tenant] = nil }
        }
    }

    /// Binds this instance's own control queue to `sb.control`; every event wakes a
    /// refresh. The client re-declares the queue and resubscribes after a reconnect; a
    /// failure to set it up at all is retried.
    private func listenForControlEvents(_ wake: AsyncStream<Void>.Continuation) async {
        let queue = "sb.control.dispatcher.\(instance)"
        while !Task.isCancelled {
            do {
                _ = try await connection.declareQueue(AMQPQueueDeclaration(name: queue, durable: false, exclusive: true,
                                                                           autoDelete: true))
                try await connection.bind(AMQPBinding(exchange: topology.roles.control, queue: queue))
                let events = try await connection.consume(queue: queue, options: AMQPConsumeOptions(prefetch: 10,
                                                                                                     autoAck: true))
                for try await delivery in events {
                    let event = try? WireJSON.sharedDecoder.decode(ControlEvent.self, from: delivery.body)
                    if let event {
                        logger.debug("control event", metadata: [LogKey.tenant: "\(event.tenant)",
                                                                 LogKey.type: "\(event.type.rawValue)"])
                    }
                    if let event, event.type == .contactChanged, let contact = event.contact {
                        // One contact's opt-out or pause: read it alone, at once.
                        await restrictions.reload(contact, tenant: event.tenant)
                    } else {
                        wake.yield()
                    }
                }
                return  // cancelled
            } catch {
                logger.warning("control queue unavailable; relying on the periodic refresh",
                               metadata: [LogKey.error: "\(error)"])
                try? await Task.sleep(for: .seconds(2))
            }
        }
    }
}
