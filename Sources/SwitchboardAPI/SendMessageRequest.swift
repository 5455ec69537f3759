import Crypto
import Foundation
import SwitchboardCore
import SwitchboardHTTP
import SwitchboardStore

/// `POST /v1/messages`: the envelope as a publisher sends it, before defaults. Every
/// field but `to` is optional; ids and numbers stay text here so that a bad one is a
/// field problem (422) rather than a decoding failure (400).
struct SendMessageRequest: Codable, Sendable, Hashable {
    var id: String?
    var tenant: String?
    var session: String?
    var messageClass: MessageClass?
    var to: String
    var type: MessageType?
    var text: String?
    var media: MessageMedia?
    var location: MessageLocation?
    var template: MessageTemplate?
    var campaign: String?
    var expiresAt: Date?
    var metadata: [String: String]?

    enum CodingKeys: String, CodingKey {
        case id, tenant, session, to, type, text, media, location, template, campaign, metadata
        case messageClass = "class"
        case expiresAt = "expires_at"
    }

    /// SHA-256 over every field in a fixed order, so that a retry that re-serializes
    /// the same request differently (key order, spacing, escapes) still matches, while
    /// any change of a value does not. Fields are length-prefixed, absent ones marked.
    var fingerprint: Data {
        var hasher = SHA256()
        func add(_ text: String?) {
            guard let text else {
                hasher.update(data: [0])
                return
            }
            var bytes = Array(text.utf8)
            withUnsafeBytes(of: UInt32(bytes.count).bigEndian) { hasher.update(bufferPointer: $0) }
            bytes.insert(1, at: 0)
            hasher.update(data: bytes)
        }
        func add(_ number: Double?) { add(number.map { String($0.bitPattern) }) }
        add(id)
        add(tenant)
        add(session)
        add(messageClass?.rawValue)
        add(to)
        add(type?.rawValue)
        add(text)
        add(media?.url)
        add(media?.filename)
        add(location?.latitude)
        add(location?.longitude)
        add(location?.name)
        add(location?.address)
        add(template?.name)
        add(template?.language)
        add(template?.parameters.map { String($0.count) })
        for parameter in template?.parameters ?? [] { add(parameter) }
        add(campaign)
        add(expiresAt?.timeIntervalSince1970)
        add(metadata.map { String($0.count) })
        for (key, value) in (metadata ?? [:]).sorted(by: { $0.key < $1.key }) {
            add(key)
            add(value)
        }
        return Data(hasher.finalize())
    }
}

/// A message the API accepted: the `202` answer, the same for every retry.
struct MessageReceipt: Codable, Sendable {
    var id: String
    var tenant: String
    var session: String
    var messageClass: MessageClass
    var state: MessageState
    var acceptedAt: Date

    enum CodingKeys: String, CodingKey {
        case id, tenant, session, state
        case messageClass = "class", acceptedAt = "accepted_at"
    }

    init(_ message: StoredMessage) {
        id = message.id
        tenant = message.tenant.rawValue
        session = message.session.rawValue
        messageClass = message.messageClass
        state = .queued
        acceptedAt = message.history.first(where: { $0.state == .queued })?.at ?? message.updatedAt
    }

    init(envelope: OutboundEnvelope, session: SessionID, acceptedAt: Date) {
        id = envelope.id
        tenant = envelope.tenant.rawValue
        self.session = session.rawValue
        messageClass = envelope.messageClass
        state = .queued
        self.acceptedAt = acceptedAt
    }
}

/// What `GET /v1/messages/{id}` shows.
struct MessageResource: Codable, Sendable {
    var id: String
    var tenant: String
    var session: String
    var messageClass: MessageClass
    var to: String
    var type: MessageType
    var campaign: String?
    var text: String?
    var state: MessageState
    var providerMessageID: String?
    var error: String?
    var expiresAt: Date?
    var createdAt: Date
    var updatedAt: Date
    var history: [MessageStatusEntry]

    enum CodingKeys: String, CodingKey {
        case id, tenant, session, to, type, campaign, text, state, error, history
        case messageClass = "class", providerMessageID = "provider_message_id", expiresAt = "expires_at"
        case createdAt = "created_at", updatedAt = "updated_at"
    }

    init(_ message: StoredMessage) {
        id = message.id
        tenant = message.tenant.rawValue
        session = message.session.rawValue
        messageClass = message.messageClass
        to = message.to.e164
        type = message.type
        campaign = message.campaign
        text = message.text
        state = message.state
        providerMessageID = message.providerMessageID
        error = message.error
        expiresAt = message.expiresAt
        createdAt = message.createdAt
        updatedAt = message.updatedAt
        history = message.history
    }
}

/// `POST /v1/messages/batch`: up to `APIServer.maximumBatchSize` messages. Each item
/// is decoded on its own, so one malformed item fails alone.
struct SendBatchRequest: Decodable, Sendable {
    var messages: [BatchItem]

    struct BatchItem: Decodable, Sendable {
        let request: Result<SendMessageRequest, Problem>

        init(from decoder: any Decoder) throws {
            do {
                request = .success(try SendMessageRequest(from: decoder))
            } catch let error as DecodingError {
                request = .failure(.malformedBody(describe(error)))
            }
        }
    }
}

/// One item's outcome in a batch answer: `status` is what the single-message route
/// would have answered.
struct BatchItemResult: Encodable, Sendable {
    var index: Int
    var status: Int
    var id: String?
    var replayed: Bool?
    var problem: ProblemBody?
}

/// Problem details inside a batch answer.
struct ProblemBody: Encodable, Sendable {
    var type: String
    var title: String
    var status: Int
    var detail: String?
    var errors: [EnvelopeProblem]?

    init(_ problem: Problem) {
        type = problem.type
        title = problem.title
        status = problem.status.code
        detail = problem.detail
        errors = problem.errors
    }
}

/// The `200` answer of a batch.
struct BatchResult: Encodable, Sendable {
    var accepted: Int
    var rejected: Int
    var results: [BatchItemResult]
}
