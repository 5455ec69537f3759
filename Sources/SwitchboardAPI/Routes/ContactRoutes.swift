import Foundation
import Hummingbird
import SwitchboardBroker
import SwitchboardCore
import SwitchboardHTTP
import SwitchboardStore

/// `/v1/contacts/{number}`: a contact's opt-out and bulk pause (read, and set by an
/// operator), and `/messages`, its message log both ways, newest first, paged by time.
struct ContactRoutes: Sendable {
    let log: any MessageLogStore
    let contacts: any ContactStore
    let control: ControlAnnouncer

    static let defaultPageSize = 50
    static let maximumPageSize = 500

    func addRoutes(to group: RouterGroup<APIRequestContext>) {
        group.get("contacts/{number}", use: show)
        group.patch("contacts/{number}", use: update)
        group.get("contacts/{number}/messages", use: messages)
    }

    @Sendable func show(_ request: Request, context: APIRequestContext) async throws -> JSONResponse<ContactResource> {
        let tenant = try context.actingTenant(named: request.uri.queryParameters.get("tenant"))
        let contact = try contactNumber(context)
        let policy = try await storeCall { () async throws(StoreError) in try await contacts.contactPolicy(contact, of: tenant) }
        return JSONResponse(value: ContactResource(contact: contact, policy: policy))
    }

    /// An operator's change: `opted_out` true or false, `paused_until` a time or null.
    struct ContactChange: Decodable, Sendable {
        var optedOut: Bool?
        /// nil: unchanged; .some(nil): lift the pause.
        var pausedUntil: Date??

        enum CodingKeys: String, CodingKey {
            case optedOut = "opted_out", pausedUntil = "paused_until"
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            optedOut = try container.decodeIfPresent(Bool.self, forKey: .optedOut)
            if container.contains(.pausedUntil) {
                pausedUntil = .some(try container.decodeIfPresent(Date.self, forKey: .pausedUntil))
            }
        }
    }

    @Sendable func update(_ request: Request, context: APIRequestContext) async throws -> JSONResponse<ContactResource> {
        var request = request
        let change = try await request.decodeJSON(ContactChange.self, limit: APIServer.maximumBodySize)
        let tenant = try context.actingTenant(named: request.uri.queryParameters.get("tenant"))
        let contact = try contactNumber(context)
        let policy = try await storeCall { () async throws(StoreError) in
            try await contacts.updateContact(contact, of: tenant, optedOut: change.optedOut, pausedUntil: change.pausedUntil,
                                             at: Date())
        }
        await control.announce(ControlEvent(.contactChanged, tenant: tenant, contact: contact))
        return JSONResponse(value: ContactResource(contact: contact, policy: policy))
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

/// A contact's policy as the API shows it.
struct ContactResource: Codable, Sendable {
    var contact: String
    var optedOut: Bool
    var optedOutAt: Date?
    var pausedUntil: Date?
    /// Whether a bulk message to the contact would be sent now.
    var bulkAllowed: Bool
    /// `opted-out` or `paused` when bulk is held back.
    var suppression: Suppression?

    enum CodingKeys: String, CodingKey {
        case contact, suppression
        case optedOut = "opted_out", optedOutAt = "opted_out_at", pausedUntil = "paused_until"
        case bulkAllowed = "bulk_allowed"
    }

    init(contact: PhoneNumber, policy: ContactPolicy, now: Date = Date()) {
        self.contact = contact.e164
        optedOut = policy.optedOut
        optedOutAt = policy.optedOutAt
        pausedUntil = policy.pausedUntil.flatMap { $0 > now ? $0 : nil }
        suppression = policy.suppression(at: now)
        bulkAllowed = suppression == nil
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
