public import Foundation

/// A send the simulator accepted, as `GET /_sim/messages` lists it.
public struct SimulatedMessage: Codable, Sendable, Hashable {
    /// The provider's id for it: Wasender's `msgId` as text, or Meta's `wamid.…`.
    public var id: String
    public var session: String
    public var flavor: SimulatedSession.Flavor
    /// The recipient as the caller gave it.
    public var to: String
    /// `text`, `image`, `video`, `document`, `audio`, `sticker`, `contact`, `location`,
    /// `template`, …
    public var type: String
    /// The text, or the caption of media.
    public var text: String?
    public var mediaURL: String?
    /// The template's name, for `template` messages.
    public var template: String?
    public var acceptedAt: Date

    public init(id: String, session: String, flavor: SimulatedSession.Flavor, to: String, type: String,
                text: String?, mediaURL: String? = nil, template: String? = nil, acceptedAt: Date) {
        self.id = id
        self.session = session
        self.flavor = flavor
        self.to = to
        self.type = type
        self.text = text
        self.mediaURL = mediaURL
        self.template = template
        self.acceptedAt = acceptedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, session, flavor, to, type, text, template
        case mediaURL = "media_url"
        case acceptedAt = "accepted_at"
    }
}

/// What the simulator counted for one session since the last reset.
public struct SessionStats: Codable, Sendable, Hashable {
    public var accepted = 0
    /// 429s answered.
    public var rateLimited = 0
    /// Transient errors answered: random 500/503s and outages.
    public var errors = 0
    /// Sends refused as invalid (recipient or request): permanent errors.
    public var invalid = 0
    /// The most accepted sends in any sliding window of one second.
    public var maxPerSecond = 0
    public var firstAcceptedAt: Date?
    public var lastAcceptedAt: Date?
    /// Webhooks the receiver answered with a 2xx.
    public var webhooksDelivered = 0
    /// Webhooks given up on after every attempt failed.
    public var webhooksFailed = 0

    public init() {}

    enum CodingKeys: String, CodingKey {
        case accepted, errors, invalid
        case rateLimited = "rate_limited"
        case maxPerSecond = "max_per_second"
        case firstAcceptedAt = "first_accepted_at"
        case lastAcceptedAt = "last_accepted_at"
        case webhooksDelivered = "webhooks_delivered"
        case webhooksFailed = "webhooks_failed"
    }
}

/// Every session's counters, as `GET /_sim/stats` answers.
public struct SimulatorStats: Codable, Sendable, Hashable {
    /// By session id; sessions with nothing counted yet are included at zero.
    public var sessions: [String: SessionStats]
    /// Sends answered 401 (no session has the credentials they presented).
    public var unauthorized: Int

    public init(sessions: [String: SessionStats] = [:], unauthorized: Int = 0) {
        self.sessions = sessions
        self.unauthorized = unauthorized
    }
}

/// Why the simulator refused an admin change.
public enum SimulatorError: Error, Sendable, Hashable, CustomStringConvertible {
    /// No session has this id.
    case unknownSession(String)
    /// Another session already uses this credential (an API key or a phone number id).
    case conflict(String)
    /// The request does not make sense (a missing field, a value out of range).
    case invalid(String)

    public var description: String {
        switch self {
        case .unknownSession(let id): "no session '\(id)'"
        case .conflict(let detail): detail
        case .invalid(let detail): detail
        }
    }
}
