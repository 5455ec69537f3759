import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import SwitchboardAMQP
import SwitchboardAPI
import SwitchboardApp
import SwitchboardBroker
import SwitchboardCore
import SwitchboardRegistry
import SwitchboardStore
import Testing

/// An answer of the api service as a test reads it.
struct TestResponse: @unchecked Sendable {
    let status: Int
    let headers: HTTPHeaders
    let body: Data

    /// The body as a JSON object (empty when it is not one).
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:]
    }

    var text: String { String(decoding: body, as: UTF8.self) }
    var contentType: String { headers.first(name: "Content-Type") ?? "" }
    /// Which service answered (Hummingbird's `serverName`).
    var server: String? { headers.first(name: "Server") }
    var isProblem: Bool {
        contentType == "application/problem+json" && json["type"] is String && json["title"] is String
            && json["status"] as? Int == status
    }
}

/// The api service on a free port, over a scratch virtual host (topology applied) and a
/// scratch SQLite file, with an admin key; `restart()` brings up a new instance on the
/// same file, as a redeployed service would.
final class TestAPI: @unchecked Sendable {
    let scratch: ScratchVirtualHost
    let configuration: GatewayConfiguration
    let adminToken: String
    private(set) var running: TestGateway.Running
    private(set) var port: Int
    static let client = HTTPClient(eventLoopGroupProvider: .singleton)

    /// The store of the instance running now.
    var store: any GatewayStore { running.gateway.store }
    /// The SQLite file's path, or the PostgreSQL URL.
    var databasePath: String { configuration.database.location.setting }

    private init(scratch: ScratchVirtualHost, configuration: GatewayConfiguration, adminToken: String,
                 running: TestGateway.Running, port: Int) {
        self.scratch = scratch
        self.configuration = configuration
        self.adminToken = adminToken
        self.running = running
        self.port = port
    }

    static func with<T>(_ body: (TestAPI) async throws -> T) async throws -> T {
        try await ScratchVirtualHost.with { scratch in
            try await TestGateway.withDirectory { directory in
                // The api as `switchboard serve api` builds it, caches on as shipped.
                let configuration = try TestGateway.configuration([.api], scratch: scratch, directory: directory) {
                    $0.api = APIServer.Configuration(port: 0)
                }
                let running = try await TestGateway.Running(configuration)
                let api: TestAPI
                do {
                    let admin = try await running.gateway.store.createKey(scope: .admin, label: "test admin")
                    api = TestAPI(scratch: scratch, configuration: configuration, adminToken: admin.token,
                                  running: running, port: try await running.gateway.port(of: .api))
                } catch {
                    await running.stop()
                    throw error
                }
                do {
                    let result = try await body(api)
                    await api.stop()
                    return result
                } catch {
                    await api.stop()
                    throw error
                }
            }
        }
    }

    func stop() async {
        await running.stop()
    }

    /// Stops this instance and starts a new one on the same database file.
    func restart() async throws {
        await stop()
        running = try await TestGateway.Running(configuration)
        port = try await running.gateway.port(of: .api)
    }

    /// A request to this api instance. Every answer is checked against `openapi.yaml`
    /// (see `APIContract`); a violation is an issue of the calling test.
    func request(_ method: HTTPMethod, _ path: String, key: String? = nil, json: String? = nil,
                 body: Data? = nil, headers: [(String, String)] = [],
                 sourceLocation: SourceLocation = #_sourceLocation) async throws -> TestResponse {
        let response = try await Self.request(
            port: port, method, path, key: key, json: json, body: body, headers: headers,
            fileID: sourceLocation.fileID, filePath: sourceLocation.filePath, line: sourceLocation.line,
            column: sourceLocation.column)
        // The static funnel checks only what the api answers, recognised by its Server
        // header; here the answer is the api's for sure, so a missing header would
        // silently turn the check off for the other callers.
        if response.server != Self.serverName {
            let problem = "the api answered \(method) \(path) with Server '\(response.server ?? "none")', not "
                + "'\(Self.serverName)': TestAPI.request(port:) no longer recognises the api's answers"
            Issue.record(Comment(rawValue: problem), sourceLocation: sourceLocation)
        }
        return response
    }

    /// How the api names itself in the `Server` header (`APIServer.application`).
    static let serverName = "switchboard-api"

    /// A request to any service on `port` (the api, or the webhooks receiver of
    /// `TestInbound`). An answer of the api is checked against `openapi.yaml`; other
    /// services have no part in that document.
    static func request(port: Int, _ method: HTTPMethod, _ path: String, key: String? = nil, json: String? = nil,
                        body: Data? = nil, headers: [(String, String)] = [],
                        // Plain literals rather than `#_sourceLocation`: a default-argument
                        // macro expands at the caller, which need not import Testing.
                        fileID: String = #fileID, filePath: String = #filePath, line: Int = #line,
                        column: Int = #column) async throws -> TestResponse {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        if let key { request.headers.add(name: "Authorization", value: "Bearer \(key)") }
        var sent: Data?
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json))
            sent = Data(json.utf8)
        } else if let body {
            request.body = .bytes(ByteBuffer(data: body))
            sent = body
        }
        for (name, value) in headers { request.headers.replaceOrAdd(name: name, value: value) }
        let response = try await client.execute(request, timeout: .seconds(30))
        let collected = try await response.body.collect(upTo: 16 << 20)
        let answer = TestResponse(status: Int(response.status.code), headers: response.headers, body: Data(buffer: collected))
        if answer.server == serverName {
            APIContract.check(APIExchange(
                method: method.rawValue, target: path, requestContentType: request.headers.first(name: "Content-Type"),
                requestBody: sent, status: answer.status,
                responseContentType: answer.headers.first(name: "Content-Type"), responseBody: answer.body),
                sourceLocation: SourceLocation(fileID: fileID, filePath: filePath, line: line, column: column))
        }
        return answer
    }

    // MARK: Fixtures through the API itself

    /// Creates a tenant with a primary simulator session and a tenant key; returns the key.
    @discardableResult
    func makeTenant(_ id: String, backlogQuota: Int? = nil) async throws -> String {
        let quota = backlogQuota.map { #","backlog_quota":\#($0)"# } ?? ""
        let tenant = try await request(.POST, "/v1/tenants", key: adminToken,
                                       json: #"{"id":"\#(id)","name":"\#(id.capitalized)"\#(quota)}"#)
        guard tenant.status == 201 else { throw TestAPIError("creating tenant \(id): \(tenant.status) \(tenant.text)") }
        let session = try await request(.POST, "/v1/tenants/\(id)/sessions", key: adminToken, json: """
            {"id":"\(id)-main","provider":"simulator","phone_number":"+14155550100","status":"connected",
             "credentials":{"api_key":"\(id)-provider-token-0123456789"}}
            """)
        guard session.status == 201 else { throw TestAPIError("adding session: \(session.status) \(session.text)") }
        let key = try await request(.POST, "/v1/tenants/\(id)/keys", key: adminToken, json: #"{"label":"test"}"#)
        guard key.status == 201, let token = key.json["token"] as? String else {
            throw TestAPIError("creating key: \(key.status) \(key.text)")
        }
        return token
    }

    func depth(of tenant: String) async throws -> UInt32 {
        try await scratch.depth("sb.outbound.\(tenant)")
    }
}

struct TestAPIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
