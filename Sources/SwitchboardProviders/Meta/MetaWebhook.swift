import Foundation
import SwitchboardCore

/// The Meta WhatsApp Cloud API webhook shape: `{object: "whatsapp_business_account",
/// entry: [{id, changes: [{field, value}]}]}`. Each `messages` change belongs to the
/// session of its own `value.metadata.phone_number_id`.
enum MetaWebhook {
    static func parse(_ raw: RawWebhook, route: (String) -> SessionRoute?) throws(WebhookParseError)
        -> ParsedWebhook
    {
        let notification: Notification
        do {
            notification = try JSONDecoder().decode(Notification.self, from: raw.body)
        } catch {
            throw .malformed(WebhookParsing.reason(error, provider: "Meta"))
        }
        guard notification.object == "whatsapp_business_account" else {
            throw .malformed("Meta webhook object is '\(notification.object ?? "")', not whatsapp_business_account")
        }
        guard let entries = notification.entry else { throw .malformed("Meta webhook has no entry array") }
        // The envelope down to each messages change must be Meta's: a body of another
        // shape would otherwise give no events and be acknowledged unseen. It is
        // refused, so the normalizer dead-letters it with its bytes. Inside a message or
        // a status, fields stay tolerant.
        guard !notification.entryWrongShape else { throw .malformed("Meta webhook has an entry that is not an object") }

        var result = ParsedWebhook()
        for entry in entries {
            let entryName = entry.id ?? "?"
            guard let changes = entry.changes else {
                throw .malformed("Meta webhook entry \(entryName) has no changes array of objects")
            }
            for change in changes {
                guard let field = WebhookParsing.nonEmpty(change.field) else {
                    throw .malformed("Meta webhook entry \(entryName) has a change without a field")
                }
                guard field == "messages" else {
                    result.skipped.append("Meta change '\(field)' (entry \(entryName)) is not carried")
                    continue
                }
                guard let value = change.value else {
                    throw .malformed("Meta messages change (entry \(entryName)) has no value object")
                }
                guard let numberID = WebhookParsing.nonEmpty(value.metadata?.phoneNumberID) else {
                    throw .malformed("Meta messages change (entry \(entryName)) has no metadata.phone_number_id")
                }
                if let wrong = value.wrongShape.first {
                    throw .malformed("Meta messages change (entry \(entryName)): \(wrong) is not an array of objects")
                }
                if !value.carriesAnything {
                    result.skipped.append("Meta messages change (entry \(entryName)) holds no messages, statuses or errors")
                    continue
                }
                guard let target = route(numberID) else {
                    result.skipped.append("Meta phone_number_id \(numberID) (entry \(entryName)) has no session")
                    continue
                }
                var change = Change(raw: raw, target: target, value: value,
                                    entryTime: WebhookParsing.instant(entry.time))
                change.read()
                result.events += change.events
                result.skipped += change.skipped
            }
        }
        return result
    }

    /// Meta's message `type` as the event's type.
    static func messageType(_ type: String?, _ message: Message) -> String {
        switch type?.lowercased() {
        case let known? where ["text", "image", "video", "audio", "document", "sticker", "location", "reaction",
                               "interactive", "button"].contains(known):
            return known
        case "contacts", "contact": return "contact"
        case nil:
            // No type given: tell it by what the message holds.
            if let kind = message.media?.kind { return kind }
            if message.location != nil { return "location" }
            if message.hasContacts { return "contact" }
            if message.reaction != nil { return "reaction" }
            if message.interactive != nil { return "interactive" }
            if message.button != nil { return "button" }
            if message.text != nil { return "text" }
            return "unknown"
        default:
            // `unsupported`, and types the gateway does not model (order, system, …).
            return "unknown"
        }
    }

    /// The reason of a failed status: the title (or message) and the details when they add to it.
    static func errorDetail(_ error: ErrorItem) -> String? {
        var parts: [String] = []
        for part in [error.title, error.message, error.details] {
            // Meta's title and message are often the same text: say it once.
            if let part = WebhookParsing.nonEmpty(part), !parts.contains(part) { parts.append(part) }
        }
        return parts.isEmpty ? nil : parts.joined(separator: ": ")
    }

    // MARK: Events

    private struct Change {
        let raw: RawWebhook
        let target: SessionRoute
        let value: Value
        let entryTime: Date?
        var events: [NormalizedEvent] = []
        var skipped: [String] = []

        func time(_ own: Double?) -> Date {
            WebhookParsing.instant(own) ?? entryTime ?? raw.receivedAt
        }

        mutating func read() {
            for error in value.errors {
                skipped.append("Meta error \(error.code ?? "?") for phone_number_id \(value.metadata?.phoneNumberID ?? "?"): "
                    + (MetaWebhook.errorDetail(error) ?? "no detail"))
            }
            // The display number may be formatted (`+1 555-010-0000`): keep its digits.
            let to = value.metadata?.displayPhoneNumber.flatMap { display in
                WebhookParsing.e164(String(String.UnicodeScalarView(display.unicodeScalars.filter { ("0"..."9").contains($0) })))
            }
            for message in value.messages { received(message, to: to) }
            for status in value.statuses { self.status(status) }
        }

        mutating func received(_ message: Message, to: String?) {
            guard let id = WebhookParsing.nonEmpty(message.id) else {
                skipped.append("Meta message without an id (session \(target.session))")
                return
            }
            let contactName = value.contacts.first { $0.waID != nil && $0.waID == message.from }?.name
                ?? (value.contacts.count == 1 && value.contacts[0].waID == nil ? value.contacts[0].name : nil)
            let media = message.media
            let text: String? = media?.caption ?? message.text ?? message.reaction ?? message.interactive
                ?? message.button ?? message.contactName
            let normalized = NormalizedEvent.Message(
                providerID: id, from: WebhookParsing.e164(message.from), to: to,
                type: MetaWebhook.messageType(message.type, message), text: WebhookParsing.nonEmpty(text),
                chat: WebhookParsing.nonEmpty(message.groupID), contactName: WebhookParsing.nonEmpty(contactName),
                media: media.map { NormalizedEvent.Media(url: $0.url, id: $0.id, mimeType: $0.mimeType, fileName: $0.fileName) },
                location: message.location)
            events.append(WebhookParsing.received(
                normalized, providerID: id, provider: raw.provider, tenant: target.tenant, session: target.session,
                occurredAt: time(message.timestamp), receivedAt: raw.receivedAt))
        }

        mutating func status(_ item: StatusItem) {
            guard let id = WebhookParsing.nonEmpty(item.id) else {
                skipped.append("Meta status without an id (session \(target.session))")
                return
            }
            let name = item.status?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
            let carried: [MessageState] = [.sent, .delivered, .read, .played, .failed]
            guard let state = MessageState(rawValue: name), carried.contains(state) else {
                skipped.append("Meta status '\(item.status ?? "")' of \(id) is not carried")
                return
            }
            var status = NormalizedEvent.Status(status: state, messageID: nil, providerMessageID: id)
            if state == .failed, let error = item.errors.first {
                status.errorCode = WebhookParsing.nonEmpty(error.code)
                status.errorDetail = MetaWebhook.errorDetail(error)
            }
            events.append(WebhookParsing.status(status, provider: raw.provider, tenant: target.tenant,
                                                session: target.session, occurredAt: time(item.timestamp),
                                                receivedAt: raw.receivedAt))
        }
    }

    // MARK: Shapes (every field optional, any field of another type reads as absent)

    struct Notification: Decodable {
        var object: String?
        /// nil when `entry` is absent or not an array.
        var entry: [Entry]?
        /// `entry` holds something other than objects.
        var entryWrongShape: Bool

        enum CodingKeys: String, CodingKey { case object, entry }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            object = c.lenient(.object, as: String.self)
            let entry = c.lenient(.entry, as: LenientArray<Entry>.self)
            self.entry = entry?.items
            entryWrongShape = (entry?.refused ?? 0) > 0
        }
    }

    struct Entry: Decodable {
        var id: String?
        var time: Double?
        /// nil when `changes` is absent or holds something other than objects.
        var changes: [ChangeItem]?

        enum CodingKeys: String, CodingKey { case id, time, changes }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            id = c.text(.id)
            time = c.number(.time)
            let changes = c.objects(.changes, of: ChangeItem.self)
            self.changes = c.holds(.changes) && !changes.wrongShape ? changes.items : nil
        }
    }

    struct ChangeItem: Decodable {
        var field: String?
        /// nil when `value` is absent or not an object.
        var value: Value?

        enum CodingKeys: String, CodingKey { case field, value }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            field = c.text(.field)
            value = c.lenient(.value)
        }
    }

    struct Value: Decodable {
        var metadata: Metadata?
        var contacts: [Contact]
        var messages: [Message]
        var statuses: [StatusItem]
        var errors: [ErrorItem]
        /// The keys among `messages` and `statuses` that hold something other than
        /// objects.
        var wrongShape: [String]

        /// True when the change holds something the parser reads or notes.
        var carriesAnything: Bool { !messages.isEmpty || !statuses.isEmpty || !errors.isEmpty }

        enum CodingKeys: String, CodingKey { case metadata, contacts, messages, statuses, errors }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            metadata = c.lenient(.metadata)
            contacts = c.list(.contacts, of: Contact.self)
            let messages = c.objects(.messages, of: Message.self)
            let statuses = c.objects(.statuses, of: StatusItem.self)
            self.messages = messages.items
            self.statuses = statuses.items
            errors = c.list(.errors, of: ErrorItem.self)
            wrongShape = [("messages", messages.wrongShape), ("statuses", statuses.wrongShape)]
                .filter(\.1).map(\.0)
        }
    }

    struct Metadata: Decodable {
        var displayPhoneNumber: String?
        var phoneNumberID: String?

        enum CodingKeys: String, CodingKey { case display_phone_number, phone_number_id }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            displayPhoneNumber = c.text(.display_phone_number)
            phoneNumberID = c.text(.phone_number_id)
        }
    }

    /// `contacts[]` of a change: who wrote (`wa_id`) and their profile name.
    struct Contact: Decodable {
        var waID: String?
        var name: String?

        enum CodingKeys: String, CodingKey { case wa_id, profile }
        struct Profile: Decodable {
            var name: String?
            enum CodingKeys: String, CodingKey { case name }
            init(from decoder: any Decoder) throws { name = try decoder.container(keyedBy: CodingKeys.self).text(.name) }
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            waID = c.text(.wa_id)
            name = c.lenient(.profile, as: Profile.self)?.name
        }
    }

    struct Message: Decodable {
        var from: String?
        var id: String?
        var timestamp: Double?
        var type: String?
        var groupID: String?
        var text: String?
        var media: MediaItem?
        var location: NormalizedEvent.Location?
        /// The reply's title.
        var interactive: String?
        var button: String?
        /// The emoji.
        var reaction: String?
        var hasContacts = false
        /// The first shared contact's name.
        var contactName: String?

        enum CodingKeys: String, CodingKey {
            case from, id, timestamp, type, group_id, text, image, video, audio, document, sticker, location,
                 interactive, button, reaction, contacts
        }

        struct Body: Decodable {
            var body: String?
            enum CodingKeys: String, CodingKey { case body }
            init(from decoder: any Decoder) throws { body = try decoder.container(keyedBy: CodingKeys.self).text(.body) }
        }

        struct Titled: Decodable {
            /// `text` of a button, `emoji` of a reaction, `button_reply`/`list_reply`
            /// `title` of an interactive reply.
            var value: String?
            enum CodingKeys: String, CodingKey { case text, emoji, title, button_reply, list_reply, body }
            init(from decoder: any Decoder) throws {
                let c = try decoder.container(keyedBy: CodingKeys.self)
                value = c.lenient(.button_reply, as: Titled.self)?.value ?? c.lenient(.list_reply, as: Titled.self)?.value
                    ?? c.firstText(.text, .emoji, .title, .body)
            }
        }

        struct SharedContact: Decodable {
            var name: String?
            enum CodingKeys: String, CodingKey { case name }
            struct Name: Decodable {
                var formatted: String?
                enum CodingKeys: String, CodingKey { case formatted_name, first_name }
                init(from decoder: any Decoder) throws {
                    formatted = try decoder.container(keyedBy: CodingKeys.self).firstText(.formatted_name, .first_name)
                }
            }
            init(from decoder: any Decoder) throws {
                name = try decoder.container(keyedBy: CodingKeys.self).lenient(.name, as: Name.self)?.formatted
            }
        }

        struct Place: Decodable {
            var location: NormalizedEvent.Location?
            enum CodingKeys: String, CodingKey { case latitude, longitude, name, address }
            init(from decoder: any Decoder) throws {
                let c = try decoder.container(keyedBy: CodingKeys.self)
                if let latitude = c.number(.latitude), let longitude = c.number(.longitude) {
                    location = NormalizedEvent.Location(latitude: latitude, longitude: longitude,
                                                        name: WebhookParsing.nonEmpty(c.text(.name)),
                                                        address: WebhookParsing.nonEmpty(c.text(.address)))
                }
            }
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            from = c.text(.from)
            id = c.text(.id)
            timestamp = c.number(.timestamp)
            type = WebhookParsing.nonEmpty(c.text(.type))
            groupID = c.text(.group_id)
            text = c.lenient(.text, as: Body.self)?.body ?? c.lenient(.text, as: String.self)
            let kinds: [(CodingKeys, String)] = [(.image, "image"), (.video, "video"), (.audio, "audio"),
                                                 (.document, "document"), (.sticker, "sticker")]
            for (key, kind) in kinds {
                if var item = c.lenient(key, as: MediaItem.self) {
                    item.kind = kind
                    media = item
                    break
                }
            }
            location = c.lenient(.location, as: Place.self)?.location
            interactive = c.lenient(.interactive, as: Titled.self)?.value
            button = c.lenient(.button, as: Titled.self)?.value
            reaction = c.lenient(.reaction, as: Titled.self)?.value
            let shared = c.list(.contacts, of: SharedContact.self)
            hasContacts = !shared.isEmpty
            contactName = shared.first?.name
        }
    }

    struct MediaItem: Decodable {
        var kind = ""
        var id: String?
        var url: String?
        var mimeType: String?
        var caption: String?
        var fileName: String?

        enum CodingKeys: String, CodingKey { case id, url, link, mime_type, caption, filename, file_name }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            id = WebhookParsing.nonEmpty(c.text(.id))
            url = WebhookParsing.nonEmpty(c.firstText(.url, .link))
            mimeType = WebhookParsing.nonEmpty(c.text(.mime_type))
            caption = WebhookParsing.nonEmpty(c.text(.caption))
            fileName = WebhookParsing.nonEmpty(c.firstText(.filename, .file_name))
        }
    }

    struct StatusItem: Decodable {
        var id: String?
        var status: String?
        var timestamp: Double?
        var recipientID: String?
        var errors: [ErrorItem]

        enum CodingKeys: String, CodingKey { case id, status, timestamp, recipient_id, errors }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            id = c.text(.id)
            status = c.text(.status)
            timestamp = c.number(.timestamp)
            recipientID = c.text(.recipient_id)
            errors = c.list(.errors, of: ErrorItem.self)
        }
    }

    struct ErrorItem: Decodable {
        var code: String?
        var title: String?
        var message: String?
        var details: String?

        enum CodingKeys: String, CodingKey { case code, title, message, error_data }
        struct ErrorData: Decodable {
            var details: String?
            enum CodingKeys: String, CodingKey { case details }
            init(from decoder: any Decoder) throws {
                details = try decoder.container(keyedBy: CodingKeys.self).text(.details)
            }
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            code = c.text(.code)
            title = c.text(.title)
            message = c.text(.message)
            details = c.lenient(.error_data, as: ErrorData.self)?.details
        }
    }
}
