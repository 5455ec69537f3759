import Foundation
public import HTTPTypes
public import Hummingbird
import Logging
import NIOCore
public import SwitchboardCore

/// An error as RFC 9457 problem details (`application/problem+json`): what every
/// failed call to a Switchboard HTTP service answers, with a stable `type` per kind of problem.
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

    /// The kind of problem, the last part of `type` (`validation`, `backlog-full`): a
    /// bounded label for metrics.
    public var kind: String { String(type.dropFirst(Self.typePrefix.count)) }
    private static let typePrefix = "urn:switchboard:problem:"

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let data = (try? WireJSON.encoder(sortedKeys: true).encode(self)) ?? Data()
        var headers = headers
        headers[.contentType] = Self.contentType
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(data: data)))
    }
}

/// The problem document, also as one item's outcome inside a larger answer (a batch).
extension Problem: Encodable {
    public func encode(to encoder: any Encoder) throws {
        var body: [String: ProblemValue] = [
            "type": .string(type), "title": .string(title), "status": .int(status.code),
        ]
        if let detail { body["detail"] = .string(detail) }
        if let errors { body["errors"] = .errors(errors) }
        for (key, value) in extensions where body[key] == nil { body[key] = .string(value) }
        try body.encode(to: encoder)
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

// MARK: The catalogue shared by every service

extension Problem {
    public static func malformedBody(_ detail: String) -> Problem {
        Problem(.badRequest, kind: "malformed-body", title: "The request body is not the JSON this route takes",
                detail: detail)
    }

    public static func notFound(_ what: String) -> Problem {
        Problem(.notFound, kind: "not-found", title: "Not found", detail: "\(what) not found")
    }

    public static func conflict(_ kind: String, _ detail: String) -> Problem {
        Problem(.conflict, kind: kind, title: "The request conflicts with the current state", detail: detail)
    }

    public static func bodyTooLarge(limit: Int) -> Problem {
        Problem(.contentTooLarge, kind: "body-too-large", title: "The request body is too large",
                detail: "this route takes at most \(limit) bytes")
    }

    public static var unsupportedMediaType: Problem {
        Problem(.unsupportedMediaType, kind: "unsupported-media-type", title: "The body must be JSON",
                detail: "send Content-Type: application/json")
    }

    public static func brokerUnavailable(_ detail: String, messageID: String? = nil) -> Problem {
        Problem(.serviceUnavailable, kind: "broker-unavailable", title: "The message broker is unreachable",
                detail: detail, extensions: messageID.map { ["message_id": $0] } ?? [:], headers: [.retryAfter: "2"])
    }

    public static func storeUnavailable(_ detail: String) -> Problem {
        Problem(.serviceUnavailable, kind: "store-unavailable", title: "The store is unavailable", detail: detail,
                headers: [.retryAfter: "2"])
    }

    public static var internalError: Problem {
        Problem(.internalServerError, kind: "internal", title: "Internal error",
                detail: "the failure is logged with this request's id")
    }
}

/// Turns every error a route or Hummingbird throws into problem details, so no caller
/// ever sees an empty or HTML error.
public struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
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
            context.logger.error("request failed", metadata: [LogKey.error: "\(String(reflecting: error))"])
            return try Problem.internalError.response(from: request, context: context)
        }
    }
}
