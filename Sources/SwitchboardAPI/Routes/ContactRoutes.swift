import Foundation
import Hummingbird
import SwitchboardCore
import SwitchboardHTTP
import SwitchboardStore

/// `/v1/contacts/{number}/messages`: the message log of one contact, both ways, newest
/// first, paged by time.
struct ContactRoutes: Sendable {
    let log: any MessageLogStore

    static let defaultPageSize = 50
    static let maximumPageSize = 500

    func addRoutes(to group: RouterGroup<APIRequestContext>) {
        group.get("contacts/{number}/messages", use: messages)
    }

    @Sendable func messages(_ request: Request, context: APIRequestContext) async throws
        -> JSONResponse<ContactThread>
    {
        let query = request.uri.queryParameters
        let tenant = try context.actingTenant(named: query.get("tenant"))
        var number = (context.parameters.get("number") ?? "").removingPercentEncoding ?? ""
        if !number.hasPrefix("+") { number = "+" + number }
        let contact: PhoneNumber
        do { contact = try PhoneNumber(number) } catch { throw Problem.validation(field: "number", error.description) }
        var limit = Self.defaultPageSize
        if let text = query.get("limit") {
            guard let value = Int(text), (1...Self.maximumPageSize).contains(value) else {
                throw Problem.validation(field: "limit", "must be 1–\(Self.maximumPageSize)")
            }
            limit = value
        }
        var before: Date?
        if let text = query.get("before") {
            guard let date = WireJSON.parseDate(text) else {
                throw Problem.validation(field: "before", "must be an RFC 3339 time, e.g. 2026-11-21T16:05:00.000Z")
            }
            before = date
        }
        let page = try await storeCall { () async throws(StoreError) in
            try await log.contactMessages(contact, of: tenant, before: before, limit: limit)
        }
        return JSONResponse(value: ContactThread(
            contact: contact.e164, messages: page.map(ContactThread.Item.init),
            nextBefore: page.count == limit ? page.last?.at : nil))
    }
}

/// One page of a contact's messages.
struct ContactThread: Codable, Sendable {
    struct Item: Codable, Sendable {
        var direction: ContactMessage.Direction
        var id: String
        var session: String?
        var providerMessageID: String?
        var type: String?
        var text: String?
        var state: MessageState?
        var at: Date

        enum CodingKeys: String, CodingKey {
            case direction, id, session, type, text, state, at
            case providerMessageID = "provider_message_id"
        }

        init(_ message: ContactMessage) {
            direction = message.direction
            id = message.id
            session = message.session?.rawValue
            providerMessageID = message.providerMessageID
            type = message.type
            text = message.text
            state = message.state
            at = message.at
        }
    }

    var contact: String
    var messages: [Item]
    /// Pass as `before` for the next (older) page; absent on the last page.
    var nextBefore: Date?

    enum CodingKeys: String, CodingKey {
        case contact, messages
        case nextBefore = "next_before"
    }
}
