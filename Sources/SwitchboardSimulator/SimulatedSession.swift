public import Foundation

/// One provider account the simulator answers for: the credentials its send endpoints
/// accept, where its webhooks go and how they are signed, its rate and behaviour.
public struct SimulatedSession: Codable, Sendable, Hashable {
    /// Which provider the session imitates: what its webhooks look like and how they are
    /// signed (its sends may use either endpoint, as long as the credentials match).
    public enum Flavor: String, Codable, Sendable, Hashable, CaseIterable {
        /// WasenderAPI: webhooks carry the secret itself in `X-Webhook-Signature`.
        case wasender
        /// Meta Cloud API: webhooks are signed with `X-Hub-Signature-256`.
        case meta
        /// WasenderAPI bodies signed the Standard Webhooks way (`webhook-signature`).
        case simulator
    }

    public var id: String
    public var flavor: Flavor
    /// The Bearer token of `POST /api/send-message` and `GET /api/status`; empty: none.
    public var apiKey: String
    /// The number id in Meta's send path (`/{version}/{phoneNumberID}/messages`).
    public var phoneNumberID: String?
    /// Meta's Bearer token for that path.
    public var accessToken: String?
    /// Where status and inbound webhooks go; nil: nowhere.
    public var webhookURL: String?
    /// Wasender: sent as-is; Meta: the app secret of the HMAC; simulator: the Standard
    /// Webhooks secret (`whsec_<base64>` or plain text).
    public var webhookSecret: String?
    /// Accepted sends allowed in any sliding window of one second; nil: no limit.
    public var ratePerSecond: Double?
    /// Replaces the simulator-wide behaviour for this session when set (as a whole, not
    /// field by field, so what a test sets is exactly what applies).
    public var behaviour: SimulatorBehaviour?
    /// The session's own number (E.164), shown as Meta's `display_phone_number`.
    public var phoneNumber: String?
    /// The WhatsApp Business Account id Meta webhooks name in `entry[].id`.
    public var businessAccountID: String?

    public init(id: String, flavor: Flavor, apiKey: String = "", phoneNumberID: String? = nil,
                accessToken: String? = nil, webhookURL: String? = nil, webhookSecret: String? = nil,
                ratePerSecond: Double? = nil, behaviour: SimulatorBehaviour? = nil, phoneNumber: String? = nil,
                businessAccountID: String? = nil) {
        self.id = id
        self.flavor = flavor
        self.apiKey = apiKey
        self.phoneNumberID = phoneNumberID
        self.accessToken = accessToken
        self.webhookURL = webhookURL
        self.webhookSecret = webhookSecret
        self.ratePerSecond = ratePerSecond
        self.behaviour = behaviour
        self.phoneNumber = phoneNumber
        self.businessAccountID = businessAccountID
    }

    enum CodingKeys: String, CodingKey {
        case id, flavor, behaviour
        case apiKey = "api_key"
        case phoneNumberID = "phone_number_id"
        case accessToken = "access_token"
        case webhookURL = "webhook_url"
        case webhookSecret = "webhook_secret"
        case ratePerSecond = "rate_per_second"
        case phoneNumber = "phone_number"
        case businessAccountID = "business_account_id"
    }

    /// The id the admin route takes from its path, for a body that leaves `id` out.
    static let pathIDKey = CodingUserInfoKey(rawValue: "switchboard.simulator.session-id")!

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if let id = try container.decodeIfPresent(String.self, forKey: .id) {
            self.id = id
        } else if let id = decoder.userInfo[Self.pathIDKey] as? String {
            self.id = id
        } else {
            throw DecodingError.keyNotFound(
                CodingKeys.id, DecodingError.Context(codingPath: [], debugDescription: "a session needs an id"))
        }
        flavor = try container.decode(Flavor.self, forKey: .flavor)
        apiKey = try container.decodeIfPresent(String.self, forKey: .apiKey) ?? ""
        phoneNumberID = try container.decodeIfPresent(String.self, forKey: .phoneNumberID)
        accessToken = try container.decodeIfPresent(String.self, forKey: .accessToken)
        webhookURL = try container.decodeIfPresent(String.self, forKey: .webhookURL)
        webhookSecret = try container.decodeIfPresent(String.self, forKey: .webhookSecret)
        ratePerSecond = try container.decodeIfPresent(Double.self, forKey: .ratePerSecond)
        behaviour = try container.decodeIfPresent(SimulatorBehaviour.self, forKey: .behaviour)
        phoneNumber = try container.decodeIfPresent(String.self, forKey: .phoneNumber)
        businessAccountID = try container.decodeIfPresent(String.self, forKey: .businessAccountID)
    }
}

/// How the simulator answers sends: latency, failures, invalid numbers, outages, and
/// when it reports statuses. Every field may be left out of the JSON (its default).
public struct SimulatorBehaviour: Codable, Sendable, Hashable {
    /// Fixed wait before every answer.
    public var latencyMs: Int
    /// Up to this much more, uniformly at random.
    public var jitterMs: Int
    /// Share (0…1) of sends answered with a transient server error.
    public var errorRate: Double
    /// A recipient starting with one of these (with or without `+`) is invalid: a
    /// permanent error.
    public var invalidNumberPrefixes: [String]
    /// Windows during which every send answers 503.
    public var outages: [Outage]
    /// When statuses are reported after acceptance.
    public var statusDelaysMs: StatusDelays
    /// What a 429 asks callers to wait.
    public var rateLimitRetryAfterSeconds: Int

    public init(latencyMs: Int = 0, jitterMs: Int = 0, errorRate: Double = 0, invalidNumberPrefixes: [String] = [],
                outages: [Outage] = [], statusDelaysMs: StatusDelays = .standard, rateLimitRetryAfterSeconds: Int = 1) {
        self.latencyMs = latencyMs
        self.jitterMs = jitterMs
        self.errorRate = errorRate
        self.invalidNumberPrefixes = invalidNumberPrefixes
        self.outages = outages
        self.statusDelaysMs = statusDelaysMs
        self.rateLimitRetryAfterSeconds = rateLimitRetryAfterSeconds
    }

    enum CodingKeys: String, CodingKey {
        case outages
        case latencyMs = "latency_ms"
        case jitterMs = "jitter_ms"
        case errorRate = "error_rate"
        case invalidNumberPrefixes = "invalid_number_prefixes"
        case statusDelaysMs = "status_delays_ms"
        case rateLimitRetryAfterSeconds = "rate_limit_retry_after_seconds"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = SimulatorBehaviour()
        latencyMs = try container.decodeIfPresent(Int.self, forKey: .latencyMs) ?? defaults.latencyMs
        jitterMs = try container.decodeIfPresent(Int.self, forKey: .jitterMs) ?? defaults.jitterMs
        errorRate = try container.decodeIfPresent(Double.self, forKey: .errorRate) ?? defaults.errorRate
        invalidNumberPrefixes = try container.decodeIfPresent([String].self, forKey: .invalidNumberPrefixes)
            ?? defaults.invalidNumberPrefixes
        outages = try container.decodeIfPresent([Outage].self, forKey: .outages) ?? defaults.outages
        statusDelaysMs = try container.decodeIfPresent(StatusDelays.self, forKey: .statusDelaysMs)
            ?? defaults.statusDelaysMs
        rateLimitRetryAfterSeconds = try container.decodeIfPresent(Int.self, forKey: .rateLimitRetryAfterSeconds)
            ?? defaults.rateLimitRetryAfterSeconds
    }

    /// Whether `date` falls in one of the outage windows.
    func isOutage(at date: Date) -> Bool {
        outages.contains { $0.contains(date) }
    }

    /// The wait before answering one send: the latency plus its share of jitter.
    func answerDelay() -> Duration {
        let jitter = jitterMs > 0 ? Int.random(in: 0...jitterMs) : 0
        return .milliseconds(max(0, latencyMs) + jitter)
    }

    /// Whether `digits` (the recipient without `+`) starts with an invalid prefix.
    func isInvalid(recipientDigits digits: String) -> Bool {
        invalidNumberPrefixes.contains { prefix in
            let bare = prefix.hasPrefix("+") ? String(prefix.dropFirst()) : prefix
            return !bare.isEmpty && digits.hasPrefix(bare)
        }
    }
}

/// A window of time during which the simulated provider is down.
public struct Outage: Codable, Sendable, Hashable {
    public var from: Date
    public var until: Date

    public init(from: Date = .distantPast, until: Date) {
        self.from = from
        self.until = until
    }

    func contains(_ date: Date) -> Bool { date >= from && date < until }
}

/// Milliseconds after acceptance at which each status webhook goes out; nil or
/// negative: that status is never reported (e.g. a recipient who never reads).
public struct StatusDelays: Codable, Sendable, Hashable {
    public var sent: Int?
    public var delivered: Int?
    public var read: Int?

    public init(sent: Int? = nil, delivered: Int? = nil, read: Int? = nil) {
        self.sent = sent
        self.delivered = delivered
        self.read = read
    }

    /// Sent at once, delivered after 50 ms, read after 100 ms.
    public static let standard = StatusDelays(sent: 0, delivered: 50, read: 100)
    /// No status webhooks at all.
    public static let none = StatusDelays()

    /// The statuses to report, with their delays, earliest first.
    var schedule: [(DeliveryStatus, Int)] {
        // Ties keep the natural order (sent, delivered, read): the sort key includes it.
        [(DeliveryStatus.sent, sent), (.delivered, delivered), (.read, read)].enumerated()
            .compactMap { index, entry in entry.1.flatMap { $0 >= 0 ? (entry.0, $0, index) : nil } }
            .sorted { ($0.1, $0.2) < ($1.1, $1.2) }
            .map { ($0.0, $0.1) }
    }
}

/// A status the simulator reports for an accepted message.
public enum DeliveryStatus: String, Codable, Sendable, Hashable, CaseIterable {
    case sent, delivered, read

    /// WasenderAPI's number for it in `messages.update` (`data.update.status`).
    var wasenderCode: Int {
        switch self {
        case .sent: 2
        case .delivered: 3
        case .read: 4
        }
    }
}
