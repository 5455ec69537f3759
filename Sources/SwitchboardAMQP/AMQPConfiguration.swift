import Foundation

/// Everything needed to open, keep and recover one AMQP connection.
///
/// Build it from an `amqp://` or `amqps://` URL (RabbitMQ's URI spec, with the query
/// parameters `heartbeat`, `connection_timeout`, `cacertfile`, `certfile`, `keyfile`,
/// `verify` and `server_name_indication`), or from several such URLs separated by commas
/// (the nodes of a cluster), then adjust fields as needed.
public struct AMQPConfiguration: Sendable, Hashable {
    /// One broker node: where a connection may be opened.
    public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
        public var host: String
        public var port: Int

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        public var description: String { "\(host):\(port)" }
    }

    /// TLS settings for `amqps://` connections, applied through librabbitmq's OpenSSL socket.
    public struct TLS: Sendable, Hashable {
        /// PEM file of the certificate authorities that may sign the broker's certificate.
        public var caFile: String?
        /// Client certificate and key (PEM) for mutual TLS.
        public var certificateFile: String?
        public var keyFile: String?
        /// Verify the broker's certificate chain and that it names `host`.
        public var verifyPeer: Bool
        public var verifyHostname: Bool

        public init(caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil,
                    verifyPeer: Bool = true, verifyHostname: Bool = true) {
            self.caFile = caFile
            self.certificateFile = certificateFile
            self.keyFile = keyFile
            self.verifyPeer = verifyPeer
            self.verifyHostname = verifyHostname
        }
    }

    /// How the client reconnects after losing its connection.
    public struct Recovery: Sendable, Hashable {
        public var isEnabled: Bool
        public var initialDelay: Duration
        public var maximumDelay: Duration
        public var multiplier: Double

        public init(isEnabled: Bool = true, initialDelay: Duration = .milliseconds(100),
                    maximumDelay: Duration = .seconds(5), multiplier: Double = 2) {
            self.isEnabled = isEnabled
            self.initialDelay = initialDelay
            self.maximumDelay = maximumDelay
            self.multiplier = multiplier
        }

        public static let disabled = Recovery(isEnabled: false)
    }

    /// The nodes to connect to, never empty: the first that answers is used, and after a
    /// lost connection recovery tries the next one (round robin), so a client follows a
    /// cluster when its node dies. Credentials, vhost and TLS are the same for all.
    public var endpoints: [Endpoint] {
        didSet { if endpoints.isEmpty { endpoints = oldValue } }
    }
    /// The first endpoint's host.
    public var host: String {
        get { endpoints[0].host }
        set { endpoints[0].host = newValue }
    }
    /// The first endpoint's port.
    public var port: Int {
        get { endpoints[0].port }
        set { endpoints[0].port = newValue }
    }
    public var user: String
    public var password: String
    public var virtualHost: String
    /// Heartbeat interval proposed to the broker; a peer silent for two intervals is dead.
    public var heartbeat: Duration
    /// Time allowed for TCP connect plus the AMQP handshake.
    public var connectTimeout: Duration
    /// Time allowed for a synchronous method (declare, bind, …) to be answered.
    public var rpcTimeout: Duration
    public var frameMax: Int
    public var tls: TLS?
    /// Shown in the management UI and `rabbitmqctl list_connections`.
    public var connectionName: String
    public var recovery: Recovery
    /// Publishes sent but not yet confirmed; further publishes wait in the client until
    /// confirms free room, so a slow broker slows publishers instead of growing memory.
    public var maximumUnconfirmedPublishes: Int

    public init(host: String = "127.0.0.1", port: Int? = nil, user: String = "guest",
                password: String = "guest", virtualHost: String = "/",
                heartbeat: Duration = .seconds(10), connectTimeout: Duration = .seconds(5),
                rpcTimeout: Duration = .seconds(30), frameMax: Int = 131_072, tls: TLS? = nil,
                connectionName: String = "switchboard", recovery: Recovery = Recovery(),
                maximumUnconfirmedPublishes: Int = 10_000) {
        self.endpoints = [Endpoint(host: host, port: port ?? (tls == nil ? 5672 : 5671))]
        self.user = user
        self.password = password
        self.virtualHost = virtualHost
        self.heartbeat = heartbeat
        self.connectTimeout = connectTimeout
        self.rpcTimeout = rpcTimeout
        self.frameMax = frameMax
        self.tls = tls
        self.connectionName = connectionName
        self.recovery = recovery
        self.maximumUnconfirmedPublishes = maximumUnconfirmedPublishes
    }

    /// Parses `amqp[s]://user:password@host:port/vhost?heartbeat=10&…`, or a
    /// comma-separated list of such URLs, one per cluster node: each gives an endpoint,
    /// and all must agree on scheme, credentials, vhost and parameters (one connection's
    /// settings cannot change with the node it lands on).
    ///
    /// An empty or missing path is the default vhost `/`; `%2f` spells `/` explicitly.
    public init(url string: String) throws(AMQPError) {
        let urls = string.split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        guard urls.count > 1 else {
            try self.init(singleURL: string)
            return
        }
        guard !urls.contains(where: \.isEmpty) else {
            throw AMQPError(.invalidConfiguration, "an empty URL in the list: \(Self.redacted(string))")
        }
        try self.init(singleURL: urls[0])
        for url in urls.dropFirst() {
            let other = try AMQPConfiguration(singleURL: url)
            var comparable = other
            comparable.endpoints = endpoints
            guard comparable == self else {
                throw AMQPError(.invalidConfiguration, "the URLs of a cluster must differ only in host and port: "
                    + "\(Self.redacted(url)) against \(Self.redacted(urls[0]))")
            }
            endpoints.append(contentsOf: other.endpoints)
        }
    }

    private init(singleURL string: String) throws(AMQPError) {
        guard let components = URLComponents(string: string), let scheme = components.scheme?.lowercased() else {
            throw AMQPError(.invalidConfiguration, "not a URL: \(Self.redacted(string))")
        }
        guard scheme == "amqp" || scheme == "amqps" else {
            throw AMQPError(.invalidConfiguration, "scheme must be amqp or amqps, not \(scheme)")
        }
        let host = components.host.flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1"
        var path = components.percentEncodedPath
        if path.hasPrefix("/") { path.removeFirst() }
        if path.contains("/") {
            throw AMQPError(.invalidConfiguration, "a vhost containing '/' must be written %2f")
        }
        let vhost = path.isEmpty ? "/" : (path.removingPercentEncoding ?? path)

        self.init(host: host, user: components.user ?? "guest", password: components.password ?? "guest",
                  virtualHost: vhost)
        if let port = components.port {
            guard (1...65_535).contains(port) else {
                throw AMQPError(.invalidConfiguration, "port \(port) is out of range")
            }
            self.port = port
        }

        var tls: TLS? = scheme == "amqps" ? TLS() : nil
        for item in components.queryItems ?? [] {
            let value = item.value ?? ""
            switch item.name {
            case "heartbeat":
                guard let seconds = Int(value), seconds >= 0 else {
                    throw AMQPError(.invalidConfiguration, "heartbeat must be whole seconds, not '\(value)'")
                }
                heartbeat = .seconds(seconds)
            case "connection_timeout":
                guard let ms = Int(value), ms > 0 else {
                    throw AMQPError(.invalidConfiguration, "connection_timeout must be milliseconds, not '\(value)'")
                }
                connectTimeout = .milliseconds(ms)
            case "frame_max":
                guard let size = Int(value), size >= 4096 else {
                    throw AMQPError(.invalidConfiguration, "frame_max must be at least 4096, not '\(value)'")
                }
                frameMax = size
            case "connection_name":
                connectionName = value
            case "cacertfile", "certfile", "keyfile", "verify", "server_name_indication":
                guard tls != nil else {
                    throw AMQPError(.invalidConfiguration, "\(item.name) needs an amqps:// URL")
                }
                switch item.name {
                case "cacertfile": tls?.caFile = value
                case "certfile": tls?.certificateFile = value
                case "keyfile": tls?.keyFile = value
                case "server_name_indication": tls?.verifyHostname = value != "disable"
                default:
                    guard value == "verify_peer" || value == "verify_none" else {
                        throw AMQPError(.invalidConfiguration, "verify must be verify_peer or verify_none")
                    }
                    tls?.verifyPeer = value == "verify_peer"
                    if value == "verify_none" { tls?.verifyHostname = false }
                }
            default:
                throw AMQPError(.invalidConfiguration, "unknown URL parameter '\(item.name)'")
            }
        }
        if let tls {
            self.tls = tls
            if components.port == nil { port = 5671 }
        }
    }

    /// The URL with its password masked, for logs (one URL per endpoint, comma-separated).
    public var redactedURL: String {
        endpoints.map { redactedURL(of: $0) }.joined(separator: ",")
    }

    /// One endpoint's URL with the password masked.
    public func redactedURL(of endpoint: Endpoint) -> String {
        let scheme = tls == nil ? "amqp" : "amqps"
        let vhost = virtualHost == "/" ? "" : virtualHost.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        return "\(scheme)://\(user):***@\(endpoint.host):\(endpoint.port)/\(vhost)"
    }

    static func redacted(_ url: String) -> String {
        if url.contains(",") {
            return url.split(separator: ",").map { redacted(String($0)) }.joined(separator: ",")
        }
        guard var components = URLComponents(string: url), components.password != nil else { return url }
        components.password = "***"
        return components.string ?? "<url>"
    }
}
