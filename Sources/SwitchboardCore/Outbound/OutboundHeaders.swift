/// The AMQP header names of the outbound contract, in one place.
public enum OutboundHeader {
    /// Which send this is, from 1.
    public static let attempt = "sb-attempt"
    public static let tenant = "sb-tenant"
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
    public static let retriesExhausted = "retries-exhausted"
}
