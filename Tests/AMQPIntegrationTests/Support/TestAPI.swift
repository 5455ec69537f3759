import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import SwitchboardAMQP
import SwitchboardAPI
import SwitchboardBroker
import SwitchboardCore
import SwitchboardRegistry
import SwitchboardStore

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
    let databasePath: String
    let masterKey: SymmetricKey
    let adminToken: String
    private(set) var store: SQLiteStore
    private(set) var server: EmbeddedAPIServer
    private(set) var publisher: AMQPConnection
    static let client = HTTPClient(eventLoopGroupProvider: .singleton)

    private init(scratch: ScratchVirtualHost, databasePath: String, masterKey: SymmetricKey, adminToken: String,
                 store: SQLiteStore, server: EmbeddedAPIServer, publisher: AMQPConnection) {
        self.scratch = scratch
        self.databasePath = databasePath
        self.masterKey = masterKey
        self.adminToken = adminToken
        self.store = store
        self.server = server
        self.publisher = publisher
    }

    static func with<T>(_ body: (TestAPI) async throws -> T) async throws -> T {
        try await ScratchVirtualHost.with { scratch in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sbapi-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = directory.appendingPathComponent("switchboard.sqlite").path
            let masterKey = SymmetricKey(size: .bits256)
            let store = try SQLiteStore(path: path, secretBox: try SecretBox(masterKey: masterKey), logger: TestBroker.logger)
            let admin = try await store.createKey(scope: .admin, label: "test admin")
            let (server, publisher) = try await startServer(scratch: scratch, store: store)
            let api = TestAPI(scratch: scratch, databasePath: path, masterKey: masterKey, adminToken: admin.token,
                              store: store, server: server, publisher: publisher)
            do {
                let result = try await body(api)
                try await api.stop()
                return result
            } catch {
                try? await api.stop()
                throw error
            }
        }
    }

    private static func startServer(scratch: ScratchVirtualHost, store: SQLiteStore)
        async throws -> (EmbeddedAPIServer, AMQPConnection)
    {
        var configuration = try TestBroker.configuration("test-api")
        configuration.virtualHost = scratch.name
        let publisher = try await AMQPConnection.connect(configuration, logger: TestBroker.logger)
        let registry = TenantRegistry(store: store, broker: scratch.applier, logger: TestBroker.logger)
        let server = try await EmbeddedAPIServer.start(
            APIServer.Configuration(port: 0), APIServer.Dependencies(store: store, registry: registry, publisher: publisher),
            logger: TestBroker.logger)
        return (server, publisher)
    }

    func stop() async throws {
        try await server.stop()
        await publisher.close()
    }

    /// Stops this instance and starts a new one on the same database file.
    func restart() async throws {
        try await stop()
        store = try SQLiteStore(path: databasePath, secretBox: try SecretBox(masterKey: masterKey), logger: TestBroker.logger)
        (server, publisher) = try await Self.startServer(scratch: scratch, store: store)
    }

    func request(_ method: HTTPMethod, _ path: String, key: String? = nil, json: String? = nil,
                 body: Data? = nil, headers: [(String, String)] = []) async throws -> TestResponse {
        try await Self.request(port: server.port, method, path, key: key, json: json, body: body, headers: headers)
    }

    static func request(port: Int, _ method: HTTPMethod, _ path: String, key: String? = nil, json: String? = nil,
                        body: Data? = nil, headers: [(String, String)] = []) async throws -> TestResponse {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        if let key { request.headers.add(name: "Authorization", value: "Bearer \(key)") }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json))
        } else if let body {
            request.body = .bytes(ByteBuffer(data: body))
        }
        for (name, value) in headers { request.headers.replaceOrAdd(name: name, value: value) }
        let response = try await client.execute(request, timeout: .seconds(30))
        let collected = try await response.body.collect(upTo: 16 << 20)
        return TestResponse(status: Int(response.status.code), headers: response.headers, body: Data(buffer: collected))
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
