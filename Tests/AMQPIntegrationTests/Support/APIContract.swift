import Foundation
import SwitchboardAPI
import Synchronization
import Testing
import Yams

/// A JSON value: the parsed contract and the bodies checked against it. Its own type
/// (rather than `[String: Any]`) so the parsed contract is `Sendable` and can be shared by
/// every test as one static value.
indirect enum JSONValue: Sendable, Equatable, Decodable, CustomStringConvertible {
    case null
    case bool(Bool)
    /// JSON has one number type; "integer" in a schema means a number without a fraction.
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        // Bool before Double: JSONDecoder refuses a number as a Bool and a Bool as a number.
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    /// Parses a JSON text (any value at the top, not only objects and arrays).
    init(json: Data) throws {
        self = try JSONDecoder().decode(JSONValue.self, from: json)
    }

    /// A YAML node with the types YAML's core schema resolves (what Yams and the server's
    /// JSON conversion read), so the contract is checked as the server serves it.
    init(yaml node: Node) throws {
        switch node {
        case .scalar(let scalar):
            switch Tag.Name(rawValue: node.tag.rawValue) {
            case .null: self = .null
            case .bool: self = .bool(try Self.require(node.bool, scalar))
            case .int: self = .number(Double(try Self.require(node.int, scalar)))
            case .float: self = .number(try Self.require(node.float, scalar))
            default: self = .string(scalar.string)
            }
        case .mapping(let mapping):
            var object: [String: JSONValue] = [:]
            for (key, value) in mapping {
                guard let key = key.string else { throw ContractError("a mapping key that is not a string: \(key)") }
                object[key] = try JSONValue(yaml: value)
            }
            self = .object(object)
        case .sequence(let sequence):
            self = .array(try sequence.map { try JSONValue(yaml: $0) })
        case .alias:
            throw ContractError("YAML aliases are not supported")
        }
    }

    private static func require<T>(_ value: T?, _ scalar: Node.Scalar) throws -> T {
        guard let value else { throw ContractError("'\(scalar.string)' does not convert to its tag") }
        return value
    }

    subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { object[key] } else { nil }
    }

    var string: String? { if case .string(let value) = self { value } else { nil } }
    var number: Double? { if case .number(let value) = self { value } else { nil } }
    var array: [JSONValue]? { if case .array(let value) = self { value } else { nil } }
    var object: [String: JSONValue]? { if case .object(let value) = self { value } else { nil } }

    /// The JSON Schema type names this value has ("integer" numbers are "number"s too).
    var typeNames: Set<String> {
        switch self {
        case .null: ["null"]
        case .bool: ["boolean"]
        case .number(let value): value.rounded() == value && value.isFinite ? ["number", "integer"] : ["number"]
        case .string: ["string"]
        case .array: ["array"]
        case .object: ["object"]
        }
    }

    var description: String {
        switch self {
        case .null: "null"
        case .bool(let value): "\(value)"
        case .number(let value): value.rounded() == value && abs(value) < 1e15 ? "\(Int64(value))" : "\(value)"
        case .string(let value): "\"\(value.count > 60 ? String(value.prefix(60)) + "…" : value)\""
        case .array(let value): "an array of \(value.count)"
        case .object: "an object"
        }
    }
}

struct ContractError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// One request to the api and its answer, as `TestAPI.request` saw them.
struct APIExchange: Sendable {
    var method: String
    /// The path as sent: percent-encoded, with its query.
    var target: String
    var requestContentType: String?
    var requestBody: Data?
    var status: Int
    var responseContentType: String?
    var responseBody: Data

    var route: String { "\(method) \(target.prefix(120))" }
}

/// `openapi.yaml` as a checker of exchanges: the path must match a documented path
/// template, the method an operation there, the status a documented response (or
/// `default`), the content type the response's, and a JSON body the response's schema;
/// the request of an answer in 2xx must also fit the operation's query parameters and
/// request body. A request to an undocumented route must be answered by a 404 or 405
/// problem (the API's answer to anything it does not serve) or it is reported.
///
/// The schema check covers the JSON Schema subset the document uses; `unknownKeywords`
/// lists any other keyword, and a test fails on it, so the subset cannot fall silently
/// behind the document.
struct APIContract: Sendable {
    let document: JSONValue

    /// The document the server serves (`SwitchboardAPI`'s bundled resource), parsed once
    /// for every test.
    static let api: APIContract = {
        do { return try APIContract(yaml: OpenAPIDocument.bundled.yaml) } catch {
            fatalError("openapi.yaml does not parse: \(error)")
        }
    }()

    /// Exchanges checked so far in this process (so a test can see the check ran).
    static let checked = Atomic<Int>(0)

    init(yaml: String) throws {
        guard let root = try Yams.compose(yaml: yaml) else { throw ContractError("empty document") }
        document = try JSONValue(yaml: root)
    }

    init(document: JSONValue) { self.document = document }

    // MARK: Exchanges

    /// Every way `exchange` breaks the contract; empty when it keeps it.
    func violations(of exchange: APIExchange) -> [String] {
        let (rawPath, query) = Self.split(exchange.target)
        let method = exchange.method.lowercased()
        guard let (template, item) = pathItem(matching: rawPath), let operation = item[method]?.object else {
            // Not a route of the document: the API answers that with a 404 (or 405) problem.
            guard [404, 405].contains(exchange.status) else {
                return ["\(exchange.method) \(rawPath) is not a documented operation, yet it answered \(exchange.status)"]
            }
            return responseViolations(
                exchange, responses: ["404": problemResponse, "405": problemResponse],
                where: "an undocumented route")
        }
        let operationName = "\(exchange.method) \(template)"
        var found = responseViolations(exchange, responses: operation["responses"]?.object ?? [:], where: operationName)
        if (200..<300).contains(exchange.status) {
            found += requestViolations(exchange, query: query, item: item, operation: operation, name: operationName)
        }
        return found
    }

    /// The Problem schema's response, for routes the document does not have.
    private var problemResponse: JSONValue {
        .object(["content": .object(["application/problem+json": .object([
            "schema": .object(["$ref": .string("#/components/schemas/Problem")]),
        ])])])
    }

    private func responseViolations(_ exchange: APIExchange, responses: [String: JSONValue], where name: String)
        -> [String]
    {
        let status = String(exchange.status)
        let range = "\(status.prefix(1))XX"
        guard let response = responses[status] ?? responses[range] ?? responses["default"] else {
            return ["\(name) answered \(status), which it does not document (documented: "
                + responses.keys.sorted().joined(separator: ", ") + ")"]
        }
        let content = response["content"]?.object ?? [:]
        if content.isEmpty {
            return exchange.responseBody.isEmpty
                ? [] : ["\(name) answered \(status) with a body, which it documents as empty"]
        }
        let mediaType = Self.mediaType(exchange.responseContentType)
        guard let media = content[mediaType] else {
            return ["\(name) answered \(status) as '\(exchange.responseContentType ?? "no content type")', "
                + "which it documents as " + content.keys.sorted().joined(separator: " or ")]
        }
        guard Self.isJSON(mediaType), let schema = media["schema"] else { return [] }
        return bodyViolations(exchange.responseBody, schema: schema,
                              prefix: "\(name) answered \(status) with a body that breaks its schema")
    }

    private func requestViolations(_ exchange: APIExchange, query: [String], item: [String: JSONValue],
                                   operation: [String: JSONValue], name: String) -> [String]
    {
        var found: [String] = []
        let parameters = (item["parameters"]?.array ?? []) + (operation["parameters"]?.array ?? [])
        let documentedQuery = Set(parameters.compactMap { $0["in"]?.string == "query" ? $0["name"]?.string : nil })
        for parameter in query where !documentedQuery.contains(parameter) {
            found.append("\(name) accepted the query parameter '\(parameter)', which it does not document")
        }
        let body = exchange.requestBody ?? Data()
        guard let requestBody = operation["requestBody"] else {
            if !body.isEmpty { found.append("\(name) accepted a request body it does not document") }
            return found
        }
        if body.isEmpty {
            if case .bool(true) = requestBody["required"] { found.append("\(name) accepted a request without its required body") }
            return found
        }
        let content = requestBody["content"]?.object ?? [:]
        let mediaType = Self.mediaType(exchange.requestContentType)
        guard let media = content[mediaType] else {
            found.append("\(name) accepted a '\(exchange.requestContentType ?? "no content type")' body, "
                + "which it documents as " + content.keys.sorted().joined(separator: " or "))
            return found
        }
        if Self.isJSON(mediaType), let schema = media["schema"] {
            found += bodyViolations(body, schema: schema, prefix: "\(name) accepted a request body that breaks its schema")
        }
        return found
    }

    private func bodyViolations(_ body: Data, schema: JSONValue, prefix: String) -> [String] {
        let value: JSONValue
        do { value = try JSONValue(json: body) } catch {
            return ["\(prefix): it is not JSON (\(String(decoding: body.prefix(200), as: UTF8.self)))"]
        }
        var errors: [String] = []
        validate(value, against: schema, at: "$", errors: &errors)
        return errors.map { "\(prefix): \($0)" }
    }

    /// The documented path template `path` fills, literal segments winning over
    /// parameters (`/v1/messages/batch` over `/v1/messages/{id}`).
    func pathItem(matching path: String) -> (String, [String: JSONValue])? {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        var best: (score: Int, template: String, item: [String: JSONValue])?
        for (template, item) in document["paths"]?.object ?? [:] {
            let parts = template.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
            guard parts.count == segments.count, let item = item.object else { continue }
            var literals = 0
            let fits = zip(parts, segments).allSatisfy { part, segment in
                if part.hasPrefix("{") && part.hasSuffix("}") { return !segment.isEmpty }
                literals += 1
                return part == segment
            }
            if fits, literals > best?.score ?? -1 { best = (literals, template, item) }
        }
        return best.map { ($0.template, $0.item) }
    }

    private static func split(_ target: String) -> (path: String, query: [String]) {
        guard let mark = target.firstIndex(of: "?") else { return (target, []) }
        let names = target[target.index(after: mark)...].split(separator: "&").map {
            String($0.prefix(while: { $0 != "=" })).removingPercentEncoding ?? String($0)
        }
        return (String(target[..<mark]), names)
    }

    private static func mediaType(_ contentType: String?) -> String {
        (contentType ?? "").split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
    }

    private static func isJSON(_ mediaType: String) -> Bool {
        mediaType == "application/json" || mediaType.hasSuffix("+json")
    }

    // MARK: JSON Schema (the subset the document uses)

    /// Keywords the validator checks, and annotations it may ignore.
    static let checkedKeywords: Set<String> = [
        "$ref", "type", "nullable", "enum", "const", "properties", "required", "additionalProperties", "items",
        "minItems", "maxItems", "minLength", "maxLength", "pattern", "minimum", "maximum", "exclusiveMinimum",
        "exclusiveMaximum", "allOf", "anyOf", "oneOf", "not",
    ]
    static let annotations: Set<String> = [
        "description", "title", "default", "examples", "example", "format", "readOnly", "writeOnly", "deprecated",
    ]

    /// Keywords used in the document's schemas that the validator does not know.
    func unknownKeywords() -> Set<String> {
        var unknown: Set<String> = []
        func visit(schema: JSONValue) {
            guard let object = schema.object else { return }
            for (keyword, value) in object {
                switch keyword {
                case "properties":
                    value.object?.values.forEach(visit(schema:))
                case "items", "additionalProperties", "not":
                    visit(schema: value)
                case "allOf", "anyOf", "oneOf":
                    value.array?.forEach(visit(schema:))
                default:
                    if !Self.checkedKeywords.contains(keyword) && !Self.annotations.contains(keyword) {
                        unknown.insert(keyword)
                    }
                }
            }
        }
        document["components"]?["schemas"]?.object?.values.forEach(visit(schema:))
        for item in (document["paths"]?.object ?? [:]).values {
            for operation in (item.object ?? [:]).values {
                for response in (operation["responses"]?.object ?? [:]).values {
                    response["content"]?.object?.values.forEach { if let schema = $0["schema"] { visit(schema: schema) } }
                }
                operation["requestBody"]?["content"]?.object?.values.forEach {
                    if let schema = $0["schema"] { visit(schema: schema) }
                }
                for parameter in operation["parameters"]?.array ?? [] {
                    if let schema = parameter["schema"] { visit(schema: schema) }
                }
            }
        }
        return unknown
    }

    /// Resolves a local reference (`#/components/schemas/Problem`) as a JSON pointer.
    func resolve(_ reference: String) -> JSONValue? {
        guard reference.hasPrefix("#") else { return nil }
        var node = document
        for token in reference.dropFirst().split(separator: "/") {
            let key = token.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            if let index = Int(key), let array = node.array, array.indices.contains(index) {
                node = array[index]
            } else if let next = node[key] {
                node = next
            } else {
                return nil
            }
        }
        return node
    }

    /// Appends to `errors` every way `value` (at the JSON path `path`) breaks `schema`.
    func validate(_ value: JSONValue, against schema: JSONValue, at path: String, errors: inout [String],
                  depth: Int = 0)
    {
        if case .bool(let allowed) = schema {
            if !allowed { errors.append("\(path): nothing is allowed here") }
            return
        }
        guard let schema = schema.object else { return }
        // A chain of references deeper than this is a cycle the data cannot end.
        guard depth < 64 else { errors.append("\(path): the schema's references do not end"); return }
        if let reference = schema["$ref"]?.string {
            guard let target = resolve(reference) else {
                errors.append("\(path): the reference \(reference) resolves to nothing")
                return
            }
            validate(value, against: target, at: path, errors: &errors, depth: depth + 1)
        }
        if let type = schema["type"] {
            var allowed = Set(type.array?.compactMap(\.string) ?? type.string.map { [$0] } ?? [])
            if case .bool(true) = schema["nullable"] { allowed.insert("null") }
            guard !allowed.isDisjoint(with: value.typeNames) else {
                errors.append("\(path): expected \(allowed.sorted().joined(separator: " or ")), found \(value)")
                return  // the keywords below speak of the type it should have been
            }
        }
        if let options = schema["enum"]?.array, !options.contains(value) {
            errors.append("\(path): \(value) is not one of \(options.map(\.description).joined(separator: ", "))")
        }
        if let constant = schema["const"], constant != value {
            errors.append("\(path): expected \(constant), found \(value)")
        }
        switch value {
        case .string(let text):
            let length = text.unicodeScalars.count  // JSON Schema counts code points
            if let minimum = schema["minLength"]?.number, Double(length) < minimum {
                errors.append("\(path): \(length) characters, fewer than \(Int(minimum))")
            }
            if let maximum = schema["maxLength"]?.number, Double(length) > maximum {
                errors.append("\(path): \(length) characters, more than \(Int(maximum))")
            }
            if let pattern = schema["pattern"]?.string {
                if let regex = try? NSRegularExpression(pattern: pattern) {
                    let range = NSRange(text.startIndex..., in: text)
                    if regex.firstMatch(in: text, range: range) == nil {
                        errors.append("\(path): \(value) does not match \(pattern)")
                    }
                } else {
                    errors.append("\(path): the schema's pattern \(pattern) does not compile")
                }
            }
        case .number(let number):
            if let minimum = schema["minimum"]?.number, number < minimum {
                errors.append("\(path): \(value) is less than \(minimum)")
            }
            if let maximum = schema["maximum"]?.number, number > maximum {
                errors.append("\(path): \(value) is more than \(maximum)")
            }
            if let bound = schema["exclusiveMinimum"]?.number, number <= bound {
                errors.append("\(path): \(value) is not more than \(bound)")
            }
            if let bound = schema["exclusiveMaximum"]?.number, number >= bound {
                errors.append("\(path): \(value) is not less than \(bound)")
            }
        case .array(let elements):
            if let minimum = schema["minItems"]?.number, Double(elements.count) < minimum {
                errors.append("\(path): \(elements.count) items, fewer than \(Int(minimum))")
            }
            if let maximum = schema["maxItems"]?.number, Double(elements.count) > maximum {
                errors.append("\(path): \(elements.count) items, more than \(Int(maximum))")
            }
            if let items = schema["items"] {
                for (index, element) in elements.enumerated() {
                    validate(element, against: items, at: "\(path)[\(index)]", errors: &errors, depth: depth)
                }
            }
        case .object(let members):
            for name in schema["required"]?.array?.compactMap(\.string) ?? [] where members[name] == nil {
                errors.append("\(path).\(name): is required but missing")
            }
            let properties = schema["properties"]?.object ?? [:]
            for (name, member) in members.sorted(by: { $0.key < $1.key }) {
                if let property = properties[name] {
                    validate(member, against: property, at: "\(path).\(name)", errors: &errors, depth: depth)
                } else if let additional = schema["additionalProperties"] {
                    validate(member, against: additional, at: "\(path).\(name)", errors: &errors, depth: depth)
                }
            }
        case .null, .bool:
            break
        }
        if let all = schema["allOf"]?.array {
            for part in all { validate(value, against: part, at: path, errors: &errors, depth: depth + 1) }
        }
        if let any = schema["anyOf"]?.array {
            let failures = any.map { option in
                var found: [String] = []
                validate(value, against: option, at: path, errors: &found, depth: depth + 1)
                return found
            }
            if !failures.contains(where: \.isEmpty) {
                errors.append("\(path): matches none of anyOf (" + failures.map { $0.first ?? "" }.joined(separator: "; ") + ")")
            }
        }
        if let one = schema["oneOf"]?.array {
            let failures = one.map { option in
                var found: [String] = []
                validate(value, against: option, at: path, errors: &found, depth: depth + 1)
                return found
            }
            let matches = failures.filter(\.isEmpty).count
            if matches != 1 {
                errors.append("\(path): matches \(matches) of oneOf, not exactly one"
                    + (matches == 0 ? " (" + failures.map { $0.first ?? "" }.joined(separator: "; ") + ")" : ""))
            }
        }
        if let not = schema["not"] {
            var found: [String] = []
            validate(value, against: not, at: path, errors: &found, depth: depth + 1)
            if found.isEmpty { errors.append("\(path): matches the schema it must not") }
        }
    }

    // MARK: Checking live traffic

    /// Checks one exchange against the api's document and records each violation as an
    /// issue of the running test, naming the route and the status.
    static func check(_ exchange: APIExchange, sourceLocation: SourceLocation = #_sourceLocation) {
        checked.add(1, ordering: .relaxed)
        for violation in api.violations(of: exchange) {
            Issue.record("openapi.yaml contract: \(violation) [\(exchange.route) → \(exchange.status)]",
                         sourceLocation: sourceLocation)
        }
    }
}
