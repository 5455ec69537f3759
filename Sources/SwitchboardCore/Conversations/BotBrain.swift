public import Foundation

/// What the bot does with a contact's message: the pure decision, given the tenant's
/// settings and rules and what the store knows of the contact. The bot service applies it.
public struct BotDecision: Sendable, Hashable {
    public enum ContactChange: String, Sendable, Hashable {
        case optOut = "opt-out", optIn = "opt-in"
    }

    /// Why a reply is sent: `opt-out`, `opt-in`, `keyword:<rule id>`, `out-of-hours` or
    /// `forward` (a reply from the tenant's bot). Part of the reply's message id.
    public struct Reply: Sendable, Hashable {
        public var text: String
        public var reason: String

        public init(text: String, reason: String) {
            self.text = text
            self.reason = reason
        }
    }

    public var contactChange: ContactChange?
    public var reply: Reply?
    /// POST the event to the tenant's bot URL.
    public var forward: Bool
    /// A reply was due but the contact's reply limit was reached.
    public var limited: Bool

    public static let nothing = BotDecision(contactChange: nil, reply: nil, forward: false, limited: false)

    public init(contactChange: ContactChange?, reply: Reply?, forward: Bool, limited: Bool) {
        self.contactChange = contactChange
        self.reply = reply
        self.forward = forward
        self.limited = limited
    }
}

/// What the bot knows of a contact when a message arrives.
public struct BotContactState: Sendable, Hashable {
    public var policy: ContactPolicy
    /// Automatic replies sent to the contact within the settings' reply window.
    public var repliesInWindow: Int
    public var lastOutOfHoursReplyAt: Date?

    public init(policy: ContactPolicy, repliesInWindow: Int, lastOutOfHoursReplyAt: Date?) {
        self.policy = policy
        self.repliesInWindow = repliesInWindow
        self.lastOutOfHoursReplyAt = lastOutOfHoursReplyAt
    }
}

/// The bot's rules, applied in order: opt-out keywords (always, confirmed only when the
/// contact was not opted out already), opt-in keywords (only for an opted-out contact),
/// the tenant's keyword rules, forwarding to the tenant's bot, then the out-of-hours
/// reply (at most once per cooldown). Every reply counts against the contact's limit.
public enum BotBrain {
    public static func decide(text: String?, settings: BotSettings, rules: [BotRule], contact: BotContactState,
                              now: Date) -> BotDecision {
        let said = BotRule.normalize(text ?? "")
        var decision = BotDecision.nothing
        if !said.isEmpty, settings.optOutKeywords.contains(where: { BotRule.normalize($0) == said }) {
            guard !contact.policy.optedOut else { return decision }
            decision.contactChange = .optOut
            if settings.enabled, let text = settings.optOutReply {
                decision.reply = .init(text: text, reason: "opt-out")
            }
        } else if !said.isEmpty, settings.optInKeywords.contains(where: { BotRule.normalize($0) == said }) {
            guard contact.policy.optedOut else { return decision }
            decision.contactChange = .optIn
            if settings.enabled, let text = settings.optInReply {
                decision.reply = .init(text: text, reason: "opt-in")
            }
        } else {
            guard settings.enabled else { return decision }
            if !said.isEmpty, let rule = rules.first(where: { $0.matches(said) }) {
                decision.reply = .init(text: rule.reply, reason: "keyword:\(rule.id)")
            } else if settings.forwardURL != nil {
                decision.forward = true
            } else if let hours = settings.officeHours, let text = settings.outOfHoursReply, !hours.isOpen(at: now),
                      contact.lastOutOfHoursReplyAt.map({ now.timeIntervalSince($0) >= Double(settings.outOfHoursCooldownSeconds) }) ?? true
            {
                decision.reply = .init(text: text, reason: "out-of-hours")
            }
        }
        if decision.reply != nil, contact.repliesInWindow >= settings.replyLimit {
            decision.reply = nil
            decision.limited = true
        }
        return decision
    }
}
