import Crypto
public import Foundation

/// The one event schema internal services see on `sb.events` and `sb.statuses`
/// (ARCHITECTURE.md), never a provider's raw shape.
public struct NormalizedEvent: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable {
        case messageReceived = "message.received"
        case messageStatus = "message.status"
        case sessionStatus = "session.status"
        /// The inbox: a contact wrote and an agent should look (see `InboxAlert`).
        case inboxAlert = "inbox.alert"
        /// Dead letters of one group arrive faster than a threshold (see `DeadLetterAlert`).
        case deadLetterAlert = "deadletter.alert"
        /// A session has been down longer than a threshold, or is back (see `SessionAlert`).
        case sessionAlert = "session.alert"
    }

    /// A session down for longer than the monitor's threshold (`state` `down`), said
    /// once; and once more when it is connected again (`back`).
    public struct SessionAlert: Sendable, Hashable, Codable {
        public enum State: String, Sendable, Hashable, Codable {
            case down, back
        }

        public var state: State
        public var status: SessionStatus
        /// When the session went down.
        public var since: Date?

        public init(state: State, status: SessionStatus, since: Date?) {
            self.state = state
            self.status = status
            self.since = since
        }
    }

    /// A group of a tenant's dead letters (same reason and code) grew by `count` within
    /// `windowSeconds`: something fails for many messages at once.
    public struct DeadLetterAlert: Sendable, Hashable, Codable {
        public var reason: String
        public var errorCode: String?
        public var count: Int
        public var windowSeconds: Int
        /// One of them, to look at (`GET /v1/dead-letters/{id}`).
        public var sampleID: String

        enum CodingKeys: String, CodingKey {
            case reason, count
            case errorCode = "error_code", windowSeconds = "window_seconds", sampleID = "sample_id"
        }

        public init(reason: String, errorCode: String?, count: Int, windowSeconds: Int, sampleID: String) {
            self.reason = reason
            self.errorCode = errorCode
            self.count = count
            self.windowSeconds = windowSeconds
            self.sampleID = sampleID
        }
    }

    /// A message as events carry it. Numbers are E.164 (`+` and digits) where the
    /// provider gave a phone number; `chat` is set for group messages (the group's id)
    /// and `from` is then the participant who wrote.
    public struct Message: Sendable, Hashable, Codable {
        public var providerID: String?
        public var from: String?
        public var to: String?
        /// `text`, `image`, `video`, `audio`, `document`, `sticker`, `location`,
        /// `contact`, `reaction`, `interactive`, `button` or `unknown`.
        public var type: String?
        /// The text, or a media item's caption.
        public var text: String?
        /// True for a message the session's own number sent (from a phone or another app).
        public var fromMe: Bool?
        /// The group's id when the message was written in a group.
        public var chat: String?
        /// The sender's display name, when the provider tells it.
        public var contactName: String?
        public var media: Media?
        public var location: Location?

        enum CodingKeys: String, CodingKey {
            case from, to, type, text, chat, media, location
            case providerID = "provider_id", fromMe = "from_me", contactName = "contact_name"
        }

        public init(providerID: String?, from: String?, to: String?, type: String?, text: String?,
                    fromMe: Bool? = nil, chat: String? = nil, contactName: String? = nil, media: Media? = nil,
                    location: Location? = nil) {
            self.providerID = providerID
            self.from = from
            self.to = to
            self.type = type
            self.text = text
            self.fromMe = fromMe
            self.chat = chat
            self.contactName = contactName
            self.media = media
            self.location = location
        }
    }

    /// A media item of a message: where to fetch it (a URL, or the provider's media id).
    public struct Media: Sendable, Hashable, Codable {
        public var url: String?
        /// The provider's media id (Meta), to fetch it through the provider's API.
        public var id: String?
        public var mimeType: String?
        public var fileName: String?

        enum CodingKeys: String, CodingKey {
            case url, id
            case mimeType = "mime_type", fileName = "file_name"
        }

        public init(url: String? = nil, id: String? = nil, mimeType: String? = nil, fileName: String? = nil) {
            self.url = url
            self.id = id
            self.mimeType = mimeType
            self.fileName = fileName
        }
    }

    /// A shared location: the same pin an outbound message carries.
    public typealias Location = MessageLocation

    /// A status change of one of our messages.
    public struct Status: Sendable, Hashable, Codable {
        /// `queued`, `sent`, `delivered`, `read`, `played`, `failed`, or `suppressed` (bulk not sent to a
        /// contact who opted out or is paused; `error_code` says which).
        public var status: MessageState
        /// Our message id.
        public var messageID: String?
        public var providerMessageID: String?
        public var errorCode: String?
        public var errorDetail: String?

        enum CodingKeys: String, CodingKey {
            case status
            case messageID = "message_id", providerMessageID = "provider_message_id"
            case errorCode = "error_code", errorDetail = "error_detail"
        }

        public init(status: MessageState, messageID: String?, providerMessageID: String?, errorCode: String? = nil,
                    errorDetail: String? = nil) {
            self.status = status
            self.messageID = messageID
            self.providerMessageID = providerMessageID
            self.errorCode = errorCode
            self.errorDetail = errorDetail
        }
    }

    /// Derived from provider ids (or ours) and the status, so a replay yields the same id.
    public var id: String
    public var type: Kind
    public var tenant: TenantID
    public var session: SessionID?
    public var provider: ProviderKind?
    public var occurredAt: Date
    public var receivedAt: Date
    public var message: Message?
    public var status: Status?
    public var sessionStatus: SessionStatus?
    /// Set on `inbox.alert` events.
    public var alert: InboxAlert?
    /// Set on `deadletter.alert` events.
    public var deadLetterAlert: DeadLetterAlert?
    /// Set on `session.alert` events.
    public var sessionAlert: SessionAlert?

    enum CodingKeys: String, CodingKey {
        case id, type, tenant, session, provider, message, status, alert
        case occurredAt = "occurred_at", receivedAt = "received_at", sessionStatus = "session_status"
        case deadLetterAlert = "dead_letter_alert", sessionAlert = "session_alert"
    }

    public init(id: String, type: Kind, tenant: TenantID, session: SessionID?, provider: ProviderKind?,
                occurredAt: Date, receivedAt: Date, message: Message? = nil, status: Status? = nil,
                sessionStatus: SessionStatus? = nil, alert: InboxAlert? = nil,
                deadLetterAlert: DeadLetterAlert? = nil, sessionAlert: SessionAlert? = nil) {
        self.id = id
        self.type = type
        self.tenant = tenant
        self.session = session
        self.provider = provider
        self.occurredAt = occurredAt
        self.receivedAt = receivedAt
        self.message = message
        self.status = status
        self.sessionStatus = sessionStatus
        self.alert = alert
        self.deadLetterAlert = deadLetterAlert
        self.sessionAlert = sessionAlert
    }

    /// A `message.status` event about one of our outbound messages.
    public static func messageStatus(_ status: Status, tenant: TenantID, session: SessionID?, provider: ProviderKind?,
                                     at date: Date) -> NormalizedEvent {
        let basis = [provider?.rawValue ?? "switchboard", status.providerMessageID ?? status.messageID ?? "", status.status.rawValue]
        return NormalizedEvent(id: EventID.derive(basis), type: .messageStatus, tenant: tenant, session: session,
                               provider: provider, occurredAt: date, receivedAt: date, status: status)
    }
}

extension NormalizedEvent {
    /// The contact who wrote, for a message the inbox and the bot act on: received, not
    /// the session's own (`from_me`), not in a group, from a phone number.
    public var writingContact: PhoneNumber? {
        guard type == .messageReceived, let message, message.fromMe != true, message.chat == nil,
              let from = message.from
        else { return nil }
        return try? PhoneNumber(from)
    }
}

/// Event ids derived from what identifies the event at its source: the same facts give
/// the same id, so consumers deduplicate replays.
public enum EventID {
    /// `evt_` and 32 hex digits of SHA-256 over the parts.
    public static func derive(_ parts: [String]) -> String {
        let digest = SHA256.hash(data: Data(parts.joined(separator: "\u{1F}").utf8))
        let hex = Array("0123456789abcdef".utf8)
        var text: [UInt8] = Array("evt_".utf8)
        for byte in digest.prefix(16) {
            text.append(hex[Int(byte >> 4)])
            text.append(hex[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
