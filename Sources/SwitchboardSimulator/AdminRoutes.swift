import Foundation
import Hummingbird
import SwitchboardCore

/// The `/_sim` routes: sessions, behaviour, the record, counters and inbound messages.
/// No authentication: the simulator listens on loopback unless told otherwise.
struct AdminRoutes: Sendable {
    let state: SimulatorState

    func addRoutes(to router: Router<SimulatorRequestContext>) {
        let admin = router.group("_sim")
        admin.get("sessions") { _, _ in
            jsonResponse(.ok, SessionList(sessions: state.sessions().map {
                ListedSession(session: $0, status: state.status(session: $0.id) ?? "connected")
            }))
        }
        admin.put("sessions/:id") { request, context in
            let id = context.parameters.get("id") ?? ""
            var request = request
            return await answer { () throws(AdminError) in
                let session = try await decode(&request, SimulatedSession.self,
                                               userInfo: [SimulatedSession.pathIDKey: id])
                guard session.id == id else {
                    throw .invalid("id: the body names '\(session.id)', the path '\(id)'")
                }
                try simulator { () throws(SimulatorError) in try state.register(session) }
                return jsonResponse(.ok, session)
            }
        }
        admin.delete("sessions/:id") { _, context in
            let id = context.parameters.get("id") ?? ""
            guard state.remove(session: id) else { return Self.failure(.notFound, "no session '\(id)'") }
            return Response(status: .noContent)
        }
        admin.put("sessions/:id/status") { request, context in
            let id = context.parameters.get("id") ?? ""
            var request = request
            return await answer { () throws(AdminError) in
                let body = try await decode(&request, StatusBody.self)
                try simulator { () throws(SimulatorError) in try state.setStatus(body.status, session: id) }
                return jsonResponse(.ok, body)
            }
        }
        admin.post("sessions/:id/scan") { _, context in
            let id = context.parameters.get("id") ?? ""
            return await answer { () throws(AdminError) in
                try simulator { () throws(SimulatorError) in try state.scan(session: id) }
                return Response(status: .noContent)
            }
        }
        admin.put("sessions/:id/behaviour") { request, context in
            let id = context.parameters.get("id") ?? ""
            var request = request
            return await answer { () throws(AdminError) in
                let behaviour = try await decode(&request, SimulatorBehaviour.self)
                try simulator { () throws(SimulatorError) in try state.configure(behaviour, session: id) }
                return jsonResponse(.ok, behaviour)
            }
        }
        admin.delete("sessions/:id/behaviour") { _, context in
            let id = context.parameters.get("id") ?? ""
            return await answer { () throws(AdminError) in
                try simulator { () throws(SimulatorError) in try state.configure(nil, session: id) }
                return Response(status: .noContent)
            }
        }
        admin.get("behaviour") { _, _ in jsonResponse(.ok, state.defaults) }
        admin.put("behaviour") { request, _ in
            var request = request
            return await answer { () throws(AdminError) in
                let behaviour = try await decode(&request, SimulatorBehaviour.self)
                try simulator { () throws(SimulatorError) in try state.configure(behaviour) }
                return jsonResponse(.ok, behaviour)
            }
        }
        admin.get("messages") { request, _ in
            let query = request.uri.queryParameters
            var since: Date?
            if let text = query.get("since") {
                guard let date = WireJSON.parseDate(text) else {
                    return Self.failure(.badRequest, "since: '\(text)' is not an RFC 3339 date-time")
                }
                since = date
            }
            return jsonResponse(.ok, MessageList(messages: state.messages(session: query.get("session"), since: since)))
        }
        admin.delete("messages") { _, _ in
            state.reset()
            return Response(status: .noContent)
        }
        admin.get("stats") { _, _ in jsonResponse(.ok, state.stats()) }
        admin.post("inbound") { request, _ in
            var request = request
            return await answer { () throws(AdminError) in
                let body = try await decode(&request, InboundBody.self)
                let id = try simulator { () throws(SimulatorError) in
                    try state.inbound(session: body.session, from: body.from, text: body.text, name: body.name)
                }
                return jsonResponse(.ok, ["id": id])
            }
        }
    }

    // MARK: Errors

    /// Why an admin request failed, and the status that says so.
    enum AdminError: Error {
        case body(BodyError)
        case simulator(SimulatorError)
        case invalid(String)
    }

    /// Runs a route body and turns its typed error into an answer.
    private func answer(_ body: () async throws(AdminError) -> Response) async -> Response {
        do {
            return try await body()
        } catch {
            switch error {
            case .body(.tooLarge): return Self.failure(.contentTooLarge, "the body is too large")
            case .body(.unreadable(let detail)): return Self.failure(.badRequest, detail)
            case .body(.malformed(let detail)): return Self.failure(.badRequest, detail)
            case .simulator(.unknownSession(let id)): return Self.failure(.notFound, "no session '\(id)'")
            case .simulator(.conflict(let detail)): return Self.failure(.conflict, detail)
            case .simulator(.invalid(let detail)), .invalid(let detail):
                return Self.failure(.unprocessableContent, detail)
            }
        }
    }

    /// A state call, its error in the admin routes' terms.
    private func simulator<T>(_ body: () throws(SimulatorError) -> T) throws(AdminError) -> T {
        do { return try body() } catch { throw .simulator(error) }
    }

    private func decode<T: Decodable>(_ request: inout Request, _ type: T.Type,
                                      userInfo: [CodingUserInfoKey: any Sendable] = [:])
        async throws(AdminError) -> T
    {
        do { return try await request.decode(type, userInfo: userInfo) } catch { throw .body(error) }
    }

    static func failure(_ status: HTTPResponse.Status, _ message: String) -> Response {
        jsonResponse(status, ["error": message])
    }

    // MARK: Bodies

    struct StatusBody: Codable {
        let status: String
    }

    struct InboundBody: Decodable {
        let session: String
        let from: String
        let text: String
        /// The contact's profile name, if the webhook should carry one.
        var name: String?
    }

    struct SessionList: Encodable {
        let sessions: [ListedSession]
    }

    /// A session with its connection state beside its own fields.
    struct ListedSession: Encodable {
        let session: SimulatedSession
        let status: String

        enum CodingKeys: String, CodingKey { case status }

        func encode(to encoder: any Encoder) throws {
            // Both write into the same JSON object: the session's keys, then `status`.
            try session.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(status, forKey: .status)
        }
    }

    struct MessageList: Encodable {
        let messages: [SimulatedMessage]
    }
}
