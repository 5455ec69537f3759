import Foundation
import Hummingbird
import SwitchboardBroker
import SwitchboardCore
import SwitchboardHTTP
import SwitchboardStore

/// `/v1/conversations`: the shared inbox of a tenant's agents. List (by state or
/// assignee, newest first, paged), read one with its messages, reply (a transactional
/// message through `sb.outbound`), assign, mark read, resolve (which lets the contact's
/// bulk messages through again).
struct ConversationRoutes: Sendable {
    let inbox: any InboxStore
    let contacts: any ContactStore
    let log: any MessageLogStore
    let intake: MessageIntake
    let control: ControlAnnouncer

    func addRoutes(to group: RouterGroup<APIRequestContext>) {
        group.get("conversations", use: list)
        group.get("conversations/{number}", use: show)
        group.post("conversations/{number}/reply", use: reply)
        group.post("conversations/{number}/assign", use: assign)
        group.post("conversations/{number}/read", use: markRead)
        group.post("conversations/{number}/resolve", use: resolve)
    }

    @Sendable func list(_ request: Request, context: APIRequestContext) async throws
        -> JSONResponse<ConversationPage>
    {
        let query = request.uri.queryParameters
        let tenant = try context.actingTenant(named: query.get("tenant"))
        var state: ConversationState?
        if let text = query.get("state") {
            guard let value = ConversationState(rawValue: text) else {
                throw Problem.validation(field: "state", "must be one of open, waiting, resolved")
            }
            state = value
        }
        let limit = try pageLimit(query.get("limit"))
        let before = try time(query.get("before"), field: "before")
        let page = try await storeCall { () async throws(StoreError) in
            try await inbox.conversations(of: tenant, state: state, assignee: query.get("assignee"), before: before,
                                          limit: limit)
        }
        return JSONResponse(value: ConversationPage(
            conversations: page.map { ConversationResource($0) },
            nextBefore: page.count == limit ? page.last?.lastMessageAt : nil))
    }

    @Sendable func show(_ request: Request, context: APIRequestContext) async throws
        -> JSONResponse<ConversationResource>
    {
        let query = request.uri.queryParameters
        let tenant = try context.actingTenant(named: query.get("tenant"))
        let contact = try contactNumber(context)
        let limit = try pageLimit(query.get("limit"))
        let (found, policy, messages) = try await storeCall { () async throws(StoreError) in
            (try await inbox.conversation(with: contact, of: tenant), try await contacts.contactPolicy(contact, of: tenant),
             try await log.contactMessages(contact, of: tenant, before: nil, limit: limit))
        }
        guard let found else { throw Problem.notFound("conversation with \(contact)") }
        var resource = ConversationResource(found, policy: policy)
        resource.messages = messages.map(ContactThread.Item.init)
        return JSONResponse(value: resource)
    }

    /// What an agent sends: a text (or media with a caption).
    struct ReplyRequest: Codable, Sendable {
        var text: String?
        var type: MessageType?
        var media: MessageMedia?
        /// Another of the tenant's sessions than the one the contact wrote to.
        var session: String?
        /// The agent answering (kept in the message's metadata).
        var agent: String?
    }

    @Sendable func reply(_ request: Request, context: APIRequestContext) async throws
        -> JSONResponse<ConversationReply>
    {
        var request = request
        let body = try await request.decodeJSON(ReplyRequest.self, limit: APIServer.maximumBodySize)
        let tenant = try context.actingTenant(named: request.uri.queryParameters.get("tenant"))
        let contact = try contactNumber(context)
        guard let conversation = try await storeCall({ () async throws(StoreError) in
            try await inbox.conversation(with: contact, of: tenant)
        }) else { throw Problem.notFound("conversation with \(contact)") }
        if let agent = body.agent, agent.isEmpty || agent.count > 128 {
            throw Problem.validation(field: "agent", "must be 1–128 characters")
        }
        var metadata = ["inbox": "reply"]
        metadata["agent"] = body.agent ?? conversation.assignee
        let message = SendMessageRequest(
            session: body.session ?? conversation.session?.rawValue, messageClass: .transactional, to: contact.e164,
            type: body.type ?? .text, text: body.text, media: body.media, metadata: metadata)
        let accepted = try await intake.submit(message, tenant: tenant, idempotencyKey: request.headers[.idempotencyKey])
        let updated = try await storeCall { () async throws(StoreError) in
            try await inbox.recordAgentReply(to: contact, of: tenant, text: body.text, type: (body.type ?? .text).rawValue,
                                             at: accepted.receipt.acceptedAt)
        }
        var headers: HTTPFields = [.location: "/v1/messages/\(accepted.receipt.id)"]
        if accepted.replayed { headers[.idempotentReplayed] = "true" }
        return JSONResponse(status: .accepted, headers: headers,
                            value: ConversationReply(message: accepted.receipt, conversation: ConversationResource(updated)))
    }

    struct AssignRequest: Codable, Sendable {
        /// The agent; null unassigns.
        var assignee: String?
    }

    @Sendable func assign(_ request: Request, context: APIRequestContext) async throws
        -> JSONResponse<ConversationResource>
    {
        var request = request
        let body = try await request.decodeJSON(AssignRequest.self, limit: APIServer.maximumBodySize)
        if let assignee = body.assignee, assignee.isEmpty || assignee.count > 128 {
            throw Problem.validation(field: "assignee", "must be 1–128 characters, or null to unassign")
        }
        let tenant = try context.actingTenant(named: request.uri.queryParameters.get("tenant"))
        let contact = try contactNumber(context)
        let updated = try await storeCall { () async throws(StoreError) in
            try await inbox.assign(contact, of: tenant, to: body.assignee, at: Date())
        }
        return JSONResponse(value: ConversationResource(updated))
    }

    @Sendable func markRead(_ request: Request, context: APIRequestContext) async throws
        -> JSONResponse<ConversationResource>
    {
        let tenant = try context.actingTenant(named: request.uri.queryParameters.get("tenant"))
        let contact = try contactNumber(context)
        let updated = try await storeCall { () async throws(StoreError) in
            try await inbox.markRead(contact, of: tenant, at: Date())
        }
        return JSONResponse(value: ConversationResource(updated))
    }

    @Sendable func resolve(_ request: Request, context: APIRequestContext) async throws
        -> JSONResponse<ConversationResource>
    {
        let tenant = try context.actingTenant(named: request.uri.queryParameters.get("tenant"))
        let contact = try contactNumber(context)
        let (updated, policy) = try await storeCall { () async throws(StoreError) in
            let updated = try await inbox.resolve(contact, of: tenant, at: Date())
            return (updated, try await contacts.contactPolicy(contact, of: tenant))
        }
        // The dispatcher lets the contact's bulk through again at once.
        await control.announce(ControlEvent(.contactChanged, tenant: tenant, contact: contact))
        return JSONResponse(value: ConversationResource(updated, policy: policy))
    }
}

/// The contact in a `{number}` path segment: E.164, the `+` optional (`%2B` or none).
func contactNumber(_ context: APIRequestContext) throws(Problem) -> PhoneNumber {
    var number = (context.parameters.get("number") ?? "").removingPercentEncoding ?? ""
    if !number.hasPrefix("+") { number = "+" + number }
    do { return try PhoneNumber(number) } catch { throw .notFound("contact \(number)") }
}

/// `limit` of a paged list: 1–500, 50 when absent.
func pageLimit(_ text: String?) throws(Problem) -> Int {
    guard let text else { return 50 }
    guard let value = Int(text), (1...500).contains(value) else { throw .validation(field: "limit", "must be 1–500") }
    return value
}

/// An RFC 3339 time in a query parameter.
func time(_ text: String?, field: String) throws(Problem) -> Date? {
    guard let text else { return nil }
    guard let date = WireJSON.parseDate(text) else {
        throw .validation(field: field, "must be an RFC 3339 time, e.g. 2026-11-21T16:05:00.000Z")
    }
    return date
}

/// A conversation as the API shows it; `messages` and the contact's policy only when
/// one conversation is read.
struct ConversationResource: Codable, Sendable {
    var contact: String
    var session: String?
    var state: ConversationState
    var unread: Int
    var assignee: String?
    var contactName: String?
    var lastMessageAt: Date
    var lastMessageDirection: ContactMessageDirection
    var lastMessagePreview: String?
    var openedAt: Date
    var updatedAt: Date
    var contactPolicy: ContactResource?
    var messages: [ContactThread.Item]?

    enum CodingKeys: String, CodingKey {
        case contact, session, state, unread, assignee, messages
        case contactName = "contact_name", lastMessageAt = "last_message_at"
        case lastMessageDirection = "last_message_direction", lastMessagePreview = "last_message_preview"
        case openedAt = "opened_at", updatedAt = "updated_at", contactPolicy = "contact_policy"
    }

    init(_ conversation: Conversation, policy: ContactPolicy? = nil) {
        contact = conversation.contact.e164
        session = conversation.session?.rawValue
        state = conversation.state
        unread = conversation.unread
        assignee = conversation.assignee
        contactName = conversation.contactName
        lastMessageAt = conversation.lastMessageAt
        lastMessageDirection = conversation.lastMessageDirection
        lastMessagePreview = conversation.lastMessagePreview
        openedAt = conversation.openedAt
        updatedAt = conversation.updatedAt
        contactPolicy = policy.map { ContactResource(contact: conversation.contact, policy: $0) }
    }
}

struct ConversationPage: Codable, Sendable {
    var conversations: [ConversationResource]
    /// Pass as `before` for the next (older) page; absent on the last page.
    var nextBefore: Date?

    enum CodingKeys: String, CodingKey {
        case conversations
        case nextBefore = "next_before"
    }
}

struct ConversationReply: Codable, Sendable {
    var message: MessageReceipt
    var conversation: ConversationResource
}
