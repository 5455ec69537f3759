public import Foundation

/// Where a conversation stands for the agents of its tenant.
public enum ConversationState: String, Sendable, Hashable, Codable, CaseIterable {
    /// The contact wrote last: an agent should look.
    case open
    /// An agent answered: waiting for the contact.
    case waiting
    /// Done; the contact's next message opens it again.
    case resolved
}

/// The shared inbox's view of one contact of a tenant: one conversation per tenant and
/// contact, across the tenant's sessions (the latest session it spoke through answers).
public struct Conversation: Sendable, Hashable, Codable {
    public var tenant: TenantID
    public var contact: PhoneNumber
    /// The session the contact last wrote to; replies go out through it.
    public var session: SessionID?
    public var state: ConversationState
    /// Contact messages since an agent last read or answered.
    public var unread: Int
    /// The agent the conversation is assigned to (free text: the tenant's own agent id).
    public var assignee: String?
    public var contactName: String?
    public var lastMessageAt: Date
    public var lastMessageDirection: ContactMessageDirection
    /// The last message's text (or `[type]` for media), at most 200 characters.
    public var lastMessagePreview: String?
    public var openedAt: Date
    public var updatedAt: Date

    public init(tenant: TenantID, contact: PhoneNumber, session: SessionID?, state: ConversationState, unread: Int,
                assignee: String?, contactName: String?, lastMessageAt: Date,
                lastMessageDirection: ContactMessageDirection, lastMessagePreview: String?, openedAt: Date,
                updatedAt: Date) {
        self.tenant = tenant
        self.contact = contact
        self.session = session
        self.state = state
        self.unread = unread
        self.assignee = assignee
        self.contactName = contactName
        self.lastMessageAt = lastMessageAt
        self.lastMessageDirection = lastMessageDirection
        self.lastMessagePreview = lastMessagePreview
        self.openedAt = openedAt
        self.updatedAt = updatedAt
    }

    /// A short text for lists: the message's text, else its type in brackets.
    public static func preview(text: String?, type: String?) -> String? {
        if let text, !text.isEmpty { return String(text.prefix(200)) }
        return type.map { "[\($0)]" }
    }
}

/// Which way a message went between a tenant and a contact.
public enum ContactMessageDirection: String, Sendable, Hashable, Codable {
    case inbound, outbound
}

/// What the inbox tells agents (`inbox.alert` on `sb.events`): a contact replied and
/// their bulk messages are paused until an agent resolves the conversation.
public struct InboxAlert: Sendable, Hashable, Codable {
    public var contact: String
    /// `reply`: the contact wrote to a conversation that was not open.
    /// `message`: another message in a conversation already open.
    public var reason: String
    public var conversationState: ConversationState
    public var unread: Int
    public var assignee: String?
    public var pausedUntil: Date?
    public var preview: String?
    /// The `message.received` event that raised the alert.
    public var sourceEventID: String

    enum CodingKeys: String, CodingKey {
        case contact, reason, unread, assignee, preview
        case conversationState = "conversation_state", pausedUntil = "paused_until", sourceEventID = "source_event_id"
    }

    public init(contact: String, reason: String, conversationState: ConversationState, unread: Int, assignee: String?,
                pausedUntil: Date?, preview: String?, sourceEventID: String) {
        self.contact = contact
        self.reason = reason
        self.conversationState = conversationState
        self.unread = unread
        self.assignee = assignee
        self.pausedUntil = pausedUntil
        self.preview = preview
        self.sourceEventID = sourceEventID
    }
}
