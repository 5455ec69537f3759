public import AsyncHTTPClient
public import Foundation
public import SwitchboardCore

/// Everything the gateway knows of one provider, in its own folder: its name, how its
/// webhooks reach a session and prove their origin, how their bodies become events, and
/// its send adapter. Adding a provider is a folder with one of these and a line in
/// `ProviderRegistry.standard`.
public protocol Provider: Sendable {
    var kind: ProviderKind { get }
    /// How the webhooks receiver finds the session a webhook is for.
    var webhookRouting: WebhookRouting { get }
    /// Checks that a webhook comes from the provider, against the session's (or app's)
    /// secret; constant-time.
    func verifyWebhook(_ webhook: IncomingWebhook, secret: String, tolerance: Duration)
        throws(WebhookSignature.Refusal)
    /// The events in a webhook body (pure). `sessionNumber` is the phone number of
    /// `raw.session`; `route` maps a routing key in the body (Meta's `phone_number_id`)
    /// to its session.
    func parseWebhook(_ raw: RawWebhook, sessionNumber: PhoneNumber?, route: (String) -> SessionRoute?)
        throws(WebhookParseError) -> ParsedWebhook
    /// The send adapter, on the process's shared HTTP client.
    func makeClient(_ context: ProviderClientContext) -> any ProviderClient
}

/// How a provider's webhooks find their session.
public enum WebhookRouting: Sendable {
    /// `POST /webhooks/<kind>/<session>`: the session is in the URL (WasenderAPI, the
    /// simulator).
    case sessionInPath
    /// `POST /webhooks/<kind>`: one URL for a whole app, signed with the app secret;
    /// `routingKeys` reads the body's session keys (Meta's `phone_number_id`s), and a
    /// `GET` answers the provider's subscription check (`hub.challenge`).
    case appWide(routingKeys: @Sendable (Data) -> [String])
}

/// A webhook as the receiver got it: its headers (by case-insensitive name) and body.
public struct IncomingWebhook: Sendable {
    public let body: Data
    private let headers: @Sendable (String) -> String?

    public init(body: Data, headers: @escaping @Sendable (String) -> String?) {
        self.body = body
        self.headers = headers
    }

    public func header(_ name: String) -> String? { headers(name) }
}

/// What a send adapter is made with: the shared HTTP client, the call timeout, and
/// where `simulator` sessions send.
public struct ProviderClientContext: Sendable {
    public var http: HTTPClient
    public var timeout: Duration
    public var simulatorBaseURL: String

    public init(http: HTTPClient, timeout: Duration = .seconds(10),
                simulatorBaseURL: String = "http://127.0.0.1:8090/api") {
        self.http = http
        self.timeout = timeout
        self.simulatorBaseURL = simulatorBaseURL
    }
}

/// The providers this gateway knows, by kind: the one place a provider is registered.
public struct ProviderRegistry: Sendable {
    /// Every provider that ships.
    public static let standard = ProviderRegistry([WasenderProvider(), MetaProvider(), SimulatorProvider()])

    public let providers: [any Provider]
    private let byKind: [ProviderKind: any Provider]

    public init(_ providers: [any Provider]) {
        self.providers = providers
        byKind = Dictionary(providers.map { ($0.kind, $0) }, uniquingKeysWith: { first, _ in first })
    }

    public func provider(for kind: ProviderKind) -> (any Provider)? { byKind[kind] }

    /// The registered kinds, in registration order.
    public var kinds: [ProviderKind] { providers.map(\.kind) }
}

/// The webhook parser behind every provider: picks the provider of `raw.provider`.
public enum WebhookParser {
    public static func parse(_ raw: RawWebhook, sessionNumber: PhoneNumber?, route: (String) -> SessionRoute?,
                             registry: ProviderRegistry = .standard) throws(WebhookParseError) -> ParsedWebhook {
        guard let provider = registry.provider(for: raw.provider) else {
            throw .malformed("no provider '\(raw.provider)' is registered")
        }
        return try provider.parseWebhook(raw, sessionNumber: sessionNumber, route: route)
    }
}
