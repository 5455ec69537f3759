public import AsyncHTTPClient
import Foundation
public import Logging
public import ServiceLifecycle
public import SwitchboardAMQP
import SwitchboardBroker
import SwitchboardCore
import SwitchboardInbound
public import SwitchboardStore
import Synchronization

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
        public var queue: String
        public var prefetch: UInt16
        /// Forwards in flight in all, and per tenant.
        public var forwardConcurrency: Int
        public var forwardsPerTenant: Int
        /// POSTs of one event before it is given up, and the waits between them.
        public var forwardRetryDelays: [Duration]
        /// How often the forward queue is looked at when idle.
        public var forwardPollInterval: Duration
        public var receiptRetention: Duration

        public init(queue: String = "sb.events.bot", prefetch: UInt16 = 32, forwardConcurrency: Int = 16,
                    forwardsPerTenant: Int = 2,
                    forwardRetryDelays: [Duration] = [.seconds(2), .seconds(10), .seconds(60), .seconds(300)],
                    forwardPollInterval: Duration = .milliseconds(200), receiptRetention: Duration = .seconds(9 * 86400)) {
            self.queue = queue
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
    private let store: any BotStore & EventReceiptStore & SessionStore
    private let forwarder: BotForwarder
    private let outbox: Outbox
    private let deadLetter: DeadLetter
    /// Copies of one event delivered at once are handled one after the other.
    private let gate = KeyedGate()
    private let logger: Logger

    public init(configuration: Configuration = Configuration(), connection: AMQPConnection,
                store: any BotStore & EventReceiptStore & SessionStore, httpClient: HTTPClient, logger: Logger) {
        self.configuration = configuration
        self.connection = connection
        self.store = store
        self.logger = logger
        outbox = Outbox(publisher: connection)
        deadLetter = DeadLetter(publisher: connection)
        forwarder = BotForwarder(configuration: configuration, store: store, outbox: outbox, httpClient: httpClient,
                                 logger: logger)
    }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.forwarder.run() }
            group.addTask {
                while (try? await Task.sleep(for: .seconds(3600))) != nil {
                    _ = try? await self.store.forgetReceipts(
                        before: Date().addingTimeInterval(-self.configuration.receiptRetention.seconds))
                }
            }
            await QueueWorker(connection: connection, queue: configuration.queue, prefetch: configuration.prefetch,
                              logger: logger).run { delivery in await self.handle(delivery) }
            group.cancelAll()
        }
        logger.info("bot stopped")
    }

    func handle(_ delivery: AMQPDelivery) async {
        let event: NormalizedEvent
        do { event = try WireJSON.sharedDecoder.decode(NormalizedEvent.self, from: delivery.body) } catch {
            await park(delivery, tenant: delivery.headers[OutboundHeader.tenant]?.stringValue,
                       code: DeadLetterReason.malformed, detail: "not a normalized event: \(error)")
            return
        }
        guard let contact = event.writingContact else {
            try? await delivery.ack()
            return
        }
        var metadata: Logger.Metadata = ["tenant": "\(event.tenant)", "session": "\(event.session?.rawValue ?? "-")",
                                         "event_id": "\(event.id)", "contact": "\(contact)"]
        let key = "\(event.tenant)/\(event.id)"
        await gate.enter([key])
        defer { gate.leave([key]) }
        do {
            if let owed = try await store.pendingPublications(consumer: Self.consumer, tenant: event.tenant,
                                                              eventID: event.id) {
                try await outbox.settle(owed, consumer: Self.consumer, tenant: event.tenant, eventID: event.id,
                                        receipts: store, replay: true)
                try? await delivery.ack()
                return
            }
            // One of the tenant's own numbers writing (another of its sessions, or a bot
            // of its own): never answered, or two sessions could answer each other forever.
            if try await store.sessions(of: event.tenant).contains(where: { $0.phoneNumber == contact }) {
                logger.debug("message from the tenant's own number; not answered", metadata: metadata)
                try? await delivery.ack()
                return
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
            else {
                try? await delivery.ack()
                return
            }
            try await outbox.settle(outcome.owed, consumer: Self.consumer, tenant: event.tenant, eventID: event.id,
                                    receipts: store, replay: false)
            try? await delivery.ack()
            let decision = outcome.decision
            metadata["reply"] = "\(decision.reply?.reason ?? "-")"
            if let change = decision.contactChange { metadata["contact_change"] = "\(change.rawValue)" }
            if decision.forward { metadata["forward"] = "queued" }
            if decision.limited { metadata["limited"] = "true" }
            logger.info("message handled", metadata: metadata)
        } catch let error as StoreError {
            if case .notFound = error {
                await park(delivery, tenant: event.tenant.rawValue, code: "unanswerable", detail: error.description)
                return
            }
            logger.error("event not handled; retrying", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            try? await Task.sleep(for: .milliseconds(500))
            try? await delivery.nack(requeue: true)
        } catch {
            logger.warning("reply not published; retrying", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            try? await Task.sleep(for: .milliseconds(500))
            try? await delivery.nack(requeue: true)
        }
    }

    private func park(_ delivery: AMQPDelivery, tenant: String?, code: String, detail: String) async {
        await deadLetter.parkAndAck(delivery, tenant: tenant, code: code, detail: detail)
        logger.warning("event dead-lettered", metadata: ["tenant": "\(tenant ?? "-")", "error": "\(detail)"])
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
