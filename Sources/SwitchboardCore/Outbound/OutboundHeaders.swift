/// The AMQP header names of the outbound contract, in one place.
public enum OutboundHeader {
    /// Which send this is, from 1.
    public static let attempt = "sb-attempt"
    public static let tenant = "sb-tenant"
    /// Set when a publisher sends a message again under the same id because it does not
    /// know whether the first publish arrived: the dispatcher then checks the store for a
    /// send of the first copy (it does that for every redelivery too).
    public static let republished = "sb-republished"
    /// When the gateway (or a publisher) accepted the message, Unix milliseconds: where
    /// the dispatcher's send lag starts. Absent, the AMQP `timestamp` (seconds) serves.
    public static let acceptedAt = "sb-accepted-at"
    /// On a dead letter: why (`expired`, `invalid-recipient`, `http-503`, …), in words,
    /// how many sends were made, when the first and the last failed, and the routing
    /// key it was published with.
    public static let errorCode = "sb-error-code"
    public static let errorDetail = "sb-error-detail"
    public static let attempts = "sb-attempts"
    public static let firstFailedAt = "sb-first-failed-at"
    public static let lastFailedAt = "sb-last-failed-at"
    public static let originalRoutingKey = "sb-original-routing-key"
    /// On a dead letter: the exchange it was published to, where a replay sends it.
    public static let originalExchange = "sb-original-exchange"
    /// On a replayed message: how many times it was replayed, and the archive id of the
    /// dead letter it was replayed from.
    public static let replays = "sb-replays"
    public static let replayedFrom = "sb-replayed-from"
}

/// Why a message was dead-lettered: the last part of its `sb.dlx` routing key
/// (`<tenant>.<reason>`) and the first of its `sb-error-code`. Beyond the gateway's
/// own reasons below, a provider's permanent failure code (`invalid-recipient`,
/// `meta-131026`, …) is the reason itself, and consumers park with reasons of their own.
public struct DeadLetterReason: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }

    public var description: String { rawValue }

    public static let expired = DeadLetterReason(rawValue: "expired")
    public static let malformed = DeadLetterReason(rawValue: "malformed")
    public static let unknownSession = DeadLetterReason(rawValue: "unknown-session")
    /// The session's provider is not registered in this build (`ProviderRegistry`).
    public static let unknownProvider = DeadLetterReason(rawValue: "unknown-provider")
    /// The envelope breaks its rules (`OutboundEnvelope.validate(now:)`); the detail
    /// lists every broken field.
    public static let invalid = DeadLetterReason(rawValue: "invalid")
    /// A transient failure on the last attempt; the provider's code goes with it.
    public static let retriesExhausted = DeadLetterReason(rawValue: "retries-exhausted")
    /// A bulk message of a tenant whose limits give bulk no share of its rate.
    public static let bulkNotAllowed = DeadLetterReason(rawValue: "bulk-not-allowed")
}

/// A dead letter's `sb-error-code`: its reason, with the provider's failure code when
/// the reason alone does not say what went wrong (`retries-exhausted:http-503`).
public struct DeadLetterCode: Hashable, Sendable, CustomStringConvertible {
    public var reason: DeadLetterReason
    /// The provider's code of the failure behind `reason`, if any.
    public var detailCode: String?

    public init(_ reason: DeadLetterReason, detailCode: String? = nil) {
        self.reason = reason
        self.detailCode = detailCode
    }

    /// A dead letter for a send that failed for good: a transient failure on the last
    /// attempt is `retries-exhausted` with the provider's code, a permanent one is
    /// dead-lettered under the provider's code itself.
    public init(failing failure: SendFailure) {
        if failure.isTransient {
            self.init(.retriesExhausted, detailCode: failure.code)
        } else {
            self.init(DeadLetterReason(rawValue: failure.code))
        }
    }

    /// Reads an `sb-error-code`: the reason up to the first `:`, the provider's code after it.
    public init(wireValue: String) {
        if let colon = wireValue.firstIndex(of: ":") {
            self.init(DeadLetterReason(rawValue: String(wireValue[..<colon])),
                      detailCode: String(wireValue[wireValue.index(after: colon)...]))
        } else {
            self.init(DeadLetterReason(rawValue: wireValue))
        }
    }

    /// The `sb-error-code` header (and the stored and emitted error code): `reason`,
    /// or `reason:detailCode`.
    public var wireValue: String {
        detailCode.map { "\(reason.rawValue):\($0)" } ?? reason.rawValue
    }

    public var description: String { wireValue }
}
