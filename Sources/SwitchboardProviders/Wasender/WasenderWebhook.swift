import Foundation
import SwitchboardCore

/// WasenderAPI's webhook shape (also what the simulator sends for `wasender` and
/// `simulator` sessions): `{event, timestamp, sessionId?, data}`. The session is the
/// one the webhook's URL named (`RawWebhook.session`).
enum WasenderWebhook {
    static func parse(_ raw: RawWebhook, sessionNumber: PhoneNumber?) throws(WebhookParseError) -> ParsedWebhook {
        let envelope: Envelope
        do {
            envelope = try JSONDecoder().decode(Envelope.self, from: raw.body)
        } catch {
            throw .malformed(WebhookParsing.reason(error, provider: "WasenderAPI"))
        }
        guard let name = WebhookParsing.nonEmpty(envelope.event) else {
            throw .malformed("WasenderAPI webhook has no event name")
        }
        var parser = Parser(raw: raw, sessionNumber: sessionNumber, envelopeTime: WebhookParsing.instant(envelope.timestamp),
                            event: name)
        // The events the gateway carries need their `data`; one of another type is no
        // WasenderAPI webhook, and skipping it would drop it unseen: it is refused, so
        // the normalizer dead-letters it with its bytes.
        func requireData(_ shapes: Set<Envelope.DataShape>) throws(WebhookParseError) {
            guard !shapes.contains(envelope.dataShape) else { return }
            let expected = shapes.contains(.text) ? "an object or a string" : "an object or an array of objects"
            switch envelope.dataShape {
            case .absent: throw .malformed("WasenderAPI \(name) webhook has no data")
            default: throw .malformed("WasenderAPI \(name) webhook's data is not \(expected)")
            }
        }
        switch name.trimmingCharacters(in: .whitespaces).lowercased() {
        case "messages.received", "messages.upsert", "messages-personal.received", "messages-group.received",
             "messages-newsletter.received":
            try requireData([.objects])
            parser.received(envelope.items)
        case "messages.update":
            try requireData([.objects])
            parser.updates(envelope.items)
        case "message.sent":
            try requireData([.objects])
            parser.sent(envelope.items)
        case "session.status":
            try requireData([.objects, .text])
            let value = envelope.items.first?.status ?? envelope.dataText
            parser.session(value)
            // A session's state the gateway cannot read must not be dropped: the raw
            // webhook is dead-lettered with the reason, for an operator to look at.
            if parser.result.events.isEmpty { throw .unknownSessionStatus(value ?? "") }
        default:
            parser.result.skipped.append("WasenderAPI event '\(name)' is not carried")
        }
        return parser.result
    }

    /// WasenderAPI's `messages.update` status (a code or a name) as a normalized status.
    static func messageStatus(_ value: String) -> MessageState? {
        switch value.trimmingCharacters(in: .whitespaces).lowercased() {
        case "0", "error", "failed": .failed
        case "1", "pending", "queued": .queued
        case "2", "server_ack", "sent": .sent
        case "3", "delivery_ack", "delivered": .delivered
        case "4", "read": .read
        case "5", "played": .played
        default: nil
        }
    }

    /// A session status in any of the spellings seen (`NEED_SCAN`, `need_scan`, `need-scan`).
    static func sessionStatus(_ value: String) -> SessionStatus? {
        let spelled = value.trimmingCharacters(in: .whitespaces).lowercased()
            .replacingOccurrences(of: "-", with: "_").replacingOccurrences(of: " ", with: "_")
        return SessionStatus(providerValue: spelled)
    }

    /// The phone number in a jid (`15551234567@s.whatsapp.net`, `15551234567:12@s.whatsapp.net`,
    /// `15551234567@c.us`) or a bare number (`15551234567`, `+15551234567`); nil for a
    /// group, a `@lid` or any other id that is not a phone number.
    static func number(fromJID jid: String?) -> String? {
        guard let jid = WebhookParsing.nonEmpty(jid)?.trimmingCharacters(in: .whitespaces) else { return nil }
        var user = Substring(jid)
        if let at = jid.firstIndex(of: "@") {
            let server = jid[jid.index(after: at)...].lowercased()
            guard server == "s.whatsapp.net" || server == "c.us" else { return nil }
            user = jid[..<at]
        }
        if let colon = user.firstIndex(of: ":") { user = user[..<colon] }
        return WebhookParsing.e164(String(user))
    }

    /// True for a jid that names a chat rather than a person: a group (`@g.us`), a
    /// broadcast list or status (`@broadcast`), a channel (`@newsletter`).
    static func isChat(_ jid: String) -> Bool {
        guard let at = jid.firstIndex(of: "@") else { return false }
        return ["g.us", "broadcast", "newsletter"].contains(jid[jid.index(after: at)...].lowercased())
    }

    // MARK: Events

    private struct Parser {
        let raw: RawWebhook
        /// The session's own number: the `to` of every message it receives.
        let sessionNumber: PhoneNumber?
        let envelopeTime: Date?
        let event: String
        var result = ParsedWebhook()

        /// The item's own time, else the envelope's, else when the webhook arrived.
        func time(_ own: Double?) -> Date {
            WebhookParsing.instant(own) ?? envelopeTime ?? raw.receivedAt
        }

        mutating func received(_ items: [Item]) {
            let messages = items.flatMap { item in
                item.messages.isEmpty ? (item.asMessage.map { [$0] } ?? []) : item.messages
            }
            if messages.isEmpty { result.skipped.append("WasenderAPI \(event) without messages") }
            for message in messages {
                guard let id = WebhookParsing.nonEmpty(message.key?.id) else {
                    result.skipped.append("WasenderAPI \(event): a message without key.id")
                    continue
                }
                result.events.append(WebhookParsing.received(
                    normalized(message, id: id), providerID: id, provider: raw.provider, tenant: raw.tenant,
                    session: raw.session, occurredAt: time(message.timestamp), receivedAt: raw.receivedAt))
            }
        }

        func normalized(_ message: Message, id: String) -> NormalizedEvent.Message {
            let key = message.key
            let fromMe = key?.fromMe
            var from: String?
            var to: String?
            var chat: String?
            if let remote = key?.remoteJid, WasenderWebhook.isChat(remote) {
                chat = remote
                // With LID addressing `participant` is an `@lid` id, no number (which
                // `number(fromJID:)` refuses); WasenderAPI recommends `cleanedParticipantPn`.
                from = [key?.cleanedParticipantPn, key?.participantPn, key?.participant, key?.participantAlt].lazy
                    .compactMap(WasenderWebhook.number(fromJID:)).first
                if from == nil, fromMe != true {
                    from = [key?.cleanedSenderPn, key?.senderPn].lazy.compactMap(WasenderWebhook.number(fromJID:)).first
                }
            } else if fromMe == true {
                // The chat is with the recipient; the sender is the session's own number.
                to = [key?.remoteJid, key?.remoteJidAlt].lazy.compactMap(WasenderWebhook.number(fromJID:)).first
            } else {
                // A `@lid` jid is no phone number: only the `…Pn` fields can tell it.
                from = [key?.cleanedSenderPn, key?.senderPn, key?.remoteJid, key?.remoteJidAlt].lazy
                    .compactMap(WasenderWebhook.number(fromJID:)).first
            }
            if fromMe != true {
                // Received, in a chat or a group: WasenderAPI never names the receiving
                // number, which is the session's own.
                to = sessionNumber?.e164
            }
            let content = message.content
            let body = WebhookParsing.nonEmpty(message.body)
            let text = content?.media != nil ? (content?.text ?? body) : (body ?? content?.text)
            return NormalizedEvent.Message(
                providerID: id, from: from, to: to, type: content?.kind ?? (text != nil ? "text" : "unknown"),
                text: text, fromMe: fromMe, chat: chat, contactName: WebhookParsing.nonEmpty(message.pushName),
                media: content?.media, location: content?.location)
        }

        mutating func updates(_ items: [Item]) {
            if items.isEmpty { result.skipped.append("WasenderAPI \(event) without data") }
            for item in items {
                guard let code = item.status else {
                    result.skipped.append("WasenderAPI \(event) without a status")
                    continue
                }
                guard let status = WasenderWebhook.messageStatus(code) else {
                    result.skipped.append("WasenderAPI \(event): unknown status '\(code)'")
                    continue
                }
                if item.key?.fromMe == false {
                    result.skipped.append("WasenderAPI \(event): status of a message the session received")
                    continue
                }
                append(status, item)
            }
        }

        mutating func sent(_ items: [Item]) {
            if items.isEmpty { result.skipped.append("WasenderAPI \(event) without data") }
            for item in items { append(.sent, item) }
        }

        private mutating func append(_ status: MessageState, _ item: Item) {
            let providerID = WebhookParsing.nonEmpty(item.msgID) ?? WebhookParsing.nonEmpty(item.key?.id)
                ?? item.messages.lazy.compactMap { WebhookParsing.nonEmpty($0.key?.id) }.first
            guard let providerID else {
                result.skipped.append("WasenderAPI \(event): \(status) without a message id")
                return
            }
            result.events.append(WebhookParsing.status(
                .init(status: status, messageID: nil, providerMessageID: providerID), provider: raw.provider,
                tenant: raw.tenant, session: raw.session, occurredAt: time(item.timestamp),
                receivedAt: raw.receivedAt))
        }

        mutating func session(_ value: String?) {
            guard let value, let status = WasenderWebhook.sessionStatus(value) else {
                result.skipped.append("WasenderAPI \(event): unknown session status '\(value ?? "")'")
                return
            }
            let occurredAt = envelopeTime ?? raw.receivedAt
            let id = EventID.derive([raw.provider.rawValue, raw.session.rawValue, "session", status.rawValue,
                                     WebhookParsing.wholeSeconds(occurredAt)])
            result.events.append(NormalizedEvent(
                id: id, type: .sessionStatus, tenant: raw.tenant, session: raw.session, provider: raw.provider,
                occurredAt: occurredAt, receivedAt: raw.receivedAt, sessionStatus: status))
        }
    }

    // MARK: Shapes (every field optional, any field of another type reads as absent)

    struct Envelope: Decodable {
        /// What `data` holds.
        enum DataShape: Hashable {
            /// Absent or null.
            case absent
            /// An object or an array of objects.
            case objects
            /// A string.
            case text
            /// Anything else: a number, a boolean, an array with a non-object in it.
            case other
        }

        var event: String?
        var timestamp: Double?
        /// `data` as one object or an array of them.
        var items: [Item]
        /// `data` when it is a plain string (some `session.status` webhooks).
        var dataText: String?
        var dataShape: DataShape

        enum CodingKeys: String, CodingKey { case event, timestamp, data }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            event = c.lenient(.event, as: String.self)
            timestamp = c.number(.timestamp)
            let data = c.objects(.data, of: Item.self)
            items = data.items
            dataText = c.lenient(.data, as: String.self)
            dataShape = !c.holds(.data) ? .absent : dataText != nil ? .text : data.wrongShape ? .other : .objects
        }
    }

    /// One object of `data`: it holds messages, a status update, a sent message or a
    /// session status, depending on the event.
    struct Item: Decodable {
        var messages: [Message]
        var key: Key?
        /// `update.status`, else `status`: a code, a name, or a session status.
        var status: String?
        var msgID: String?
        var timestamp: Double?
        /// The object itself read as a message (a `messages.received` without the
        /// `messages` wrapper).
        var asMessage: Message?

        enum CodingKeys: String, CodingKey { case messages, key, update, status, msgId, messageTimestamp, timestamp }

        struct Update: Decodable {
            var status: String?
            enum CodingKeys: String, CodingKey { case status }
            init(from decoder: any Decoder) throws {
                status = try decoder.container(keyedBy: CodingKeys.self).text(.status)
            }
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            messages = c.list(.messages, of: Message.self)
            key = c.lenient(.key)
            status = c.lenient(.update, as: Update.self)?.status ?? c.text(.status)
            msgID = c.text(.msgId)
            timestamp = c.number(.messageTimestamp) ?? c.number(.timestamp)
            asMessage = key == nil ? nil : try? Message(from: decoder)
        }
    }

    struct Key: Decodable {
        var id: String?
        var fromMe: Bool?
        var remoteJid: String?
        var remoteJidAlt: String?
        var senderPn: String?
        var cleanedSenderPn: String?
        var participant: String?
        var participantPn: String?
        var cleanedParticipantPn: String?
        var participantAlt: String?

        enum CodingKeys: String, CodingKey {
            case id, fromMe, remoteJid, remoteJidAlt, senderPn, cleanedSenderPn, participant, participantPn,
                 cleanedParticipantPn, participantAlt
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            id = c.text(.id)
            fromMe = c.flag(.fromMe)
            remoteJid = c.text(.remoteJid)
            remoteJidAlt = c.text(.remoteJidAlt)
            senderPn = c.text(.senderPn)
            cleanedSenderPn = c.text(.cleanedSenderPn)
            participant = c.text(.participant)
            participantPn = c.text(.participantPn)
            cleanedParticipantPn = c.text(.cleanedParticipantPn)
            participantAlt = c.text(.participantAlt)
        }
    }

    struct Message: Decodable {
        var key: Key?
        var pushName: String?
        var body: String?
        var content: Content?
        var timestamp: Double?

        enum CodingKeys: String, CodingKey { case key, pushName, messageBody, message, messageTimestamp }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            key = c.lenient(.key)
            pushName = c.text(.pushName)
            body = c.text(.messageBody)
            content = c.lenient(.message)
            timestamp = c.number(.messageTimestamp)
        }
    }

    /// `message`: WhatsApp's message content, read into what the event carries.
    struct Content: Decodable {
        /// `image`, `video`, `audio`, `document`, `sticker`, `location`, `contact`,
        /// `reaction`, `text`, or nil when nothing known is in it.
        var kind: String?
        /// The text, a caption, a contact's name or a reaction's emoji.
        var text: String?
        var media: NormalizedEvent.Media?
        var location: NormalizedEvent.Location?

        enum CodingKeys: String, CodingKey {
            case conversation, extendedTextMessage
            case imageMessage, videoMessage, audioMessage, documentMessage, stickerMessage
            case locationMessage, liveLocationMessage, contactMessage, contactsArrayMessage, reactionMessage
            case ephemeralMessage, viewOnceMessage, viewOnceMessageV2, viewOnceMessageV2Extension,
                 documentWithCaptionMessage
        }

        /// A message inside another (disappearing, view-once, document with caption).
        struct Wrapper: Decodable { var message: Content? }

        struct ExtendedText: Decodable {
            var text: String?
            enum CodingKeys: String, CodingKey { case text }
            init(from decoder: any Decoder) throws { text = try decoder.container(keyedBy: CodingKeys.self).text(.text) }
        }

        struct MediaItem: Decodable {
            var url: String?
            var mimetype: String?
            var caption: String?
            var fileName: String?
            enum CodingKeys: String, CodingKey { case url, mimetype, mimeType, caption, fileName, filename, title }
            init(from decoder: any Decoder) throws {
                let c = try decoder.container(keyedBy: CodingKeys.self)
                url = c.text(.url)
                mimetype = c.firstText(.mimetype, .mimeType)
                caption = c.text(.caption)
                fileName = c.firstText(.fileName, .filename, .title)
            }
        }

        struct LocationItem: Decodable {
            var latitude: Double?
            var longitude: Double?
            var name: String?
            var address: String?
            enum CodingKeys: String, CodingKey { case degreesLatitude, degreesLongitude, name, address }
            init(from decoder: any Decoder) throws {
                let c = try decoder.container(keyedBy: CodingKeys.self)
                latitude = c.number(.degreesLatitude)
                longitude = c.number(.degreesLongitude)
                name = c.text(.name)
                address = c.text(.address)
            }
        }

        /// A contact card, a list of them, or a reaction: only the name or emoji is kept.
        struct Named: Decodable {
            var name: String?
            enum CodingKeys: String, CodingKey { case displayName, text }
            init(from decoder: any Decoder) throws {
                name = try decoder.container(keyedBy: CodingKeys.self).firstText(.displayName, .text)
            }
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            for wrapper in [CodingKeys.ephemeralMessage, .viewOnceMessage, .viewOnceMessageV2,
                            .viewOnceMessageV2Extension, .documentWithCaptionMessage]
            {
                if let inner = c.lenient(wrapper, as: Wrapper.self)?.message {
                    self = inner
                    return
                }
            }
            let plain = WebhookParsing.nonEmpty(c.text(.conversation))
                ?? WebhookParsing.nonEmpty(c.lenient(.extendedTextMessage, as: ExtendedText.self)?.text)
            let kinds: [(CodingKeys, String)] = [(.imageMessage, "image"), (.videoMessage, "video"),
                                                 (.audioMessage, "audio"), (.documentMessage, "document"),
                                                 (.stickerMessage, "sticker")]
            for (key, kind) in kinds {
                if let item = c.lenient(key, as: MediaItem.self) {
                    self.kind = kind
                    media = NormalizedEvent.Media(url: WebhookParsing.nonEmpty(item.url), mimeType: item.mimetype,
                                                  fileName: WebhookParsing.nonEmpty(item.fileName))
                    text = WebhookParsing.nonEmpty(item.caption)
                    return
                }
            }
            if let item = c.lenient(.locationMessage, as: LocationItem.self)
                ?? c.lenient(.liveLocationMessage, as: LocationItem.self)
            {
                kind = "location"
                if let latitude = item.latitude, let longitude = item.longitude {
                    location = NormalizedEvent.Location(latitude: latitude, longitude: longitude,
                                                        name: WebhookParsing.nonEmpty(item.name),
                                                        address: WebhookParsing.nonEmpty(item.address))
                }
                text = plain
                return
            }
            if let card = c.lenient(.contactMessage, as: Named.self) ?? c.lenient(.contactsArrayMessage, as: Named.self) {
                kind = "contact"
                text = WebhookParsing.nonEmpty(card.name)
                return
            }
            if let reaction = c.lenient(.reactionMessage, as: Named.self) {
                kind = "reaction"
                text = WebhookParsing.nonEmpty(reaction.name)
                return
            }
            kind = plain == nil ? nil : "text"
            text = plain
        }
    }
}
