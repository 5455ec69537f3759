import Foundation
import SwitchboardCore
import SwitchboardHTTP
import SwitchboardProviders
import SwitchboardStore

// The JSON shapes of the API (snake_case, as the envelope). Each mirrors one schema of
// the OpenAPI document; secrets appear only in the answer that creates them.

/// A tenant as the API shows it.
struct TenantResource: Codable, Sendable {
    var id: String
    var name: String
    var sessionRate: Double
    var bulkShare: Double
    var backlogQuota: Int?
    var createdAt: Date

    enum CodingKeys: String, CodingKey {
        case id, name
        case sessionRate = "session_rate", bulkShare = "bulk_share", backlogQuota = "backlog_quota"
        case createdAt = "created_at"
    }

    init(_ tenant: Tenant) {
        id = tenant.id.rawValue
        name = tenant.name
        sessionRate = tenant.limits.sessionRate
        bulkShare = tenant.limits.bulkShare
        backlogQuota = tenant.limits.backlogQuota
        createdAt = tenant.createdAt
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(name, forKey: .name)
        try container.encode(sessionRate, forKey: .sessionRate)
        try container.encode(bulkShare, forKey: .bulkShare)
        try container.encode(backlogQuota, forKey: .backlogQuota)  // null: no quota
        try container.encode(createdAt, forKey: .createdAt)
    }
}

/// `POST /v1/tenants`.
struct CreateTenantRequest: Codable, Sendable {
    var id: String
    var name: String
    var sessionRate: Double?
    var bulkShare: Double?
    var backlogQuota: Int?

    enum CodingKeys: String, CodingKey {
        case id, name, sessionRate = "session_rate", bulkShare = "bulk_share", backlogQuota = "backlog_quota"
    }
}

/// A field of a merge patch (RFC 7396): absent leaves it, null clears it, a value sets it.
enum PatchField<Value: Codable & Sendable>: Sendable {
    case absent, null, value(Value)
}

extension KeyedDecodingContainer {
    func decodePatch<Value>(_ type: Value.Type, forKey key: Key) throws -> PatchField<Value> {
        guard contains(key) else { return .absent }
        if try decodeNil(forKey: key) { return .null }
        return .value(try decode(type, forKey: key))
    }
}

/// `PATCH /v1/tenants/{tenant}` (merge patch).
struct UpdateTenantRequest: Decodable, Sendable {
    var name: String?
    var sessionRate: Double?
    var bulkShare: Double?
    var backlogQuota: PatchField<Int>

    enum CodingKeys: String, CodingKey {
        case name, sessionRate = "session_rate", bulkShare = "bulk_share", backlogQuota = "backlog_quota"
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decodeIfPresent(String.self, forKey: .name)
        sessionRate = try container.decodeIfPresent(Double.self, forKey: .sessionRate)
        bulkShare = try container.decodeIfPresent(Double.self, forKey: .bulkShare)
        backlogQuota = try container.decodePatch(Int.self, forKey: .backlogQuota)
    }
}

/// A session as the API shows it: never its credentials.
struct SessionResource: Codable, Sendable {
    var id: String
    var tenant: String
    var provider: ProviderKind
    var phoneNumber: String
    var status: SessionStatus
    var primary: Bool
    var createdAt: Date
    /// Only in the answer that generated it.
    var webhookSecret: String?

    enum CodingKeys: String, CodingKey {
        case id, tenant, provider, status, primary
        case phoneNumber = "phone_number", createdAt = "created_at", webhookSecret = "webhook_secret"
    }

    init(_ session: Session, webhookSecret: String? = nil) {
        id = session.id.rawValue
        tenant = session.tenant.rawValue
        provider = session.provider
        phoneNumber = session.phoneNumber.e164
        status = session.status
        primary = session.isPrimary
        createdAt = session.createdAt
        self.webhookSecret = webhookSecret
    }
}

/// `POST /v1/tenants/{tenant}/sessions`.
struct CreateSessionRequest: Codable, Sendable {
    var id: String
    var provider: ProviderKind
    var phoneNumber: String
    /// Provider credentials by name (`api_key`; `access_token`, `phone_number_id`, `app_secret`).
    var credentials: [String: String]?
    /// The secret the provider's webhooks carry; generated (and shown once) when absent.
    var webhookSecret: String?
    var primary: Bool?
    var status: SessionStatus?

    enum CodingKeys: String, CodingKey {
        case id, provider, credentials, primary, status
        case phoneNumber = "phone_number", webhookSecret = "webhook_secret"
    }
}

/// `POST /v1/tenants/batch`: up to `TenantBatch.maximumItems` tenants with their sessions.
struct TenantBatchRequest: Codable, Sendable {
    var tenants: [Item]

    /// A tenant as `POST /v1/tenants` takes it, with the sessions `POST …/sessions` takes.
    struct Item: Codable, Sendable {
        var tenant: CreateTenantRequest
        var sessions: [CreateSessionRequest]

        init(from decoder: any Decoder) throws {
            tenant = try CreateTenantRequest(from: decoder)
            let container = try decoder.container(keyedBy: CodingKeys.self)
            sessions = try container.decodeIfPresent([CreateSessionRequest].self, forKey: .sessions) ?? []
        }

        func encode(to encoder: any Encoder) throws {
            try tenant.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(sessions, forKey: .sessions)
        }

        enum CodingKeys: String, CodingKey { case sessions }
    }
}

/// The answer to a batch: one result per item, in the order sent.
struct TenantBatchResource: Encodable, Sendable {
    var created: Int
    var failed: Int
    var results: [Result]

    struct Result: Encodable, Sendable {
        /// The item's tenant id as sent.
        var id: String
        /// 201, or the status the item would have had on its own (409, 422, 503).
        var status: Int
        var tenant: TenantResource?
        var sessions: [SessionResource]?
        var problem: Problem?
    }
}

extension CreateTenantRequest {
    /// The tenant this asks for, or a validation problem.
    func tenant() throws(Problem) -> Tenant {
        let id = try parse(id, as: TenantID.self, field: "id")
        guard !name.isEmpty, name.count <= 200 else {
            throw Problem.validation(field: "name", "must be 1–200 characters")
        }
        let defaults = TenantLimits()
        let limits = TenantLimits(sessionRate: sessionRate ?? defaults.sessionRate,
                                  bulkShare: bulkShare ?? defaults.bulkShare, backlogQuota: backlogQuota)
        do { _ = try limits.validated() } catch { throw Problem.validation(field: error.field, error.reason) }
        return Tenant(id: id, name: name, limits: limits)
    }
}

extension CreateSessionRequest {
    /// The session this asks for with its secrets (a webhook secret generated when none
    /// is given, to show once), or a validation problem.
    func session(of tenant: TenantID) throws(Problem) -> (NewSession, generatedSecret: String?) {
        let id = try parse(id, as: SessionID.self, field: "id")
        guard ProviderRegistry.standard.provider(for: provider) != nil else {
            throw Problem.validation(field: "provider", "must be one of \(ProviderRegistry.standard.kinds.map(\.rawValue))")
        }
        let phone: PhoneNumber
        do { phone = try PhoneNumber(phoneNumber) } catch {
            throw Problem.validation(field: "phone_number", "'\(phoneNumber)' is not E.164 (e.g. +14155550123)")
        }
        if let webhookSecret, webhookSecret.count < 16 {
            throw Problem.validation(field: "webhook_secret", "must be at least 16 characters")
        }
        let generated = webhookSecret == nil ? WebhookSecret.generate() : nil
        let session = Session(id: id, tenant: tenant, provider: provider, phoneNumber: phone,
                              status: status ?? .disconnected, isPrimary: primary ?? false)
        let secrets = SessionSecrets(credentials: credentials ?? [:], webhookSecret: webhookSecret ?? generated!)
        return (NewSession(session: session, secrets: secrets), generated)
    }
}

/// `PATCH /v1/sessions/{session}`.
struct UpdateSessionRequest: Codable, Sendable {
    /// `true` makes it the tenant's primary (`false` is not accepted: make another primary).
    var primary: Bool?
    var status: SessionStatus?
    /// Replaces all credentials.
    var credentials: [String: String]?
    var webhookSecret: String?

    enum CodingKeys: String, CodingKey {
        case primary, status, credentials, webhookSecret = "webhook_secret"
    }
}

/// An API key as the API shows it; `token` only in the answer that created it.
struct APIKeyResource: Codable, Sendable {
    var id: String
    var scope: String
    var tenant: String?
    var label: String?
    var createdAt: Date
    var token: String?

    enum CodingKeys: String, CodingKey {
        case id, scope, tenant, label, token, createdAt = "created_at"
    }

    init(_ key: APIKey, token: String? = nil) {
        id = key.id
        switch key.scope {
        case .admin:
            scope = "admin"
            tenant = nil
        case .tenant(let id):
            scope = "tenant"
            tenant = id.rawValue
        }
        label = key.label
        createdAt = key.createdAt
        self.token = token
    }
}

/// `POST /v1/keys`, `POST /v1/tenants/{tenant}/keys`.
struct CreateKeyRequest: Codable, Sendable {
    var label: String?
}

/// The envelope of a list answer.
struct ListResource<Item: Encodable & Sendable>: Encodable, Sendable {
    let key: String
    let items: [Item]

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: AnyKey.self)
        try container.encode(items, forKey: AnyKey(key))
    }
}

struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
