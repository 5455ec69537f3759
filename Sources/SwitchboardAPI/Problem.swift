import Foundation
public import HTTPTypes
public import Hummingbird
import Logging
import NIOCore
public import SwitchboardCore
import SwitchboardStore

/// An error as RFC 9457 problem details (`application/problem+json`): what every
/// failed API call answers, with a stable `type` per kind of problem.
public struct Problem: Error, HTTPResponseError, Sendable {
    public let status: HTTPResponse.Status
    /// A URN naming the kind of problem, e.g. `urn:switchboard:problem:validation`.
    public let type: String
    public let title: String
    public let detail: String?
    /// Per-field problems of a request body (JSON paths).
    public var errors: [EnvelopeProblem]?
    /// Extension members, e.g. the `message_id` whose publish is unconfirmed.
    public var extensions: [String: String]
    public var headers: HTTPFields

    public init(_ status: HTTPResponse.Status, kind: String, title: String, detail: String? = nil,
                errors: [EnvelopeProblem]? = nil, extensions: [String: String] = [:], headers: HTTPFields = [:]) {
        self.status = status
        self.type = "urn:switchboard:problem:\(kind)"
        self.title = title
        self.detail = detail
        self.errors = errors
        self.extensions = extensions
        self.headers = headers
    }

    public static let contentType = "application/problem+json"

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var body: [String: ProblemValue] = [
            "type": .string(type), "title": .string(title), "status": .int(status.code),
        ]
        if let detail { body["detail"] = .string(detail) }
        if let errors { body["errors"] = .errors(errors) }
        for (key, value) in extensions where body[key] == nil { body[key] = .string(value) }
        let data = (try? WireJSON.encoder(sortedKeys: true).encode(body)) ?? Data()
        var headers = headers
        headers[.contentType] = Self.contentType
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(data: data)))
    }
}

private enum ProblemValue: Encodable {
    case string(String), int(Int), errors([EnvelopeProblem])

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .errors(let value): try container.encode(value)
        }
    }
}

// MARK: The catalogue

extension Problem {
    static func malformedBody(_ detail: String) -> Problem {
        Problem(.badRequest, kind: "malformed-body", title: "The request body is not the JSON this route takes",
                detail: detail)
    }

    static func validation(_ errors: [EnvelopeProblem]) -> Problem {
        Problem(.unprocessableContent, kind: "validation", title: "The request breaks the rules of its fields",
                detail: errors.map(\.description).joined(separator: "; "), errors: errors)
    }

    static func validation(field: String, _ detail: String) -> Problem {
        validation([EnvelopeProblem(field: field, detail: detail)])
    }

    static func unauthenticated(_ detail: String) -> Problem {
        Problem(.unauthorized, kind: "unauthenticated", title: "An API key is required", detail: detail,
                headers: [.wwwAuthenticate: #"Bearer realm="switchboard""#])
    }

    static var adminOnly: Problem {
        Problem(.forbidden, kind: "admin-only", title: "This route needs an admin key",
                detail: "tenant keys reach their own tenant's sessions, keys and messages only")
    }

    static func notFound(_ what: String) -> Problem {
        Problem(.notFound, kind: "not-found", title: "Not found", detail: "\(what) not found")
    }

    static func conflict(_ kind: String, _ detail: String) -> Problem {
        Problem(.conflict, kind: kind, title: "The request conflicts with the current state", detail: detail)
    }

    static func bodyTooLarge(limit: Int) -> Problem {
        Problem(.contentTooLarge, kind: "body-too-large", title: "The request body is too large",
                detail: "this route takes at most \(limit) bytes")
    }

    static var unsupportedMediaType: Problem {
        Problem(.unsupportedMediaType, kind: "unsupported-media-type", title: "The body must be JSON",
                detail: "send Content-Type: application/json")
    }

    static func backlogFull(_ tenant: TenantID) -> Problem {
        Problem(.tooManyRequests, kind: "backlog-full", title: "The tenant's queue is at its backlog quota",
                detail: "the broker refused the message for tenant \(tenant); retry after the backlog drains",
                headers: [.retryAfter: "5"])
    }

    static func brokerUnavailable(_ detail: String, messageID: String? = nil) -> Problem {
        Problem(.serviceUnavailable, kind: "broker-unavailable", title: "The message broker is unreachable",
                detail: detail, extensions: messageID.map { ["message_id": $0] } ?? [:], headers: [.retryAfter: "2"])
    }

    static func storeUnavailable(_ detail: String) -> Problem {
        Problem(.serviceUnavailable, kind: "store-unavailable", title: "The store is unavailable", detail: detail,
                headers: [.retryAfter: "2"])
    }

    static var internalError: Problem {
        Problem(.internalServerError, kind: "internal", title: "Internal error",
                detail: "the failure is logged with this request's id")
    }
}

extension Problem {
    /// A store failure as the caller sees it.
    init(_ error: StoreError) {
        switch error {
        case .notFound(let what): self = .notFound(what)
        case .conflict(let what): self = .conflict("exists", "\(what) already exists")
        case .invalid(let error): self = .validation(field: error.field, error.reason)
        case .secrets, .database: self = .storeUnavailable("\(error)")
        }
    }
}

/// Runs a store operation, turning its failure into problem details.
func storeCall<T>(_ body: () async throws(StoreError) -> T) async throws(Problem) -> T {
    do { return try await body() } catch { throw Problem(error) }
}

/// Turns every error a route or Hummingbird throws into problem details, so no caller
/// ever sees an empty or HTML error.
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        do {
            return try await next(request, context)
        } catch let problem as Problem {
            return try problem.response(from: request, context: context)
        } catch let error as HTTPError {
            let problem = switch error.status {
            case .notFound: Problem.notFound("\(request.method) \(request.uri.path)")
            default: Problem(error.status, kind: "http", title: error.status.reasonPhrase, detail: error.body)
            }
            return try problem.response(from: request, context: context)
        } catch let error as any HTTPResponseError {
            return try Problem(error.status, kind: "http", title: error.status.reasonPhrase)
                .response(from: request, context: context)
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(String(reflecting: error))"])
            return try Problem.internalError.response(from: request, context: context)
        }
    }
}
