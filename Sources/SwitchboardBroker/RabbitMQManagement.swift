public import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
public import SwitchboardCore

/// The parts of RabbitMQ's management HTTP API that AMQP cannot reach: reading what
/// exists (with arguments and bindings), policies, and virtual hosts.
public struct RabbitMQManagement: Sendable {
    /// Where the API is and who to be.
    public struct Configuration: Sendable, Hashable {
        /// Every node's API, tried in order: a node that cannot be reached (not one that
        /// answers with an error) passes the request to the next.
        public var baseURLs: [String]
        public var user: String
        public var password: String

        /// The first node's API.
        public var baseURL: String { baseURLs[0] }

        /// Parses `http://user:password@host:15672` (credentials default to guest), or a
        /// comma-separated list of such URLs, one per cluster node, with the first one's
        /// credentials.
        public init(url: String) throws(BrokerError) {
            var bases: [String] = []
            var credentials: (String, String)?
            for item in url.split(separator: ",", omittingEmptySubsequences: false) {
                let text = item.trimmingCharacters(in: .whitespaces)
                guard let components = URLComponents(string: text), let scheme = components.scheme,
                      scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty
                else {
                    throw .management(status: nil, "not an http(s) URL: \(text)")
                }
                var base = "\(scheme)://\(host)"
                if let port = components.port { base += ":\(port)" }
                bases.append(base)
                if credentials == nil { credentials = (components.user ?? "guest", components.password ?? "guest") }
            }
            baseURLs = bases
            (user, password) = credentials ?? ("guest", "guest")
        }
    }

    public let configuration: Configuration
    private let http: HTTPClient

    /// A client without response decompression: `HTTPClient.shared` asks for gzip and
    /// then refuses RabbitMQ's listings, whose repetitive JSON compresses beyond its
    /// ratio limit. Process-wide and never shut down, like `HTTPClient.shared`.
    public static let httpClient = HTTPClient(
        eventLoopGroup: HTTPClient.defaultEventLoopGroup,
        configuration: HTTPClient.Configuration(decompression: .disabled))

    public init(configuration: Configuration, http: HTTPClient = RabbitMQManagement.httpClient) {
        self.configuration = configuration
        self.http = http
    }

    // MARK: Reading

    /// Everything in `virtualHost` that the topology is compared with: exchanges (not
    /// the default or `amq.*` ones), non-exclusive queues, queue bindings from named
    /// exchanges, and policies.
    public func snapshot(virtualHost: String) async throws(BrokerError) -> BrokerObjects {
        let vhost = Self.escape(virtualHost)
        async let exchangesData = get("/api/exchanges/\(vhost)")
        async let queuesData = get("/api/queues/\(vhost)?columns=name,durable,auto_delete,exclusive,arguments")
        async let bindingsData = get("/api/bindings/\(vhost)")
        async let policiesData = get("/api/policies/\(vhost)")
        do {
            let exchanges = try decode([LiveExchange].self, try await exchangesData)
            let queues = try decode([LiveQueue].self, try await queuesData)
            let bindings = try decode([LiveBinding].self, try await bindingsData)
            let policies = try decode([LivePolicy].self, try await policiesData)
            return BrokerObjects(
                exchanges: exchanges.filter { !$0.name.isEmpty && !$0.name.hasPrefix("amq.") }.map {
                    .init(name: $0.name, type: $0.type, durable: $0.durable, autoDelete: $0.auto_delete,
                          internal: $0.internal, arguments: $0.arguments.topologyTable)
                },
                queues: queues.filter { !($0.exclusive ?? false) }.map {
                    .init(name: $0.name, durable: $0.durable, autoDelete: $0.auto_delete,
                          arguments: $0.arguments.topologyTable)
                },
                bindings: bindings.filter { !$0.source.isEmpty && $0.destination_type == "queue" }.map {
                    .init(source: $0.source, queue: $0.destination, routingKey: $0.routing_key,
                          arguments: $0.arguments.topologyTable)
                },
                policies: policies.map(\.policy))
        } catch let error as BrokerError {
            throw error
        } catch {
            throw .management(status: nil, "unreadable answer: \(error)")
        }
    }

    /// The policies of `virtualHost` alone: what provisioning tenants compares with,
    /// without listing every queue and binding (tens of thousands at scale).
    public func policies(virtualHost: String) async throws(BrokerError) -> [BrokerObjects.Policy] {
        let data = try await get("/api/policies/\(Self.escape(virtualHost))")
        do { return try decode([LivePolicy].self, data).map(\.policy) } catch {
            throw .management(status: nil, "unreadable policies: \(error)")
        }
    }

    /// One policy by name, or nil when `virtualHost` has none of that name.
    public func policy(named name: String, virtualHost: String) async throws(BrokerError) -> BrokerObjects.Policy? {
        let data = try await execute(request(.GET, "/api/policies/\(Self.escape(virtualHost))/\(Self.escape(name))"),
                                     allowNotFound: true)
        guard let live = try? decode(LivePolicy.self, data) else { return nil }
        return live.policy
    }

    /// A queue's depth: messages ready for delivery and delivered but not acknowledged.
    public struct QueueDepth: Sendable, Hashable {
        public var name: String
        public var ready: Int
        public var unacknowledged: Int
    }

    /// Every queue's depth in `virtualHost`, in one call (only the three columns).
    public func queueDepths(virtualHost: String) async throws(BrokerError) -> [QueueDepth] {
        struct Live: Decodable {
            let name: String
            let messages_ready: Int?
            let messages_unacknowledged: Int?
        }
        let data = try await get("/api/queues/\(Self.escape(virtualHost))?columns=name,messages_ready,messages_unacknowledged")
        do {
            return try decode([Live].self, data).map {
                QueueDepth(name: $0.name, ready: $0.messages_ready ?? 0, unacknowledged: $0.messages_unacknowledged ?? 0)
            }
        } catch {
            throw .management(status: nil, "unreadable queue listing: \(error)")
        }
    }

    // MARK: Writing

    public func put(_ policy: BrokerObjects.Policy, virtualHost: String) async throws(BrokerError) {
        struct Body: Encodable {
            let pattern: String
            let applyTo: String
            let priority: Int
            let definition: TopologyTable
            enum CodingKeys: String, CodingKey {
                case pattern, priority, definition
                case applyTo = "apply-to"
            }
        }
        let body = Body(pattern: policy.pattern, applyTo: policy.applyTo, priority: policy.priority,
                        definition: policy.definition)
        try await send(.PUT, "/api/policies/\(Self.escape(virtualHost))/\(Self.escape(policy.name))", json: body)
    }

    /// Deletes a policy; a policy that does not exist is not an error.
    public func deletePolicy(_ name: String, virtualHost: String) async throws(BrokerError) {
        try await send(.DELETE, "/api/policies/\(Self.escape(virtualHost))/\(Self.escape(name))", json: nil as String?,
                       allowNotFound: true)
    }

    /// Creates a virtual host and gives `user` full permissions in it.
    public func createVirtualHost(_ name: String, grantingTo user: String) async throws(BrokerError) {
        try await send(.PUT, "/api/vhosts/\(Self.escape(name))", json: [String: String]())
        try await send(.PUT, "/api/permissions/\(Self.escape(name))/\(Self.escape(user))",
                       json: ["configure": ".*", "write": ".*", "read": ".*"])
    }

    /// Deletes a virtual host with everything in it. With thousands of queues the broker
    /// takes minutes, and the management listener ends a request after a minute, which
    /// stops the deletion part way (the vhost stays, with fewer queues): so the request is
    /// repeated until the vhost is gone, within `timeout`.
    public func deleteVirtualHost(_ name: String, timeout: Duration = .seconds(900)) async throws(BrokerError) {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var lastError: BrokerError?
        repeat {
            do {
                try await send(.DELETE, "/api/vhosts/\(Self.escape(name))", json: nil as String?, allowNotFound: true,
                               timeout: .seconds(300))
            } catch {
                lastError = error
            }
            let remaining = try? await execute(request(.GET, "/api/vhosts/\(Self.escape(name))"), allowNotFound: true)
            if let remaining, (try? JSONSerialization.jsonObject(with: remaining) as? [String: Any])?["name"] == nil {
                return
            }
        } while clock.now < deadline
        throw lastError ?? .management(status: nil, "virtual host \(name) still exists after \(timeout)")
    }

    // MARK: HTTP

    /// A request for `path`; `execute` puts each node's base URL in front of it.
    private func request(_ method: HTTPMethod, _ path: String) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: path)
        request.method = method
        let credentials = Data("\(configuration.user):\(configuration.password)".utf8).base64EncodedString()
        request.headers.add(name: "Authorization", value: "Basic \(credentials)")
        request.headers.add(name: "Accept", value: "application/json")
        return request
    }

    private func get(_ path: String) async throws(BrokerError) -> Data {
        try await execute(request(.GET, path), allowNotFound: false)
    }

    private func send(_ method: HTTPMethod, _ path: String, json body: (some Encodable)?,
                      allowNotFound: Bool = false, timeout: TimeAmount = .seconds(30)) async throws(BrokerError)
    {
        var request = request(method, path)
        if let body {
            do {
                request.body = .bytes(ByteBuffer(data: try JSONEncoder().encode(body)))
            } catch {
                throw .management(status: nil, "cannot encode \(path): \(error)")
            }
            request.headers.add(name: "Content-Type", value: "application/json")
        }
        _ = try await execute(request, allowNotFound: allowNotFound, timeout: timeout)
    }

    /// Sends `request` to the first node whose API can be reached.
    private func execute(_ request: HTTPClientRequest, allowNotFound: Bool, timeout: TimeAmount = .seconds(30))
        async throws(BrokerError) -> Data
    {
        var unreachable: BrokerError?
        for base in configuration.baseURLs {
            var attempt = request
            attempt.url = base + request.url
            do {
                return try await executeOnce(attempt, allowNotFound: allowNotFound, timeout: timeout)
            } catch let error as Unreachable {
                unreachable = error.error
            } catch let error as BrokerError {
                throw error
            } catch {
                throw .management(status: nil, "\(attempt.method) \(attempt.url): \(error)")
            }
        }
        throw unreachable ?? .management(status: nil, "no management URL")
    }

    /// A node whose API did not answer at all (connection refused, timeout).
    private struct Unreachable: Error {
        let error: BrokerError
    }

    private func executeOnce(_ request: HTTPClientRequest, allowNotFound: Bool, timeout: TimeAmount)
        async throws -> Data
    {
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: timeout)
        } catch {
            throw Unreachable(error: .management(status: nil, "\(request.method) \(request.url): \(error)"))
        }
        do {
            let body = try await response.body.collect(upTo: 64 << 20)
            let status = Int(response.status.code)
            if (200..<300).contains(status) || (allowNotFound && status == 404) {
                return Data(buffer: body)
            }
            throw BrokerError.management(status: status, "\(request.method) \(request.url): "
                + String(buffer: body).prefix(500))
        } catch let error as BrokerError {
            throw error
        } catch {
            throw BrokerError.management(status: nil, "\(request.method) \(request.url): \(error)")
        }
    }

    private func decode<T: Decodable>(_ type: T.Type, _ data: Data) throws -> T {
        try JSONDecoder().decode(type, from: data)
    }

    /// Percent-encodes a path segment (a vhost `/` becomes `%2F`), leaving only RFC 3986
    /// unreserved ASCII characters as they are.
    static func escape(_ segment: String) -> String {
        segment.addingPercentEncoding(withAllowedCharacters: unreserved) ?? segment
    }

    private static let unreserved = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
}

// MARK: What the API returns

private struct LiveExchange: Decodable {
    let name: String
    let type: String
    let durable: Bool
    let auto_delete: Bool
    let `internal`: Bool
    let arguments: JSONTable
}

private struct LiveQueue: Decodable {
    let name: String
    let durable: Bool
    let auto_delete: Bool
    let exclusive: Bool?
    let arguments: JSONTable
}

private struct LiveBinding: Decodable {
    let source: String
    let destination: String
    let destination_type: String
    let routing_key: String
    let arguments: JSONTable
}

private struct LivePolicy: Decodable {
    let name: String
    let pattern: String
    let applyTo: String
    let priority: Int
    let definition: JSONTable

    enum CodingKeys: String, CodingKey {
        case name, pattern, priority, definition
        case applyTo = "apply-to"
    }

    var policy: BrokerObjects.Policy {
        .init(name: name, pattern: pattern, applyTo: applyTo, priority: priority, definition: definition.topologyTable)
    }
}

/// Any JSON value, so that arguments the topology never uses (lists, objects) do not
/// make a snapshot unreadable.
private indirect enum JSONValue: Decodable {
    case scalar(TopologyValue)
    case other(String)

    init(from decoder: any Decoder) throws {
        if let scalar = try? TopologyValue(from: decoder) {
            self = .scalar(scalar)
        } else if let array = try? [JSONValue](from: decoder) {
            self = .other("\(array.count) item(s)")
        } else {
            self = .other("object")
        }
    }
}

private struct JSONTable: Decodable {
    let values: [String: JSONValue]

    init(from decoder: any Decoder) throws {
        // The API sends `[]` for an empty table.
        values = (try? [String: JSONValue](from: decoder)) ?? [:]
    }

    var topologyTable: TopologyTable {
        values.mapValues { value in
            switch value {
            case .scalar(let scalar): scalar
            case .other(let text): .string(text)
            }
        }
    }
}
