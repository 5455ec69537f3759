public import struct Foundation.Date

/// A session's id: a slug unique across the gateway (it appears in webhook URLs).
public struct SessionID: SlugIdentifier {
    public let rawValue: String

    public init(_ rawValue: String) throws(RegistryError) {
        guard Slug.isValid(rawValue) else {
            throw .invalid(field: "session id", "'\(rawValue)' must be 1–63 of a-z, 0-9 and '-', not starting with '-'")
        }
        self.rawValue = rawValue
    }

    public init(validating slug: String) throws { try self.init(slug) }
}

/// Which provider a session sends through. Each provider declares its kind in its own
/// folder of `SwitchboardProviders` and registers in `ProviderRegistry`: no enum here.
public struct ProviderKind: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    /// The name sessions, raw webhooks and events carry: lower-case letters, digits, `-`.
    public let rawValue: String

    /// Any well-formed name; whether a provider of that kind exists is the provider
    /// registry's to say (`SwitchboardProviders.ProviderRegistry`).
    public init?(rawValue: String) {
        guard !rawValue.isEmpty, rawValue.count <= 32,
              rawValue.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" })
        else { return nil }
        self.rawValue = rawValue
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let kind = ProviderKind(rawValue: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "'\(text)' is not a provider name"))
        }
        self = kind
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }
}

/// A session's connection state, as providers report it (PROVIDERS.md).
public enum SessionStatus: String, Sendable, Hashable, Codable, CaseIterable {
    case connected, connecting, needScan = "need_scan", disconnected, loggedOut = "logged_out", expired

    /// Reads a provider's spelling (upper case seen too).
    public init?(providerValue: String) {
        self.init(rawValue: providerValue.lowercased())
    }
}

/// A WhatsApp number connected at a provider, owned by one tenant. Its credentials are
/// not part of it: they live encrypted in the store and are read only to send.
public struct Session: Sendable, Hashable, Codable {
    public var id: SessionID
    public var tenant: TenantID
    public var provider: ProviderKind
    public var phoneNumber: PhoneNumber
    public var status: SessionStatus
    /// The session a tenant's messages use when they name none.
    public var isPrimary: Bool
    public var createdAt: Date

    public init(id: SessionID, tenant: TenantID, provider: ProviderKind, phoneNumber: PhoneNumber,
                status: SessionStatus = .disconnected, isPrimary: Bool = false, createdAt: Date = Date()) {
        self.id = id
        self.tenant = tenant
        self.provider = provider
        self.phoneNumber = phoneNumber
        self.status = status
        self.isPrimary = isPrimary
        self.createdAt = createdAt
    }
}

/// What a session needs to talk to its provider and to check its webhooks. Never
/// logged, never returned by the API; `description` is redacted.
public struct SessionSecrets: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Provider credentials by name, e.g. `api_key` (WasenderAPI), `access_token` and
    /// `phone_number_id` (Meta), `app_secret`.
    public var credentials: [String: String]
    /// The secret the provider signs or sends with its webhooks.
    public var webhookSecret: String

    public init(credentials: [String: String], webhookSecret: String) {
        self.credentials = credentials
        self.webhookSecret = webhookSecret
    }

    public var description: String { "SessionSecrets(\(credentials.keys.sorted()), webhookSecret: ***)" }
}

/// Who an API key speaks for.
public enum APIKeyScope: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Everything: tenants, sessions, keys.
    case admin
    /// One tenant's sessions, messages and inbox, nothing else.
    case tenant(TenantID)

    public var description: String {
        switch self {
        case .admin: "admin"
        case .tenant(let id): "tenant:\(id)"
        }
    }
}
