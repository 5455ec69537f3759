public import Foundation
public import SwitchboardStore

/// A dead letter as the api answers it and the CLI prints it: every fact but the
/// bytes (lists, groups' members, edits).
public struct DeadLetterSummary: Codable, Sendable {
    public var id: String
    public var tenant: String
    public var state: ArchivedDeadLetter.State
    public var reason: String
    public var errorCode: String?
    public var detail: String?
    public var attempts: Int
    public var firstFailedAt: Date?
    public var lastFailedAt: Date?
    public var archivedAt: Date
    public var messageID: String?
    public var session: String?
    public var provider: String?
    public var source: String
    public var routingKey: String
    public var originalExchange: String?
    public var originalRoutingKey: String?
    public var replays: Int
    public var replayedAt: Date?
    public var discardedAt: Date?
    public var replayError: String?

    enum CodingKeys: String, CodingKey {
        case id, tenant, state, reason, detail, attempts, session, provider, source, replays
        case errorCode = "error_code", firstFailedAt = "first_failed_at", lastFailedAt = "last_failed_at"
        case archivedAt = "archived_at", messageID = "message_id", routingKey = "routing_key"
        case originalExchange = "original_exchange", originalRoutingKey = "original_routing_key"
        case replayedAt = "replayed_at", discardedAt = "discarded_at", replayError = "replay_error"
    }

    public init(_ letter: ArchivedDeadLetter) {
        id = letter.id
        tenant = letter.tenant
        state = letter.state
        reason = letter.reason
        errorCode = letter.errorCode
        detail = letter.detail
        attempts = letter.attempts
        firstFailedAt = letter.firstFailedAt
        lastFailedAt = letter.lastFailedAt
        archivedAt = letter.archivedAt
        messageID = letter.messageID
        session = letter.session
        provider = letter.provider
        source = letter.source
        routingKey = letter.routingKey
        originalExchange = letter.originalExchange
        originalRoutingKey = letter.originalRoutingKey
        replays = letter.replays
        replayedAt = letter.replayedAt
        discardedAt = letter.discardedAt
        replayError = letter.replayError
    }
}

/// One dead letter in full: its body (as text when it is UTF-8, as JSON when it is
/// JSON, always as base64), headers, properties and `x-death` history.
public struct DeadLetterDetail: Codable, Sendable {
    public var deadLetter: DeadLetterSummary
    public var body: JSONValue?
    public var bodyText: String?
    public var bodyBase64: String
    public var headers: JSONValue
    public var properties: JSONValue
    public var deathHistory: JSONValue

    enum CodingKeys: String, CodingKey {
        case body, headers, properties
        case deadLetter = "dead_letter", bodyText = "body_text", bodyBase64 = "body_base64"
        case deathHistory = "death_history"
    }

    public init(_ letter: ArchivedDeadLetter) {
        deadLetter = DeadLetterSummary(letter)
        body = try? JSONDecoder().decode(JSONValue.self, from: letter.body)
        bodyText = String(data: letter.body, encoding: .utf8)
        bodyBase64 = letter.body.base64EncodedString()
        headers = (try? JSONDecoder().decode(JSONValue.self, from: letter.headers)) ?? .object([:])
        properties = (try? JSONDecoder().decode(JSONValue.self, from: letter.properties)) ?? .object([:])
        deathHistory = (try? JSONDecoder().decode(JSONValue.self, from: letter.deathHistory)) ?? .array([])
    }
}
