public import AsyncHTTPClient
import Foundation
public import Logging
public import ServiceLifecycle
public import SwitchboardAMQP
import SwitchboardBroker
public import SwitchboardCore
import SwitchboardConsumers
public import SwitchboardStore
import Synchronization
public import SwitchboardTelemetry
public import Tracing

/// The `bot` service: answers contacts' messages from `sb.events.bot` by each tenant's
/// rules (STOP/START opt-out, keyword replies, out-of-hours), and hands what no rule
/// answers to the tenant's own bot URL. Replies are transactional messages through
/// `sb.outbound`, so they are paced and logged like any other.
///
/// It never answers the tenant's own numbers, never writes in groups, and sends a contact
/// at most the tenant's reply limit per window, so two bots cannot talk forever. Each
/// event is decided once (a receipt in the same transaction as its effects); its reply
/// is kept with the receipt until the broker confirmed it. Forwards wait in the store
/// and are POSTed by their own workers, a few per tenant at a time, so a slow or failing
/// bot URL holds up neither the queue nor any other tenant.
public final class Bot: Service, Sendable {
    public struct Configuration: Sendable {
        public var prefetch: UInt16
        /// Forwards in flight in all, and per tenant.
        public var forwardConcurrency: Int
        public var forwardsPerTenant: Int
        /// POSTs of one event before it is given up, and the waits between them.
        public var forwardRetryDelays: [Duration]
        /// How often the forward queue is looked at when idle.
        public var forwardPollInterval: Duration
        public var receiptRetention: Duration

        public init(prefetch: UInt16 = 32, forwardConcurrency: Int = 16,
                    forwardsPerTenant: Int = 2,
                    forwardRetryDelays: [Duration] = [.seconds(2), .seconds(10), .seconds(60), .seconds(300)],
                    forwardPollInterval: Duration = .milliseconds(200), receiptRetention: Duration = .seconds(9 * 86400)) {
            self.prefetch = prefetch
            self.forwardConcurrency = forwardConcurrency
            self.forwardsPerTenant = forwardsPerTenant
            self.forwardRetryDelays = forwardRetryDelays
            self.forwardPollInterval = forwardPollInterval
            self.receiptRetention = receiptRetention
        }
    }

    static let consumer = "bot"

    private let configuration: Configuration
    private let connection: AMQPConnection
    private let metrics: GatewayMetrics
    private let tracer: (any Tracer)?
    private let store: any BotStore & EventReceiptStore & SessionStore
    private let forwarder: BotForwarder
    private let handler: ContactEventHandler
    private let logger: Logger

    /// The bot's queue (the topology's `bot-queue` role).
    private let queue: String

    public init(configuration: Configuration = Configuration(), connection: AMQPConnection, topology: Topology,
                store: any BotStore & EventReceiptStore & SessionStore, httpClient: HTTPClient,
                metrics: GatewayMetrics = .off,
                tracer: (any Tracer)? = nil, logger: Logger) {
        self.configuration = configuration
        self.connection = connection
        self.store = store
        self.metrics = metrics
        self.tracer = tracer
        self.logger = logger
        queue = topology.roles.botQueue
        handler = ContactEventHandler(consumer: Self.consumer, unusableCode: "unanswerable", receipts: store,
                                      publisher: connection, roles: topology.roles, logger: logger)
        forwarder = BotForwarder(configuration: configuration, store: store,
                                 outbox: Outbox(publisher: connection, roles: topology.roles),
                                 httpClient: httpClient, logger: logger)
    }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.forwarder.run() }
            group.addTask { await self.handler.forgetOldReceipts(retention: self.configuration.receiptRetention) }
            await QueueWorker(connection: connection, queue: queue, prefetch: configuration.prefetch,
                              service: Self.consumer, metrics: metrics, tracer: tracer, logger: logger).run { delivery in await self.handle(delivery) }
            group.cancelAll()
        }
        logger.info("bot stopped")
    }

    func handle(_ delivery: AMQPDelivery) async -> ConsumerOutcome {
        await handler.handle(delivery) { event, contact in
            // One of the tenant's own numbers writing (another of its sessions, or a bot
            // of its own): never answered, or two sessions could answer each other forever.
            if try await store.sessions(of: event.tenant).contains(where: { $0.phoneNumber == contact }) {
                return .init(summary: "message from the tenant's own number; not answered", level: .debug)
            }
            let settings = try await store.botSettings(of: event.tenant)
            let rules = try await store.botRules(of: event.tenant)
            let now = Date()
            let text = event.message?.text
            guard let outcome = try await store.applyBotDecision(
                eventID: event.id, tenant: event.tenant, contact: contact, at: now, consumer: Self.consumer,
                replyWindow: Double(settings.replyWindowSeconds), forwardPayload: delivery.body,
                decide: { state in
                    let decision = BotBrain.decide(text: text, settings: settings, rules: rules, contact: state, now: now)
                    return BotOutcome(decision: decision, owed: Self.owed(for: decision, event: event, contact: contact))
                })
            else { return nil }
            let decision = outcome.decision
            var metadata: Logger.Metadata = [LogKey.reply: "\(decision.reply?.reason ?? "-")"]
            if let change = decision.contactChange { metadata[LogKey.contactChange] = "\(change.rawValue)" }
            if decision.forward { metadata[LogKey.forward] = "queued" }
            if decision.limited { metadata[LogKey.limited] = "true" }
            return .init(owed: outcome.owed, summary: "message handled", metadata: metadata)
        }
    }

    /// The reply (a transactional message through the session the contact wrote to) and
    /// the dispatcher's cue to re-read an opted-out or opted-in contact.
    static func owed(for decision: BotDecision, event: NormalizedEvent, contact: PhoneNumber) -> [OutboxItem] {
        // The dispatcher hears of an opt-out before the confirmation goes out.
        var items: [OutboxItem] = []
        if decision.contactChange != nil,
           let item = try? OutboxItem.control(ControlEvent(.contactChanged, tenant: event.tenant, contact: contact)) {
            items.append(item)
        }
        if let reply = decision.reply,
           let item = try? OutboxItem.outbound(replyEnvelope(reply.text, reason: reply.reason, to: contact, event: event)) {
            items.append(item)
        }
        return items
    }

    /// A reply's id comes from the event and the reason, so a republished reply is the
    /// same message (the dispatcher sends it once).
    static func replyEnvelope(_ text: String, reason: String, to contact: PhoneNumber, event: NormalizedEvent)
        -> OutboundEnvelope
    {
        let id = "bot-" + EventID.derive([event.tenant.rawValue, event.id, reason]).dropFirst(4)
        return OutboundEnvelope(id: id, tenant: event.tenant, session: event.session, messageClass: .transactional,
                                to: contact, type: .text, text: text,
                                metadata: ["bot": reason, "in_reply_to": event.id])
    }
}
