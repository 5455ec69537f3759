import Foundation
import HTTPTypes
import Hummingbird

/// One send as the state decides it, whichever endpoint it came through.
struct SendAttempt: Sendable {
    enum Endpoint: Sendable { case wasender, meta }

    var endpoint: Endpoint
    /// The recipient as given (empty when missing).
    var to: String
    /// The recipient's digits; nil when `to` is not a phone number (then `problem` says so).
    var recipientDigits: String?
    var type: String
    var text: String?
    var mediaURL: String?
    var template: String?
    /// What is wrong with the request, if anything: a permanent error.
    var problem: RequestProblem?
}

/// A field of a send that makes it unacceptable.
struct RequestProblem: Sendable, Hashable {
    var field: String
    var message: String
    /// The recipient is at fault (Meta answers 131026 then, 100 otherwise).
    var isRecipient: Bool
}

/// What the state decided for one send.
enum SendOutcome: Sendable {
    /// The session went away while the send waited.
    case unknownSession
    case outage
    case invalid(RequestProblem)
    case serverError
    case rateLimited(RateLimitInfo)
    /// The session is not connected (disconnected, need_scan, logged_out, …).
    case notConnected(String)
    /// `number` is Wasender's integer `msgId`.
    case accepted(SimulatedMessage, number: Int, rate: RateLimitInfo?)
}

/// Where a session stands against its limit, for the `X-RateLimit-*` headers.
struct RateLimitInfo: Sendable, Hashable {
    var limit: Int
    var remaining: Int
    /// When the oldest send of the window leaves it.
    var resetAt: Date
    var retryAfterSeconds: Int

    /// Laravel's throttle headers, which WasenderAPI sends: the reset as a Unix time.
    func headers(limited: Bool) -> HTTPFields {
        var fields: HTTPFields = [
            .rateLimitLimit: String(limit), .rateLimitRemaining: String(remaining),
        ]
        if limited {
            fields[.retryAfter] = String(retryAfterSeconds)
            fields[.rateLimitReset] = String(Int(resetAt.timeIntervalSince1970.rounded(.up)))
        }
        return fields
    }
}

extension HTTPField.Name {
    static let rateLimitLimit = HTTPField.Name("X-RateLimit-Limit")!
    static let rateLimitRemaining = HTTPField.Name("X-RateLimit-Remaining")!
    static let rateLimitReset = HTTPField.Name("X-RateLimit-Reset")!
}

/// A session-management answer: `{"success":true,"data":{…}}`.
struct ManagementAnswer: Encodable {
    var success = true
    let data: [String: String]
}

/// `POST /api/send-message`, `GET /api/status` and the session-management calls
/// (connect with its QR code, the code, disconnect), as WasenderAPI answers them.
struct WasenderRoutes: Sendable {
    let state: SimulatorState

    func addRoutes(to router: Router<SimulatorRequestContext>) {
        router.post("api/send-message") { request, _ in try await send(request) }
        // Session management (WasenderAPI's account endpoints; the simulator takes the
        // session's own API key as the token).
        router.post("api/whatsapp-sessions/:id/connect") { request, context in
            guard let session = managed(request, context) else { return Self.unauthenticated }
            let (status, code) = try state.connect(session: session.id)
            var data = ["status": status.uppercased()]
            data["qrCode"] = code
            return jsonResponse(.ok, ManagementAnswer(data: data))
        }
        router.get("api/whatsapp-sessions/:id/qrcode") { request, context in
            guard let session = managed(request, context) else { return Self.unauthenticated }
            guard let code = state.qrCode(session: session.id) else {
                return Self.failure(.badRequest, "The session is not waiting for a QR scan.")
            }
            return jsonResponse(.ok, ManagementAnswer(data: ["qrCode": code]))
        }
        router.post("api/whatsapp-sessions/:id/disconnect") { request, context in
            guard let session = managed(request, context) else { return Self.unauthenticated }
            try state.setStatus("disconnected", session: session.id)
            return jsonResponse(.ok, ManagementAnswer(data: ["status": "DISCONNECTED"]))
        }
        router.get("api/status") { request, _ in
            guard let (session, behaviour) = state.authenticate(apiKey: request.bearerToken ?? "") else {
                return Self.unauthenticated
            }
            state.countStatusPoll()
            try await simulateLatency(behaviour)
            return jsonResponse(.ok, ["status": state.status(session: session.id) ?? "connected"])
        }
    }

    /// The session a management call names, if the token is its API key.
    private func managed(_ request: Request, _ context: SimulatorRequestContext) -> SimulatedSession? {
        guard let (session, _) = state.authenticate(apiKey: request.bearerToken ?? ""),
              session.id == context.parameters.get("id") else { return nil }
        return session
    }

    private func send(_ request: Request) async throws -> Response {
        guard let (session, behaviour) = state.authenticate(apiKey: request.bearerToken ?? "") else {
            return Self.unauthenticated
        }
        var request = request
        let attempt: SendAttempt
        do {
            attempt = Self.attempt(try await request.decode(SendBody.self))
        } catch .tooLarge {
            return Self.failure(.contentTooLarge, "The request body is too large.")
        } catch .unreadable(let detail) {
            return Self.failure(.badRequest, "The request body could not be read: \(detail)")
        } catch .malformed(let detail) {
            attempt = SendAttempt(endpoint: .wasender, to: "", type: "text",
                                  problem: RequestProblem(field: "body", message: detail, isRecipient: false))
        }
        try await simulateLatency(behaviour)

        switch state.admit(attempt, session: session.id) {
        case .unknownSession:
            return Self.unauthenticated
        case .outage:
            return Self.failure(.serviceUnavailable, "Service temporarily unavailable (simulated outage).")
        case .serverError:
            return Self.failure(.internalServerError, "Failed to send the message (simulated error).")
        case .invalid(let problem):
            return jsonResponse(.unprocessableContent, ValidationFailure(
                message: problem.message, errors: [problem.field: [problem.message]]))
        case .rateLimited(let rate):
            return jsonResponse(.tooManyRequests, RateLimited(retry_after: rate.retryAfterSeconds),
                                headers: rate.headers(limited: true))
        case .notConnected(let status):
            return Self.failure(.badRequest, "WhatsApp session is not connected (status: \(status)).")
        case .accepted(let message, let number, let rate):
            return jsonResponse(.ok, Accepted(data: .init(msgId: number, jid: message.to)),
                                headers: rate?.headers(limited: false) ?? [:])
        }
    }

    /// The send as the state sees it, with the first problem of the request if any.
    static func attempt(_ body: SendBody) -> SendAttempt {
        let to = body.to ?? ""
        var attempt = SendAttempt(endpoint: .wasender, to: to, recipientDigits: nil, type: "text", text: body.text)
        let media: [(String, String?)] = [
            ("image", body.imageUrl), ("video", body.videoUrl), ("document", body.documentUrl),
            ("audio", body.audioUrl), ("sticker", body.stickerUrl),
        ]
        if let (type, url) = media.first(where: { $0.1 != nil }) {
            attempt.type = type
            attempt.mediaURL = url
        } else if body.contact != nil {
            attempt.type = "contact"
        } else if body.location != nil {
            attempt.type = "location"
        }

        if to.isEmpty {
            attempt.problem = RequestProblem(field: "to", message: "The to field is required.", isRecipient: true)
        } else if to.hasPrefix("+"), let digits = recipientDigits(to) {
            attempt.recipientDigits = digits
        } else {
            attempt.problem = RequestProblem(
                field: "to", message: "The to field must be a phone number in E.164 format (e.g. +14155550123).",
                isRecipient: true)
        }
        if attempt.problem == nil, attempt.type == "text", (body.text ?? "").isEmpty {
            attempt.problem = RequestProblem(
                field: "text", message: "The text field is required when no media is present.", isRecipient: false)
        }
        if attempt.problem == nil, let location = body.location,
           location.latitude == nil || location.longitude == nil
        {
            attempt.problem = RequestProblem(
                field: "location", message: "The location needs a latitude and a longitude.", isRecipient: false)
        }
        return attempt
    }

    static var unauthenticated: Response { jsonResponse(.unauthorized, Failure(message: "Unauthenticated.")) }

    static func failure(_ status: HTTPResponse.Status, _ message: String) -> Response {
        jsonResponse(status, Failure(message: message))
    }

    // MARK: Bodies

    /// The send body; every field optional so that a missing one is a 422, not a 400.
    struct SendBody: Decodable {
        struct Contact: Decodable {
            var name: String?
            var phone: String?
        }

        struct Location: Decodable {
            var latitude: Double?
            var longitude: Double?
            var name: String?
            var address: String?
        }

        var to: String?
        var text: String?
        var imageUrl: String?
        var videoUrl: String?
        var documentUrl: String?
        var fileName: String?
        var audioUrl: String?
        var stickerUrl: String?
        var contact: Contact?
        var location: Location?
    }

    struct Accepted: Encodable {
        struct Payload: Encodable {
            let msgId: Int
            let jid: String
            var status = "in_progress"
        }

        var success = true
        let data: Payload
    }

    struct Failure: Encodable {
        var success = false
        let message: String
    }

    struct ValidationFailure: Encodable {
        var success = false
        let message: String
        let errors: [String: [String]]
    }

    struct RateLimited: Encodable {
        var message = "Too many requests"
        let retry_after: Int
    }
}
