import Crypto
public import Foundation

/// The one event schema internal services see on `sb.events` (ARCHITECTURE.md), never
/// a provider's raw shape.
public struct NormalizedEvent: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable {
        case messageReceived = "message.received"
        case messageStatus = "message.status"
        case sessionStatus = "session.status"
    }

    /// A message as events carry it.
    public struct Message: Sendable, Hashable, Codable {
        public var providerID: String?
        public var from: String?
        public var to: String?
        public var type: String?
        public var text: String?

        enum CodingKeys: String, CodingKey {
            case from, to, type, text
            case providerID = "provider_id"
        }

        public init(providerID: String?, from: String?, to: String?, type: String?, text: String?) {
            self.providerID = providerID
            self.from = from
            self.to = to
            self.type = type
            self.text = text
        }
    }

    /// A status change of one of our messages.
    public struct Status: Sendable, Hashable, Codable {
        /// `queued`, `sent`, `delivered`, `read`, `played`, `failed`.
        public var status: String
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

        public init(status: String, messageID: String?, providerMessageID: String?, errorCode: String? = nil,
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

    enum CodingKeys: String, CodingKey {
        case id, type, tenant, session, provider, message, status
        case occurredAt = "occurred_at", receivedAt = "received_at", sessionStatus = "session_status"
    }

    public init(id: String, type: Kind, tenant: TenantID, session: SessionID?, provider: ProviderKind?,
                occurredAt: Date, receivedAt: Date, message: Message? = nil, status: Status? = nil,
                sessionStatus: SessionStatus? = nil) {
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
    }

    /// A `message.status` event about one of our outbound messages.
    public static func messageStatus(_ status: Status, tenant: TenantID, session: SessionID?, provider: ProviderKind?,
                                     at date: Date) -> NormalizedEvent {
        let basis = [provider?.rawValue ?? "switchboard", status.providerMessageID ?? status.messageID ?? "", status.status]
        return NormalizedEvent(id: EventID.derive(basis), type: .messageStatus, tenant: tenant, session: session,
                               provider: provider, occurredAt: date, receivedAt: date, status: status)
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
