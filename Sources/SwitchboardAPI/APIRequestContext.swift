public import Foundation
public import Hummingbird
import Logging
import NIOCore
import NIOFoundationCompat
import SwitchboardCore
import SwitchboardHTTP
public import SwitchboardStore

/// The per-request state of the API: Hummingbird's core storage plus the key that
/// authenticated the call (nil on the open routes: health, readiness, the document).
public struct APIRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var caller: APIKey?

    public init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
        caller = nil
    }

    public var maxUploadSize: Int { APIServer.maximumBodySize }
    public var responseEncoder: JSONEncoder { WireJSON.encoder() }
    public var requestDecoder: JSONDecoder { WireJSON.decoder() }
}

// MARK: Who may do what

extension APIRequestContext {
    /// The authenticated key; the authenticator guarantees one on `/v1` routes.
    func requireCaller() throws(Problem) -> APIKey {
        guard let caller else { throw .unauthenticated("no API key was presented") }
        return caller
    }

    /// Admin routes: 403 for a tenant key.
    func requireAdmin() throws(Problem) {
        guard try requireCaller().scope == .admin else { throw .adminOnly }
    }

    /// A route about one tenant: admins reach every tenant; a tenant key reaches its own
    /// and gets 404 for any other, so it learns nothing of other tenants.
    func requireAccess(to tenant: TenantID) throws(Problem) {
        switch try requireCaller().scope {
        case .admin: return
        case .tenant(let own) where own == tenant: return
        case .tenant: throw .notFound("tenant \(tenant)")
        }
    }

    /// The tenant a tenant key speaks for, or the one an admin names (`tenant` query or
    /// body field). 404 when a tenant key names another tenant.
    func actingTenant(named name: String?) throws(Problem) -> TenantID {
        switch try requireCaller().scope {
        case .tenant(let own):
            if let name, name != own.rawValue { throw .notFound("tenant \(name)") }
            return own
        case .admin:
            guard let name else { throw .validation(field: "tenant", "an admin key must name the tenant") }
            return try parse(name, as: TenantID.self, field: "tenant")
        }
    }
}

/// Reads an id from a path or a field; a malformed one is a 404 in a path (no such
/// thing can exist) and a 422 in a body.
func parse<ID: SlugIdentifier>(_ text: String, as type: ID.Type, field: String) throws(Problem) -> ID {
    do { return try ID(validating: text) } catch {
        throw .validation(field: field, "'\(text)' is not a valid id (1–63 of a-z, 0-9 and '-')")
    }
}

extension Parameters {
    /// A path id; a malformed one cannot name anything, so it is a 404.
    func id<ID: SlugIdentifier>(_ name: String, as type: ID.Type, what: String) throws(Problem) -> ID {
        guard let text = self.get(name), let id = try? ID(validating: text) else {
            throw .notFound("\(what) \(self.get(name) ?? "")")
        }
        return id
    }
}

extension Request {
    /// A boolean query parameter: absent is false; `true` or `false` once, else 422 (a
    /// mistyped `force=yes` must not quietly mean false).
    func flag(_ name: String) throws(Problem) -> Bool {
        let values = uri.queryParameters.getAll(name)
        guard let value = values.first else { return false }
        guard values.count == 1, value == "true" || value == "false" else {
            throw .validation(field: name, "must be true or false, once")
        }
        return value == "true"
    }
}

// MARK: Request bodies

extension Request {
    /// Collects at most `limit` bytes of a JSON body and decodes it: 415 for another
    /// content type, 413 past the limit, 400 for malformed JSON or wrong types.
    mutating func decodeJSON<T: Decodable>(_ type: T.Type, limit: Int) async throws(Problem) -> T {
        let data = try await jsonBody(limit: limit)
        return try decodeJSONValue(type, from: data)
    }

    /// The raw JSON body, at most `limit` bytes.
    mutating func jsonBody(limit: Int) async throws(Problem) -> Data {
        if let contentType = headers[.contentType]?.lowercased(),
           !(contentType.hasPrefix("application/json") || contentType.contains("+json"))
        {
            throw .unsupportedMediaType
        }
        do {
            let buffer = try await body.collect(upTo: limit)
            return Data(buffer: buffer)
        } catch is NIOTooManyBytesError {
            throw .bodyTooLarge(limit: limit)
        } catch {
            throw .malformedBody("the body could not be read: \(error)")
        }
    }
}

func decodeJSONValue<T: Decodable>(_ type: T.Type, from data: Data) throws(Problem) -> T {
    do {
        return try WireJSON.sharedDecoder.decode(type, from: data)
    } catch let error as DecodingError {
        throw .malformedBody(describe(error))
    } catch let problem as Problem {
        throw problem
    } catch {
        throw .malformedBody("\(error)")
    }
}

/// A decoding error in a caller's terms: where (a JSON path) and what.
func describe(_ error: DecodingError) -> String {
    func path(_ codingPath: [any CodingKey]) -> String {
        let text = codingPath.map { key in key.intValue.map { "[\($0)]" } ?? ".\(key.stringValue)" }.joined()
        return text.isEmpty ? "the body" : String(text.drop(while: { $0 == "." }))
    }
    switch error {
    case .typeMismatch(let type, let context):
        return "\(path(context.codingPath)): expected \(jsonName(of: type))"
    case .valueNotFound(let type, let context):
        return "\(path(context.codingPath)): expected \(jsonName(of: type)), found null"
    case .keyNotFound(let key, let context):
        return "\(path(context.codingPath + [key])): is required"
    case .dataCorrupted(let context):
        if context.codingPath.isEmpty { return "the body is not valid JSON" }
        return "\(path(context.codingPath)): \(context.debugDescription)"
    @unknown default:
        return "\(error)"
    }
}

private func jsonName(of type: Any.Type) -> String {
    switch type {
    case is String.Type: "a string"
    case is Bool.Type: "a boolean"
    case is Int.Type, is Int64.Type, is Double.Type: "a number"
    case is [Any].Type: "an array"
    default: "an object"
    }
}
