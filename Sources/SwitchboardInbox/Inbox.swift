import Foundation
public import Logging
public import ServiceLifecycle
public import SwitchboardAMQP
import SwitchboardBroker
public import SwitchboardCore
import SwitchboardConsumers
public import SwitchboardStore
public import SwitchboardTelemetry
public import Tracing

/// The `inbox` service: keeps one conversation per tenant and contact from
/// `sb.events.inbox`. A contact's message opens (or updates) the conversation, pauses
/// the contact's bulk messages for `pauseFor` (the dispatcher skips paused contacts) and
/// raises an `inbox.alert` on `sb.events` (an opt-out or opt-in keyword is the bot's
/// business and changes nothing here). Agents read, reply, assign and resolve through
/// the API; resolving lifts the pause.
///
/// Each event is applied once (a receipt in the same transaction as its effects); the
/// alert and the dispatcher's `contact.changed` are kept with the receipt until the
/// broker confirmed them, so a crash in between publishes them on the redelivery.
public final class Inbox: Service, Sendable {
    public struct Configuration: Sendable {
        public var prefetch: UInt16
        /// How long a contact's reply holds back the tenant's bulk messages to them.
        public var pauseFor: Duration
        /// How long receipts are kept (redeliveries come within minutes; replays of old
        /// webhooks within the normalizer's 8 days of dedupe).
        public var receiptRetention: Duration

        public init(prefetch: UInt16 = 32, pauseFor: Duration = .seconds(24 * 3600),
                    receiptRetention: Duration = .seconds(9 * 86400)) {
            self.prefetch = prefetch
            self.pauseFor = pauseFor
            self.receiptRetention = receiptRetention
        }
    }

    /// The consumer name of the inbox's receipts.
    static let consumer = "inbox"

    private let configuration: Configuration
    private let connection: AMQPConnection
    private let metrics: GatewayMetrics
    private let tracer: (any Tracer)?
    private let store: any InboxStore & EventReceiptStore & BotStore
    private let handler: ContactEventHandler
    private let logger: Logger

    /// The inbox's queue (the topology's `inbox-queue` role).
    private let queue: String

    public init(configuration: Configuration = Configuration(), connection: AMQPConnection, topology: Topology,
                store: any InboxStore & EventReceiptStore & BotStore, metrics: GatewayMetrics = .off,
                tracer: (any Tracer)? = nil, logger: Logger) {
        self.configuration = configuration
        self.connection = connection
        self.store = store
        self.metrics = metrics
        self.tracer = tracer
        self.logger = logger
        queue = topology.roles.inboxQueue
        handler = ContactEventHandler(consumer: Self.consumer, unusableCode: "uninboxable", receipts: store,
                                      publisher: connection, roles: topology.roles, logger: logger)
    }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.handler.forgetOldReceipts(retention: self.configuration.receiptRetention) }
            await QueueWorker(connection: connection, queue: queue, prefetch: configuration.prefetch,
                              service: Self.consumer, metrics: metrics, tracer: tracer, logger: logger).run { delivery in await self.handle(delivery) }
            group.cancelAll()
        }
        logger.info("inbox stopped")
    }

    func handle(_ delivery: AMQPDelivery) async -> ConsumerOutcome {
        await handler.handle(delivery) { event, contact in
            if Self.isOptKeyword(event.message?.text, settings: try await store.botSettings(of: event.tenant)) {
                // STOP or START is the bot's business, not a reply for an agent: a START
                // must not pause the very messages it asks for.
                return .init(summary: "opt keyword; no conversation change", level: .debug)
            }
            let pauseUntil = Date().addingTimeInterval(configuration.pauseFor.seconds)
            guard let (update, owed) = try await store.recordContactMessage(
                event, contact: contact, pauseUntil: pauseUntil, consumer: Self.consumer,
                owed: { update in Self.owed(for: update, event: event, contact: contact) })
            else { return nil }
            return .init(owed: owed, summary: update.reopened ? "contact replied; bulk paused" : "contact wrote",
                         metadata: [LogKey.unread: "\(update.conversation.unread)"])
        }
    }

    static func isOptKeyword(_ text: String?, settings: BotSettings) -> Bool {
        let said = BotRule.normalize(text ?? "")
        return !said.isEmpty
            && (settings.optOutKeywords + settings.optInKeywords).contains { BotRule.normalize($0) == said }
    }

    /// The alert for agents and the dispatcher's cue to re-read the contact.
    static func owed(for update: InboxUpdate, event: NormalizedEvent, contact: PhoneNumber) -> [OutboxItem] {
        let conversation = update.conversation
        let alert = NormalizedEvent(
            id: EventID.derive(["inbox.alert", event.tenant.rawValue, event.id]), type: .inboxAlert,
            tenant: event.tenant, session: event.session, provider: event.provider, occurredAt: event.occurredAt,
            receivedAt: Date(), message: event.message,
            alert: InboxAlert(contact: contact.e164, reason: update.reopened ? "reply" : "message",
                              conversationState: conversation.state, unread: conversation.unread,
                              assignee: conversation.assignee, pausedUntil: update.pausedUntil,
                              preview: conversation.lastMessagePreview, sourceEventID: event.id))
        // The dispatcher hears of the pause first, so by the time an agent sees the
        // alert no further bulk message is on its way.
        var items: [OutboxItem] = []
        if update.pausedUntil != nil,
           let item = try? OutboxItem.control(ControlEvent(.contactChanged, tenant: event.tenant, contact: contact)) {
            items.append(item)
        }
        if let item = try? OutboxItem.event(alert) { items.append(item) }
        return items
    }
}
