public import Foundation
public import SwitchboardCore

extension ProviderKind {
    /// The provider stand-in for development, tests and benchmarks.
    public static let simulator = ProviderKind(rawValue: "simulator")!
}

/// The simulator: the WasenderAPI shape (send and webhook bodies) at a local base URL,
/// with Standard Webhooks signatures (`webhook-id`, `-timestamp`, `-signature`).
public struct SimulatorProvider: Provider {
    public init() {}

    public var kind: ProviderKind { .simulator }
    public var webhookRouting: WebhookRouting { .sessionInPath }

    public func verifyWebhook(_ webhook: IncomingWebhook, secret: String, tolerance: Duration)
        throws(WebhookSignature.Refusal)
    {
        try WebhookSignature.standard(
            id: webhook.header("webhook-id"), timestamp: webhook.header("webhook-timestamp"),
            signatures: webhook.header("webhook-signature"), body: webhook.body, secret: secret, tolerance: tolerance)
    }

    public func parseWebhook(_ raw: RawWebhook, sessionNumber: PhoneNumber?, route: (String) -> SessionRoute?)
        throws(WebhookParseError) -> ParsedWebhook
    {
        try WasenderWebhook.parse(raw, sessionNumber: sessionNumber)
    }

    public func makeClient(_ context: ProviderClientContext) -> any ProviderClient {
        WasenderClient(http: context.http, defaultBaseURL: context.simulatorBaseURL, timeout: context.timeout)
    }
}
