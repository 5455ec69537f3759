public import Foundation

/// A tenant's automatic replies: opt-out and opt-in keywords (always on, with replies
/// the tenant may word), an out-of-hours reply, forwarding to the tenant's own bot, and
/// the per-contact reply limit that keeps the bot from ever looping with another bot.
public struct BotSettings: Sendable, Hashable, Codable {
    /// False turns every automatic reply and forward off; opt-out keywords still opt out
    /// (a STOP must always work), but without a confirmation.
    public var enabled: Bool
    public var optOutKeywords: [String]
    public var optOutReply: String?
    public var optInKeywords: [String]
    public var optInReply: String?
    public var officeHours: OfficeHours?
    /// Sent once per `outOfHoursCooldown` to a contact who writes while closed.
    public var outOfHoursReply: String?
    public var outOfHoursCooldownSeconds: Int
    /// Messages no rule answers are POSTed here (signed); a `reply` in the answer is sent.
    public var forwardURL: String?
    /// The HMAC key of the forward's `webhook-signature` (Standard Webhooks); write-only
    /// through the API.
    public var forwardSecret: String?
    public var forwardTimeoutSeconds: Double
    /// At most this many automatic replies to one contact per `replyWindowSeconds`.
    public var replyLimit: Int
    public var replyWindowSeconds: Int

    public static let defaultOptOutReply = "You are unsubscribed and will get no more marketing messages. Reply START to subscribe again."
    public static let defaultOptInReply = "You are subscribed again. Reply STOP to unsubscribe."

    public init(enabled: Bool = true, optOutKeywords: [String] = ["STOP", "UNSUBSCRIBE"],
                optOutReply: String? = BotSettings.defaultOptOutReply, optInKeywords: [String] = ["START"],
                optInReply: String? = BotSettings.defaultOptInReply, officeHours: OfficeHours? = nil,
                outOfHoursReply: String? = nil, outOfHoursCooldownSeconds: Int = 12 * 3600, forwardURL: String? = nil,
                forwardSecret: String? = nil, forwardTimeoutSeconds: Double = 5, replyLimit: Int = 5,
                replyWindowSeconds: Int = 3600) {
        self.enabled = enabled
        self.optOutKeywords = optOutKeywords
        self.optOutReply = optOutReply
        self.optInKeywords = optInKeywords
        self.optInReply = optInReply
        self.officeHours = officeHours
        self.outOfHoursReply = outOfHoursReply
        self.outOfHoursCooldownSeconds = outOfHoursCooldownSeconds
        self.forwardURL = forwardURL
        self.forwardSecret = forwardSecret
        self.forwardTimeoutSeconds = forwardTimeoutSeconds
        self.replyLimit = replyLimit
        self.replyWindowSeconds = replyWindowSeconds
    }

    enum CodingKeys: String, CodingKey {
        case enabled
        case optOutKeywords = "opt_out_keywords", optOutReply = "opt_out_reply", optInKeywords = "opt_in_keywords"
        case optInReply = "opt_in_reply", officeHours = "office_hours", outOfHoursReply = "out_of_hours_reply"
        case outOfHoursCooldownSeconds = "out_of_hours_cooldown_seconds", forwardURL = "forward_url"
        case forwardSecret = "forward_secret", forwardTimeoutSeconds = "forward_timeout_seconds"
        case replyLimit = "reply_limit", replyWindowSeconds = "reply_window_seconds"
    }

    /// Absent fields take their defaults, so a tenant sends only what it changes.
    public init(from decoder: any Decoder) throws {
        let defaults = BotSettings()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? defaults.enabled
        optOutKeywords = try c.decodeIfPresent([String].self, forKey: .optOutKeywords) ?? defaults.optOutKeywords
        optOutReply = c.contains(.optOutReply) ? try c.decodeIfPresent(String.self, forKey: .optOutReply) : defaults.optOutReply
        optInKeywords = try c.decodeIfPresent([String].self, forKey: .optInKeywords) ?? defaults.optInKeywords
        optInReply = c.contains(.optInReply) ? try c.decodeIfPresent(String.self, forKey: .optInReply) : defaults.optInReply
        officeHours = try c.decodeIfPresent(OfficeHours.self, forKey: .officeHours)
        outOfHoursReply = try c.decodeIfPresent(String.self, forKey: .outOfHoursReply)
        outOfHoursCooldownSeconds = try c.decodeIfPresent(Int.self, forKey: .outOfHoursCooldownSeconds)
            ?? defaults.outOfHoursCooldownSeconds
        forwardURL = try c.decodeIfPresent(String.self, forKey: .forwardURL)
        forwardSecret = try c.decodeIfPresent(String.self, forKey: .forwardSecret)
        forwardTimeoutSeconds = try c.decodeIfPresent(Double.self, forKey: .forwardTimeoutSeconds)
            ?? defaults.forwardTimeoutSeconds
        replyLimit = try c.decodeIfPresent(Int.self, forKey: .replyLimit) ?? defaults.replyLimit
        replyWindowSeconds = try c.decodeIfPresent(Int.self, forKey: .replyWindowSeconds) ?? defaults.replyWindowSeconds
    }

    /// Checks every field; names the one at fault.
    public func validated() throws(RegistryError) -> BotSettings {
        for (field, keywords) in [("opt_out_keywords", optOutKeywords), ("opt_in_keywords", optInKeywords)] {
            guard keywords.count <= 20, keywords.allSatisfy({ !BotRule.normalize($0).isEmpty && $0.count <= 64 }) else {
                throw .invalid(field: field, "at most 20 keywords of 1–64 characters")
            }
        }
        if Set(optOutKeywords.map(BotRule.normalize)).intersection(optInKeywords.map(BotRule.normalize)).count > 0 {
            throw .invalid(field: "opt_in_keywords", "a keyword cannot both opt out and opt in")
        }
        for (field, text) in [("opt_out_reply", optOutReply), ("opt_in_reply", optInReply),
                              ("out_of_hours_reply", outOfHoursReply)] {
            if let text, text.isEmpty || text.count > 4096 { throw .invalid(field: field, "must be 1–4096 characters") }
        }
        if let officeHours { _ = try officeHours.validated() }
        if outOfHoursReply != nil, officeHours == nil {
            throw .invalid(field: "office_hours", "an out-of-hours reply needs office hours")
        }
        guard (60...7 * 86400).contains(outOfHoursCooldownSeconds) else {
            throw .invalid(field: "out_of_hours_cooldown_seconds", "must be 60–604800")
        }
        if let forwardURL {
            guard let url = URL(string: forwardURL), ["http", "https"].contains(url.scheme?.lowercased() ?? ""),
                  url.host != nil
            else { throw .invalid(field: "forward_url", "must be an http(s) URL") }
        }
        if let forwardSecret, forwardSecret.count < 16 || forwardSecret.count > 256 {
            throw .invalid(field: "forward_secret", "must be 16–256 characters")
        }
        guard (0.1...30).contains(forwardTimeoutSeconds) else {
            throw .invalid(field: "forward_timeout_seconds", "must be 0.1–30")
        }
        guard (1...100).contains(replyLimit) else { throw .invalid(field: "reply_limit", "must be 1–100") }
        guard (10...86400).contains(replyWindowSeconds) else {
            throw .invalid(field: "reply_window_seconds", "must be 10–86400")
        }
        return self
    }
}

/// A keyword rule of a tenant's bot: a contact's message that is exactly one of the
/// keywords (case, spaces and trailing punctuation ignored) gets the reply.
public struct BotRule: Sendable, Hashable, Codable {
    public var id: String
    public var keywords: [String]
    public var reply: String
    public var createdAt: Date

    enum CodingKeys: String, CodingKey {
        case id, keywords, reply
        case createdAt = "created_at"
    }

    public init(id: String, keywords: [String], reply: String, createdAt: Date = Date()) {
        self.id = id
        self.keywords = keywords
        self.reply = reply
        self.createdAt = createdAt
    }

    /// Checks keywords and reply; names the field at fault.
    public func validated() throws(RegistryError) -> BotRule {
        guard !keywords.isEmpty, keywords.count <= 20,
              keywords.allSatisfy({ !BotRule.normalize($0).isEmpty && $0.count <= 64 })
        else { throw .invalid(field: "keywords", "1–20 keywords of 1–64 characters") }
        guard !reply.isEmpty, reply.count <= 4096 else { throw .invalid(field: "reply", "must be 1–4096 characters") }
        return self
    }

    public func matches(_ normalizedText: String) -> Bool {
        keywords.contains { Self.normalize($0) == normalizedText }
    }

    /// How messages and keywords are compared: trimmed, inner spaces collapsed, trailing
    /// punctuation dropped, upper-cased ("  stop! " is "STOP").
    public static func normalize(_ text: String) -> String {
        var words = text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        while let last = words.last, last.isPunctuation { words.removeLast() }
        return words.uppercased()
    }
}
