import Foundation
import Hummingbird
import SwitchboardCore
import SwitchboardHTTP
import SwitchboardStore

/// `/v1/bot`: a tenant's automatic replies: settings (opt-out and opt-in keywords and
/// replies, office hours and the out-of-hours reply, the bot URL and its signing secret,
/// the per-contact reply limit) and keyword rules.
struct BotRoutes: Sendable {
    let bot: any BotStore

    func addRoutes(to group: RouterGroup<APIRequestContext>) {
        group.get("bot", use: settings)
        group.put("bot", use: replaceSettings)
        group.get("bot/rules", use: rules)
        group.post("bot/rules", use: addRule)
        group.put("bot/rules/{id}", use: replaceRule)
        group.delete("bot/rules/{id}", use: deleteRule)
    }

    @Sendable func settings(_ request: Request, context: APIRequestContext) async throws
        -> JSONResponse<BotSettingsResource>
    {
        let tenant = try context.actingTenant(named: request.uri.queryParameters.get("tenant"))
        let settings = try await storeCall { () async throws(StoreError) in try await bot.botSettings(of: tenant) }
        return JSONResponse(value: BotSettingsResource(settings))
    }

    /// Replaces the settings; absent fields take their defaults, except the forward
    /// secret, which stays as it is unless given (it is never shown again).
    @Sendable func replaceSettings(_ request: Request, context: APIRequestContext) async throws
        -> JSONResponse<BotSettingsResource>
    {
        var request = request
        var settings = try await request.decodeJSON(BotSettings.self, limit: APIServer.maximumBodySize)
        let tenant = try context.actingTenant(named: request.uri.queryParameters.get("tenant"))
        let saved = try await storeCall { () async throws(StoreError) in
            if settings.forwardSecret == nil {
                settings.forwardSecret = try await bot.botSettings(of: tenant).forwardSecret
            }
            if settings.forwardURL != nil, settings.forwardSecret == nil {
                throw StoreError.invalid(.invalid(field: "forward_secret",
                                                  "a bot URL needs a secret (16–256 characters) to sign the forwards"))
            }
            try await bot.setBotSettings(settings, of: tenant)
            return settings
        }
        return JSONResponse(value: BotSettingsResource(saved))
    }

    @Sendable func rules(_ request: Request, context: APIRequestContext) async throws -> JSONResponse<BotRuleList> {
        let tenant = try context.actingTenant(named: request.uri.queryParameters.get("tenant"))
        let rules = try await storeCall { () async throws(StoreError) in try await bot.botRules(of: tenant) }
        return JSONResponse(value: BotRuleList(rules: rules))
    }

    struct RuleRequest: Codable, Sendable {
        var id: String?
        var keywords: [String]
        var reply: String
    }

    @Sendable func addRule(_ request: Request, context: APIRequestContext) async throws -> JSONResponse<BotRule> {
        var request = request
        let body = try await request.decodeJSON(RuleRequest.self, limit: APIServer.maximumBodySize)
        let tenant = try context.actingTenant(named: request.uri.queryParameters.get("tenant"))
        let id = try body.id.map { id throws(Problem) in try Self.ruleID(id, field: "id") } ?? Self.newRuleID()
        let rule = BotRule(id: id, keywords: body.keywords, reply: body.reply)
        try await storeCall { () async throws(StoreError) in
            if try await bot.botRules(of: tenant).contains(where: { $0.id == id }) {
                throw StoreError.conflict("bot rule \(id)")
            }
            try await bot.putBotRule(rule, of: tenant)
        }
        return JSONResponse(status: .created, headers: [.location: "/v1/bot/rules/\(id)"], value: rule)
    }

    @Sendable func replaceRule(_ request: Request, context: APIRequestContext) async throws -> JSONResponse<BotRule> {
        var request = request
        let body = try await request.decodeJSON(RuleRequest.self, limit: APIServer.maximumBodySize)
        let tenant = try context.actingTenant(named: request.uri.queryParameters.get("tenant"))
        let id = try Self.ruleID(context.parameters.get("id") ?? "", field: "id")
        let saved = try await storeCall { () async throws(StoreError) in
            guard let existing = try await bot.botRules(of: tenant).first(where: { $0.id == id }) else {
                throw StoreError.notFound("bot rule \(id)")
            }
            let rule = BotRule(id: id, keywords: body.keywords, reply: body.reply, createdAt: existing.createdAt)
            try await bot.putBotRule(rule, of: tenant)
            return rule
        }
        return JSONResponse(value: saved)
    }

    @Sendable func deleteRule(_ request: Request, context: APIRequestContext) async throws -> Response {
        let tenant = try context.actingTenant(named: request.uri.queryParameters.get("tenant"))
        let id = context.parameters.get("id") ?? ""
        try await storeCall { () async throws(StoreError) in try await bot.deleteBotRule(id, of: tenant) }
        return Response(status: .noContent)
    }

    /// 1–63 of a-z, 0-9 and '-'.
    static func ruleID(_ text: String, field: String) throws(Problem) -> String {
        guard (1...63).contains(text.count),
              text.utf8.allSatisfy({ (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0)
                  || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || $0 == UInt8(ascii: "-") })
        else { throw .validation(field: field, "'\(text)' is not a valid rule id (1–63 of a-z, 0-9 and '-')") }
        return text
    }

    static func newRuleID() -> String {
        "rule-" + String(UInt64.random(in: 0...UInt64.max) & 0xFFFF_FFFF_FFFF, radix: 16)
    }
}

/// The settings as the API shows them: the forward secret is never shown, only whether
/// one is set.
struct BotSettingsResource: Codable, Sendable {
    var settings: BotSettings
    var forwardSecretSet: Bool

    enum CodingKeys: String, CodingKey {
        case forwardSecretSet = "forward_secret_set"
    }

    init(_ settings: BotSettings) {
        var shown = settings
        shown.forwardSecret = nil
        self.settings = shown
        forwardSecretSet = settings.forwardSecret != nil
    }

    init(from decoder: any Decoder) throws {
        settings = try BotSettings(from: decoder)
        forwardSecretSet = try decoder.container(keyedBy: CodingKeys.self)
            .decodeIfPresent(Bool.self, forKey: .forwardSecretSet) ?? false
    }

    func encode(to encoder: any Encoder) throws {
        try settings.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(forwardSecretSet, forKey: .forwardSecretSet)
    }
}

struct BotRuleList: Codable, Sendable {
    var rules: [BotRule]
}
