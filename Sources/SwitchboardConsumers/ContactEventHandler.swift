import Foundation
public import Logging
public import SwitchboardAMQP
public import SwitchboardCore
public import SwitchboardStore

/// What the inbox and the bot share around their own decision on a contact's message:
/// decode it (or dead-letter it), skip what is not a contact's message, hold the event's
/// id so copies delivered at once go one after the other, publish what an event handled
/// before still owes, else decide, publish what the decision owes (with confirm), clear
/// it from the receipt, and only then ack. A store failure is retried; an event that can
/// never apply (its tenant is gone) is dead-lettered.
public struct ContactEventHandler: Sendable {
    /// What deciding on one event came to.
    public struct Handled: Sendable {
        /// Publications the decision owes (kept with the event's receipt).
        public var owed: [OutboxItem]
        public var summary: String
        public var level: Logger.Level
        public var metadata: Logger.Metadata

        public init(owed: [OutboxItem] = [], summary: String, level: Logger.Level = .info,
                    metadata: Logger.Metadata = [:]) {
            self.owed = owed
            self.summary = summary
            self.level = level
            self.metadata = metadata
        }
    }

    /// The consumer's name in its receipts.
    public let consumer: String
    /// The dead-letter code of an event that can never apply.
    let unusableCode: String
    let receipts: any EventReceiptStore
    let outbox: Outbox
    let deadLetter: DeadLetter
    let gate = KeyedGate()
    let logger: Logger

    public init(consumer: String, unusableCode: String, receipts: any EventReceiptStore, publisher: AMQPConnection,
                roles: Topology.Roles, logger: Logger) {
        self.consumer = consumer
        self.unusableCode = unusableCode
        self.receipts = receipts
        outbox = Outbox(publisher: publisher, roles: roles)
        deadLetter = DeadLetter(publisher: publisher, exchange: roles.deadLetters)
        self.logger = logger
    }

    /// Handles one delivery; `decide` applies a new event (writing its receipt) and
    /// returns what it owes, or nil when another copy applied it first.
    public func handle(_ delivery: AMQPDelivery,
                       decide: (NormalizedEvent, PhoneNumber) async throws -> Handled?) async -> ConsumerOutcome {
        let event: NormalizedEvent
        do { event = try WireJSON.sharedDecoder.decode(NormalizedEvent.self, from: delivery.body) } catch {
            await park(delivery, tenant: delivery.headers[OutboundHeader.tenant]?.stringValue,
                       code: DeadLetterReason.malformed.rawValue, detail: "not a normalized event: \(error)")
            return .deadLettered
        }
        guard let contact = event.writingContact else {
            // Not a contact's message (a status, an alert, an own or group message).
            try? await delivery.ack()
            return .handled
        }
        let metadata: Logger.Metadata = [LogKey.tenant: "\(event.tenant)", LogKey.session: "\(event.session?.rawValue ?? "-")",
                                         LogKey.eventID: "\(event.id)", LogKey.contact: "\(contact)"]
        let key = "\(event.tenant)/\(event.id)"
        await gate.enter([key])
        defer { gate.leave([key]) }
        do {
            if let owed = try await receipts.pendingPublications(consumer: consumer, tenant: event.tenant,
                                                                 eventID: event.id) {
                // Handled before: only what it still owes (if anything) is published.
                try await settle(owed, of: event, replay: true)
                try? await delivery.ack()
                return .handled
            }
            guard let handled = try await decide(event, contact) else {
                try? await delivery.ack()
                return .handled
            }
            try await settle(handled.owed, of: event, replay: false)
            try? await delivery.ack()
            logger.log(level: handled.level, "\(handled.summary)", metadata: metadata.merging(handled.metadata) { $1 })
            return .handled
        } catch let error as StoreError {
            if case .notFound = error {
                await park(delivery, tenant: event.tenant.rawValue, code: unusableCode, detail: error.description)
                return .deadLettered
            }
            logger.error("event not applied; retrying", metadata: metadata.merging([LogKey.error: "\(error)"]) { $1 })
            try? await Task.sleep(for: .milliseconds(500))
            try? await delivery.nack(requeue: true)
            return .retried
        } catch {
            // The broker did not confirm a publication: it stays owed; the event comes again.
            logger.warning("owed publication not confirmed; retrying",
                           metadata: metadata.merging([LogKey.error: "\(error)"]) { $1 })
            try? await Task.sleep(for: .milliseconds(500))
            try? await delivery.nack(requeue: true)
            return .retried
        }
    }

    /// Forgets receipts older than `retention`, hourly, until cancelled.
    public func forgetOldReceipts(retention: Duration) async {
        while (try? await Task.sleep(for: .seconds(3600))) != nil {
            _ = try? await receipts.forgetReceipts(before: Date().addingTimeInterval(-retention.seconds))
        }
    }

    private func settle(_ owed: [OutboxItem], of event: NormalizedEvent, replay: Bool) async throws {
        try await outbox.settle(owed, consumer: consumer, tenant: event.tenant, eventID: event.id, receipts: receipts,
                                replay: replay)
    }

    private func park(_ delivery: AMQPDelivery, tenant: String?, code: String, detail: String) async {
        await deadLetter.parkAndAck(delivery, tenant: tenant, code: code, detail: detail)
        logger.warning("event dead-lettered", metadata: [LogKey.tenant: "\(tenant ?? "-")", LogKey.error: "\(detail)"])
    }
}
