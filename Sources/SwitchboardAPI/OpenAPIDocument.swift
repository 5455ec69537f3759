import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Yams

/// The API's contract: `openapi.yaml`, a resource of this module and the source the
/// handlers are checked against (the contract test validates every request and answer of
/// the API tests with it). `GET /openapi.yaml` serves it as committed, `GET /openapi.json`
/// as JSON.
public struct OpenAPIDocument: Sendable {
    /// The document as committed.
    public let yaml: String
    /// The same document as JSON, its keys in the YAML's order.
    public let json: String

    /// Reads and converts the bundled `openapi.yaml`.
    ///
    /// Loaded once per process, on the first router built, so a document that does not
    /// parse stops the api at start rather than on its first request. A missing or broken
    /// resource is a build defect, not a runtime condition, hence the trap.
    public static let bundled: OpenAPIDocument = {
        do {
            return try OpenAPIDocument(yaml: bundledYAML())
        } catch {
            fatalError("the bundled openapi.yaml is unusable: \(error)")
        }
    }()

    /// Parses `yaml` and converts it to JSON.
    public init(yaml: String) throws {
        guard let root = try Yams.compose(yaml: yaml) else { throw OpenAPIDocumentError("openapi.yaml is empty") }
        var json = ""
        try Self.writeJSON(root, to: &json, indent: "")
        self.yaml = yaml
        self.json = json + "\n"
    }

    /// The resource's text. `Bundle.module` finds the copied resource bundle next to the
    /// executable (`.build/release/switchboard`, the test runner) or at its build path.
    static func bundledYAML() throws -> String {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml") else {
            throw OpenAPIDocumentError("openapi.yaml is not in the SwitchboardAPI resource bundle")
        }
        return try String(contentsOf: url, encoding: .utf8)
    }

    // MARK: YAML → JSON

    /// Writes `node` as pretty-printed JSON. Written by hand rather than through
    /// `JSONSerialization` so that keys keep the document's order (`openapi`, `info`,
    /// `paths` first, operations as written) and scalars keep their YAML types.
    private static func writeJSON(_ node: Node, to out: inout String, indent: String) throws {
        let inner = indent + "  "
        switch node {
        case .scalar(let scalar):
            try out += jsonScalar(node, scalar)
        case .mapping(let mapping):
            guard !mapping.isEmpty else { out += "{}"; return }
            out += "{\n"
            for (index, pair) in mapping.enumerated() {
                guard let key = pair.key.string else {
                    throw OpenAPIDocumentError("a mapping key that is not a string at \(pair.key.mark.map(String.init(describing:)) ?? "?")")
                }
                out += inner + quoted(key) + ": "
                try writeJSON(pair.value, to: &out, indent: inner)
                out += index == mapping.count - 1 ? "\n" : ",\n"
            }
            out += indent + "}"
        case .sequence(let sequence):
            guard !sequence.isEmpty else { out += "[]"; return }
            out += "[\n"
            for (index, element) in sequence.enumerated() {
                out += inner
                try writeJSON(element, to: &out, indent: inner)
                out += index == sequence.count - 1 ? "\n" : ",\n"
            }
            out += indent + "]"
        case .alias:
            // `compose` resolves aliases; a document relying on them is not plain JSON data.
            throw OpenAPIDocumentError("YAML aliases are not supported in openapi.yaml")
        }
    }

    private static func jsonScalar(_ node: Node, _ scalar: Node.Scalar) throws -> String {
        switch Tag.Name(rawValue: node.tag.rawValue) {
        case .null:
            return "null"
        case .bool:
            guard let value = node.bool else { break }
            return value ? "true" : "false"
        case .int:
            guard let value = node.int else { break }
            return String(value)
        case .float:
            // JSON has no infinities or NaN; `.5` and `1e3` spellings are normalized.
            guard let value = node.float, value.isFinite else { break }
            return value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
        default:
            // Strings, and anything else the resolver tags (timestamps), stay text.
            return quoted(scalar.string)
        }
        throw OpenAPIDocumentError("\(scalar.string) is not a JSON value")
    }

    private static func quoted(_ string: String) -> String {
        var out = "\""
        for unit in string.unicodeScalars {
            switch unit {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where unit.value < 0x20: out += String(format: "\\u%04x", unit.value)
            default: out.unicodeScalars.append(unit)
            }
        }
        return out + "\""
    }
}

/// Why `openapi.yaml` could not be read or converted.
public struct OpenAPIDocumentError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

extension OpenAPIDocument {
    /// `GET /openapi.yaml` and `GET /openapi.json`.
    func addRoutes(to router: Router<APIRequestContext>) {
        let yaml = ByteBuffer(string: yaml)
        let json = ByteBuffer(string: json)
        router.get("openapi.yaml") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/yaml"], body: ResponseBody(byteBuffer: yaml))
        }
        router.get("openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: json))
        }
    }
}
