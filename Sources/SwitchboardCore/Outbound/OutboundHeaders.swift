/// The AMQP header names of the outbound contract, in one place.
public enum OutboundHeader {
    /// Which send this is, from 1.
    public static let attempt = "sb-attempt"
    public static let tenant = "sb-tenant"
    /// Set when a publisher sends a message again under the same id because it does not
    /// know whether the first publish arrived: the dispatcher then checks the store for a
    /// send of the first copy (it does that for every redelivery too).
    public static let republished = "sb-republished"
    /// On a dead letter: why (`expired`, `invalid-recipient`, `http-503`, …), in words,
    /// how many sends were made, when the first and the last failed, and the routing
    /// key it was published with.
    public static let errorCode = "sb-error-code"
    public static let errorDetail = "sb-error-detail"
    public static let attempts = "sb-attempts"
    public static let firstFailedAt = "sb-first-failed-at"
    public static let lastFailedAt = "sb-last-failed-at"
    public static let originalRoutingKey = "sb-original-routing-key"
}

/// Why a message was dead-lettered without (further) sending, beyond provider codes.
public enum DeadLetterReason {
    public static let expired = "expired"
    public static let malformed = "malformed"
    public static let unknownSession = "unknown-session"
    /// The session's provider is not registered in this build (`ProviderRegistry`).
    public static let unknownProvider = "unknown-provider"
    /// The envelope breaks its rules (`OutboundEnvelope.validate(now:)`); the detail
    /// lists every broken field.
    public static let invalid = "invalid"
    public static let retriesExhausted = "retries-exhausted"
}
