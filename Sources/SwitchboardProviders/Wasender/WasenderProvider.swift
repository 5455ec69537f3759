public import Foundation
public import SwitchboardCore

extension ProviderKind {
    /// WasenderAPI (unofficial WhatsApp REST API).
    public static let wasender = ProviderKind(rawValue: "wasender")!
}

/// WasenderAPI: webhooks per session URL, `X-Webhook-Signature` carrying the session's
/// webhook secret itself; the WasenderAPI webhook shape; `WasenderClient` to send.
public struct WasenderProvider: Provider {
    public init() {}

    public var kind: ProviderKind { .wasender }
    public var webhookRouting: WebhookRouting { .sessionInPath }

    public func verifyWebhook(_ webhook: IncomingWebhook, secret: String, tolerance: Duration)
        throws(WebhookSignature.Refusal)
    {
        guard WebhookSignature.wasender(header: webhook.header("X-Webhook-Signature"), secret: secret) else {
            throw .mismatch
        }
    }

    public func parseWebhook(_ raw: RawWebhook, sessionNumber: PhoneNumber?, route: (String) -> SessionRoute?)
        throws(WebhookParseError) -> ParsedWebhook
    {
        try WasenderWebhook.parse(raw, sessionNumber: sessionNumber)
    }

    public func makeClient(_ context: ProviderClientContext) -> any ProviderClient {
        WasenderClient(http: context.http, timeout: context.timeout)
    }
}
