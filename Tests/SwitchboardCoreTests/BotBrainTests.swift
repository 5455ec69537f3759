import Foundation
import SwitchboardCore
import Testing

@Suite("The bot's decision, office hours and the contact policy (pure logic)")
struct BotBrainTests {
    private let wednesdayTenBerlin = ISO8601DateFormatter().date(from: "2026-11-18T09:00:00Z")!
    private let fresh = BotContactState(policy: ContactPolicy(), repliesInWindow: 0, lastOutOfHoursReplyAt: nil)
    private let optedOut = BotContactState(policy: ContactPolicy(optedOut: true), repliesInWindow: 0,
                                           lastOutOfHoursReplyAt: nil)

    private func decide(_ text: String?, _ settings: BotSettings = BotSettings(), rules: [BotRule] = [],
                        contact: BotContactState? = nil, at date: Date? = nil) -> BotDecision {
        BotBrain.decide(text: text, settings: settings, rules: rules, contact: contact ?? fresh,
                        now: date ?? wednesdayTenBerlin)
    }

    @Test func keywordsAreComparedWithoutCaseSpacesOrTrailingPunctuation() {
        #expect(BotRule.normalize("  stop! ") == "STOP")
        #expect(BotRule.normalize("Opening   hours?") == "OPENING HOURS")
        #expect(BotRule.normalize("?!") == "")
        #expect(BotRule(id: "h", keywords: ["help", "Info"], reply: "x").matches("INFO"))
        #expect(!BotRule(id: "h", keywords: ["help"], reply: "x").matches("HELP ME"))
    }

    @Test func stopOptsOutWithAConfirmationOnlyTheFirstTime() {
        let first = decide("Stop")
        #expect(first.contactChange == .optOut)
        #expect(first.reply?.reason == "opt-out")
        #expect(first.reply?.text == BotSettings.defaultOptOutReply)
        let again = decide("UNSUBSCRIBE", contact: optedOut)
        #expect(again == .nothing)
    }

    @Test func startOptsBackInOnlyAnOptedOutContact() {
        let back = decide("start", contact: optedOut)
        #expect(back.contactChange == .optIn)
        #expect(back.reply?.reason == "opt-in")
        #expect(decide("start") == .nothing)
    }

    @Test func aDisabledBotStillHonoursStopButSaysNothing() {
        let settings = BotSettings(enabled: false)
        let stop = decide("STOP", settings)
        #expect(stop.contactChange == .optOut)
        #expect(stop.reply == nil)
        let rule = BotRule(id: "help", keywords: ["HELP"], reply: "Call us")
        #expect(decide("help", settings, rules: [rule]) == .nothing)
    }

    @Test func keywordRulesComeBeforeForwardingAndOutOfHours() {
        let rule = BotRule(id: "help", keywords: ["HELP"], reply: "Call us")
        var settings = BotSettings(forwardURL: "https://bot.example/hook", forwardSecret: "0123456789abcdef")
        #expect(decide("help", settings, rules: [rule]).reply == .init(text: "Call us", reason: "keyword:help"))
        let other = decide("what is this?", settings, rules: [rule])
        #expect(other.forward && other.reply == nil)
        settings.forwardURL = nil
        settings.officeHours = OfficeHours(timeZone: "Europe/Berlin", days: [:])
        settings.outOfHoursReply = "Closed"
        #expect(decide("what is this?", settings, rules: [rule]).reply?.reason == "out-of-hours")
    }

    @Test func theOutOfHoursReplyFollowsTheTenantsZoneAndItsCooldown() throws {
        let hours = OfficeHours(timeZone: "Europe/Berlin", days: ["wed": ["09:00-17:00"]])
        let settings = BotSettings(officeHours: hours, outOfHoursReply: "Closed", outOfHoursCooldownSeconds: 3600)
        let date = try #require(ISO8601DateFormatter().date(from: "2026-11-18T09:30:00Z"))  // 10:30 Berlin, Wednesday
        #expect(hours.isOpen(at: date))
        #expect(decide("hi", settings, at: date) == .nothing)
        let evening = date.addingTimeInterval(8 * 3600)  // 18:30 Berlin
        #expect(!hours.isOpen(at: evening))
        #expect(decide("hi", settings, at: evening).reply?.text == "Closed")
        let justAnswered = BotContactState(policy: ContactPolicy(), repliesInWindow: 1,
                                           lastOutOfHoursReplyAt: evening.addingTimeInterval(-600))
        #expect(decide("hi", settings, contact: justAnswered, at: evening).reply == nil)
        let longAgo = BotContactState(policy: ContactPolicy(), repliesInWindow: 1,
                                      lastOutOfHoursReplyAt: evening.addingTimeInterval(-7200))
        #expect(decide("hi", settings, contact: longAgo, at: evening).reply != nil)
        // Thursday at 10:30 in Berlin is closed (only Wednesday has hours).
        #expect(!hours.isOpen(at: date.addingTimeInterval(86400)))
    }

    @Test func theReplyLimitHoldsEveryReplyBackButNotTheOptOut() {
        let rule = BotRule(id: "ping", keywords: ["PING"], reply: "PONG")
        let settings = BotSettings(replyLimit: 3)
        let busy = BotContactState(policy: ContactPolicy(), repliesInWindow: 3, lastOutOfHoursReplyAt: nil)
        let limited = decide("ping", settings, rules: [rule], contact: busy)
        #expect(limited.reply == nil && limited.limited)
        let stop = decide("stop", settings, contact: busy)
        #expect(stop.contactChange == .optOut && stop.reply == nil && stop.limited)
        let almost = BotContactState(policy: ContactPolicy(), repliesInWindow: 2, lastOutOfHoursReplyAt: nil)
        #expect(decide("ping", settings, rules: [rule], contact: almost).reply?.text == "PONG")
    }

    @Test func officeHoursAndSettingsAreValidatedWithTheFieldAtFault() {
        #expect(throws: RegistryError.invalid(field: "office_hours.time_zone",
                                              "'Mars/Olympus' is not an IANA time zone (e.g. Europe/Berlin)")) {
            try OfficeHours(timeZone: "Mars/Olympus", days: [:]).validated()
        }
        for interval in ["9:00-17:00", "17:00-09:00", "09:00-24:01", "09:60-10:00", "09:00"] {
            #expect(throws: RegistryError.self) { try OfficeHours(timeZone: "UTC", days: ["mon": [interval]]).validated() }
        }
        #expect(throws: RegistryError.self) { try OfficeHours(timeZone: "UTC", days: ["monday": []]).validated() }
        #expect((try? OfficeHours(timeZone: "UTC", days: ["mon": ["00:00-24:00"]]).validated()) != nil)
        func field(_ settings: BotSettings) -> String? {
            do { _ = try settings.validated(); return nil } catch { return error.field }
        }
        #expect(field(BotSettings()) == nil)
        #expect(field(BotSettings(optInKeywords: ["stop"])) == "opt_in_keywords")
        #expect(field(BotSettings(outOfHoursReply: "Closed")) == "office_hours")
        #expect(field(BotSettings(forwardURL: "ftp://x")) == "forward_url")
        #expect(field(BotSettings(forwardSecret: "short")) == "forward_secret")
        #expect(field(BotSettings(replyLimit: 0)) == "reply_limit")
        #expect(field(BotSettings(optOutKeywords: ["  "])) == "opt_out_keywords")
    }

    @Test func absentSettingsFieldsTakeTheirDefaultsAndNullRepliesStayNull() throws {
        let decoded = try JSONDecoder().decode(BotSettings.self, from: Data(#"{"reply_limit":2,"opt_out_reply":null}"#.utf8))
        #expect(decoded.replyLimit == 2)
        #expect(decoded.optOutReply == nil)
        #expect(decoded.optInReply == BotSettings.defaultOptInReply)
        #expect(decoded.optOutKeywords == ["STOP", "UNSUBSCRIBE"])
    }

    @Test func aContactPolicySuppressesBulkWhileOptedOutOrPaused() {
        let now = Date(timeIntervalSince1970: 1_795_000_000)
        #expect(ContactPolicy().suppression(at: now) == nil)
        #expect(ContactPolicy(optedOut: true).suppression(at: now) == .optedOut)
        #expect(ContactPolicy(pausedUntil: now.addingTimeInterval(60)).suppression(at: now) == .paused)
        #expect(ContactPolicy(pausedUntil: now.addingTimeInterval(-1)).suppression(at: now) == nil)
        #expect(ContactPolicy(optedOut: true, pausedUntil: now.addingTimeInterval(60)).suppression(at: now) == .optedOut)
    }
}
