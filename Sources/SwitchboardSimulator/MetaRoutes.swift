import Foundation
import Hummingbird

/// `POST /{version}/{phoneNumberID}/messages` and `GET /{version}/{phoneNumberID}` (the
/// number's status, quality rating and messaging limit tier), as the Meta Cloud API
/// answers them.
struct MetaRoutes: Sendable {
    let state: SimulatorState

    func addRoutes(to router: Router<SimulatorRequestContext>) {
        router.post(":version/:phoneNumberID/messages") { request, context in
            try await send(request, phoneNumberID: context.parameters.get("phoneNumberID") ?? "")
        }
        router.get(":version/:phoneNumberID") { request, context in
            let phoneNumberID = context.parameters.get("phoneNumberID") ?? ""
            guard let (session, behaviour) = state.authenticate(phoneNumberID: phoneNumberID,
                                                                 accessToken: request.bearerToken ?? "")
            else {
                return Self.error(.unauthorized, code: 190, "Invalid OAuth access token - Cannot parse access token",
                                  details: "The access token does not belong to phone number id \(phoneNumberID).")
            }
            state.countStatusPoll()
            try await simulateLatency(behaviour)
            let status = state.status(session: session.id) ?? "connected"
            return jsonResponse(.ok, PhoneNumber(
                id: phoneNumberID, status: status == "connected" ? "CONNECTED" : "DISCONNECTED",
                quality_rating: status == "connected" ? "GREEN" : "RED", messaging_limit_tier: "TIER_1K",
                display_phone_number: (session.phoneNumber ?? "").replacingOccurrences(of: "+", with: "")))
        }
    }

    /// A phone number as `GET /{phone-number-id}` answers (the fields the monitor asks for).
    struct PhoneNumber: Encodable {
        let id: String
        let status: String
        let quality_rating: String
        let messaging_limit_tier: String
        let display_phone_number: String
    }

    private func send(_ request: Request, phoneNumberID: String) async throws -> Response {
        guard let (session, behaviour) = state.authenticate(
            phoneNumberID: phoneNumberID, accessToken: request.bearerToken ?? "")
        else {
            return Self.error(.unauthorized, code: 190, "Invalid OAuth access token - Cannot parse access token",
                              details: "The access token does not belong to phone number id \(phoneNumberID).")
        }
        var request = request
        let attempt: SendAttempt
        do {
            attempt = Self.attempt(try await request.decode(SendBody.self))
        } catch .tooLarge {
            return Self.error(.contentTooLarge, code: 100, "(#100) Invalid parameter",
                              details: "The request body is too large.")
        } catch .unreadable(let detail) {
            return Self.error(.badRequest, code: 100, "(#100) Invalid parameter", details: detail)
        } catch .malformed(let detail) {
            attempt = SendAttempt(endpoint: .meta, to: "", type: "text",
                                  problem: RequestProblem(field: "body", message: detail, isRecipient: false))
        }
        try await simulateLatency(behaviour)

        switch state.admit(attempt, session: session.id) {
        case .unknownSession:
            return Self.error(.unauthorized, code: 190, "Invalid OAuth access token - Cannot parse access token",
                              details: "The session was removed.")
        case .outage:
            return Self.error(.serviceUnavailable, code: 2, "Service temporarily unavailable",
                              details: "Simulated outage.")
        case .serverError:
            return Bool.random()
                ? Self.error(.internalServerError, code: 1, "An unknown error occurred", details: "Simulated error.")
                : Self.error(.internalServerError, code: 2, "Service temporarily unavailable",
                             details: "Simulated error.")
        case .invalid(let problem) where problem.isRecipient:
            return Self.error(.badRequest, code: 131026, "(#131026) Message Undeliverable.", details: problem.message)
        case .invalid(let problem):
            return Self.error(.badRequest, code: 100, "(#100) Invalid parameter",
                              details: "\(problem.field): \(problem.message)")
        case .notConnected(let status):
            // Cloud API numbers have no session to drop; a number that is not connected
            // answers like a deregistered one.
            return Self.error(.badRequest, code: 133010, "(#133010) Account not registered",
                              details: "The phone number is \(status).")
        case .rateLimited(let rate):
            return Self.error(.tooManyRequests, code: 130429, "(#130429) Rate limit hit",
                              details: "Cloud API message throughput has been reached.",
                              headers: [.retryAfter: String(rate.retryAfterSeconds)])
        case .accepted(let message, _, _):
            return jsonResponse(.ok, Accepted(
                contacts: [.init(input: message.to, wa_id: attempt.recipientDigits ?? message.to)],
                messages: [.init(id: message.id)]))
        }
    }

    /// The send as the state sees it, with the first problem of the request if any.
    static func attempt(_ body: SendBody) -> SendAttempt {
        let to = body.to ?? ""
        let type = body.type ?? "text"
        var attempt = SendAttempt(endpoint: .meta, to: to, recipientDigits: recipientDigits(to), type: type)
        func problem(_ field: String, _ message: String, recipient: Bool = false) {
            if attempt.problem == nil {
                attempt.problem = RequestProblem(field: field, message: message, isRecipient: recipient)
            }
        }

        if body.messaging_product != "whatsapp" {
            problem("messaging_product", "The parameter messaging_product is required and must be 'whatsapp'.")
        }
        if to.isEmpty {
            problem("to", "The parameter to is required.")
        } else if attempt.recipientDigits == nil {
            problem("to", "'\(to)' is not a valid WhatsApp phone number.", recipient: true)
        }
        switch type {
        case "text":
            attempt.text = body.text?.body
            if (attempt.text ?? "").isEmpty { problem("text", "The parameter text['body'] is required.") }
        case "template":
            attempt.template = body.template?.name
            if (body.template?.name ?? "").isEmpty || (body.template?.language?.code ?? "").isEmpty {
                problem("template", "The parameters template['name'] and template['language']['code'] are required.")
            }
        case "image", "video", "audio", "document", "sticker":
            let media = [
                "image": body.image, "video": body.video, "audio": body.audio, "document": body.document,
                "sticker": body.sticker,
            ][type] ?? nil
            attempt.mediaURL = media?.link
            attempt.text = media?.caption
            if media?.link == nil, media?.id == nil {
                problem(type, "The parameter \(type)['link'] or \(type)['id'] is required.")
            }
        case "location":
            if body.location?.latitude == nil || body.location?.longitude == nil {
                problem("location", "The parameters location['latitude'] and location['longitude'] are required.")
            }
        default:
            problem("type", "The parameter type '\(type)' is not supported by the simulator.")
        }
        return attempt
    }

    /// Meta's error object; `fbtrace_id` is random, as Meta's is per request.
    static func error(_ status: HTTPResponse.Status, code: Int, _ message: String, details: String,
                      headers: HTTPFields = [:]) -> Response {
        let trace = String((0..<27).map { _ in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".randomElement()! })
        return jsonResponse(status, ErrorBody(error: .init(
            message: message, type: "OAuthException", code: code,
            error_data: .init(details: details), fbtrace_id: trace)), headers: headers)
    }

    // MARK: Bodies

    /// The send body; every field optional so that a missing one is Meta's error 100.
    /// Template components and other fields are accepted and ignored.
    struct SendBody: Decodable {
        struct Text: Decodable { var body: String? }
        struct Template: Decodable {
            struct Language: Decodable { var code: String? }
            var name: String?
            var language: Language?
        }
        struct Media: Decodable {
            var link: String?
            var id: String?
            var caption: String?
            var filename: String?
        }
        struct Location: Decodable {
            var latitude: Double?
            var longitude: Double?
            var name: String?
            var address: String?
        }

        var messaging_product: String?
        var recipient_type: String?
        var to: String?
        var type: String?
        var text: Text?
        var template: Template?
        var image: Media?
        var video: Media?
        var audio: Media?
        var document: Media?
        var sticker: Media?
        var location: Location?
    }

    struct Accepted: Encodable {
        struct Contact: Encodable {
            let input: String
            let wa_id: String
        }
        struct Message: Encodable { let id: String }

        var messaging_product = "whatsapp"
        let contacts: [Contact]
        let messages: [Message]
    }

    struct ErrorBody: Encodable {
        struct Details: Encodable {
            var messaging_product = "whatsapp"
            let details: String
        }
        struct Payload: Encodable {
            let message: String
            let type: String
            let code: Int
            let error_data: Details
            let fbtrace_id: String
        }
        let error: Payload
    }
}
