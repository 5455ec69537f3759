/// Every failure the AMQP client reports: what happened, the broker's reply code when
/// it gave one, and whether trying again later can succeed.
public struct AMQPError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure; stable to branch on, open to new cases.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case invalidConfiguration
            case connectFailed
            case tlsFailed
            case authenticationFailed
            case accessRefused
            case notFound
            case preconditionFailed
            case resourceLocked
            case channelClosed
            case connectionLost
            case notConnected
            case closed
            case timeout
            case publishNacked
            case publishReturned
            case consumerCancelled
            case staleDelivery
            case protocolError
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The URL or settings cannot describe a connection.
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// No TCP connection: closed port, unknown host, unreachable network, handshake timeout.
        public static let connectFailed = Code(.connectFailed)
        /// The TLS handshake or certificate verification failed.
        public static let tlsFailed = Code(.tlsFailed)
        /// The broker refused the user name or password (403 at login).
        public static let authenticationFailed = Code(.authenticationFailed)
        /// The user may not use this virtual host or resource (403/530).
        public static let accessRefused = Code(.accessRefused)
        /// An exchange or queue does not exist (404).
        public static let notFound = Code(.notFound)
        /// A declaration conflicts with the existing one, or an operation's precondition failed (406).
        public static let preconditionFailed = Code(.preconditionFailed)
        /// The queue is exclusive to another connection (405).
        public static let resourceLocked = Code(.resourceLocked)
        /// The broker closed the channel for another reason.
        public static let channelClosed = Code(.channelClosed)
        /// The connection dropped while the operation was in flight; its outcome is unknown.
        public static let connectionLost = Code(.connectionLost)
        /// The client is between connections (recovering); nothing was sent.
        public static let notConnected = Code(.notConnected)
        /// The connection was closed by its owner.
        public static let closed = Code(.closed)
        /// The broker did not answer in time.
        public static let timeout = Code(.timeout)
        /// The broker refused responsibility for a published message (e.g. a full queue with `reject-publish`).
        public static let publishNacked = Code(.publishNacked)
        /// A mandatory message could not be routed to any queue.
        public static let publishReturned = Code(.publishReturned)
        /// The broker cancelled the consumer (its queue was deleted, …).
        public static let consumerCancelled = Code(.consumerCancelled)
        /// The delivery came from a channel that no longer exists; the broker will redeliver it.
        public static let staleDelivery = Code(.staleDelivery)
        /// The broker or the library saw something the protocol does not allow.
        public static let protocolError = Code(.protocolError)

        public var description: String { base.rawValue }
    }

    public let code: Code
    /// What went wrong, in words an operator can act on.
    public let message: String
    /// The AMQP reply code (320, 403, 404, 406, …) when the broker sent one.
    public let replyCode: UInt16?

    public init(_ code: Code, _ message: String, replyCode: UInt16? = nil) {
        self.code = code
        self.message = message
        self.replyCode = replyCode
    }

    /// True when the same operation may succeed later without any change by the caller.
    public var isRetryable: Bool {
        switch code {
        case .connectFailed, .connectionLost, .notConnected, .timeout, .publishNacked:
            return true
        default:
            return false
        }
    }

    public var description: String {
        if let replyCode { return "AMQPError.\(code) (\(replyCode)): \(message)" }
        return "AMQPError.\(code): \(message)"
    }

    /// Maps a broker close (channel.close or connection.close) to an error.
    static func brokerClose(replyCode: UInt16, text: String, duringLogin: Bool = false) -> AMQPError {
        let code: Code
        switch replyCode {
        case 403 where duringLogin: code = .authenticationFailed
        case 403, 530: code = .accessRefused
        case 404: code = .notFound
        case 405: code = .resourceLocked
        case 406: code = .preconditionFailed
        case 320: code = .connectionLost  // CONNECTION_FORCED: an admin or a shutdown closed us
        default: code = .channelClosed
        }
        return AMQPError(code, text, replyCode: replyCode)
    }
}
