public import Foundation

/// A provider's webhook as the receiver accepted it: the exact body bytes and what the
/// receiver learnt while checking its signature. It travels on `sb.inbound` as the
/// message body, with these facts as headers (see `InboundHeader`).
public struct RawWebhook: Sendable, Hashable {
    public var provider: ProviderKind
    /// The session the webhook's URL or signature named. For Meta this is the session
    /// of the first `phone_number_id` in the body; the normalizer routes every change
    /// by its own `phone_number_id`.
    public var session: SessionID
    public var tenant: TenantID
    public var receivedAt: Date
    public var body: Data

    public init(provider: ProviderKind, session: SessionID, tenant: TenantID, receivedAt: Date, body: Data) {
        self.provider = provider
        self.session = session
        self.tenant = tenant
        self.receivedAt = receivedAt
        self.body = body
    }
}

/// The AMQP headers the receiver puts on a raw webhook.
public enum InboundHeader {
    public static let provider = "sb-provider"
    public static let tenant = "sb-tenant"
    public static let session = "sb-session"
    /// Unix time in milliseconds.
    public static let receivedAt = "sb-received-at"
}

/// Where a session belongs: what the normalizer needs to route a Meta change by its
/// `metadata.phone_number_id`.
public struct SessionRoute: Sendable, Hashable {
    public var tenant: TenantID
    public var session: SessionID

    public init(tenant: TenantID, session: SessionID) {
        self.tenant = tenant
        self.session = session
    }
}

/// Why a webhook body cannot become events. The normalizer dead-letters it with
/// `code` as `sb-error-code` and the description as `sb-error-detail`.
public enum WebhookParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Not JSON, or JSON without the provider's envelope.
    case malformed(String)
    /// A session status webhook naming a status the gateway does not know.
    case unknownSessionStatus(String)

    public var code: String {
        switch self {
        case .malformed: "unparseable"
        case .unknownSessionStatus: "unknown-session-status"
        }
    }

    public var description: String {
        switch self {
        case .malformed(let why): why
        case .unknownSessionStatus(let value): "unknown session status '\(value)'"
        }
    }
}

/// What one webhook body holds: the events in it, and the parts left out with why
/// (an event kind the gateway does not carry, a Meta number of no known session), so
/// the normalizer can log them.
public struct ParsedWebhook: Sendable, Hashable {
    public var events: [NormalizedEvent]
    public var skipped: [String]

    public init(events: [NormalizedEvent] = [], skipped: [String] = []) {
        self.events = events
        self.skipped = skipped
    }
}
