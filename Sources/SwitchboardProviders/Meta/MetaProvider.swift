public import Foundation
public import SwitchboardCore

extension ProviderKind {
    /// Meta's WhatsApp Cloud API (official).
    public static let meta = ProviderKind(rawValue: "meta")!
}

/// Meta Cloud API: one webhook URL per app, signed with the app secret
/// (`X-Hub-Signature-256`), changes routed by `metadata.phone_number_id`;
/// `MetaCloudClient` to send.
public struct MetaProvider: Provider {
    public init() {}

    public var kind: ProviderKind { .meta }
    public var webhookRouting: WebhookRouting { .appWide(routingKeys: { MetaRouting.phoneNumberIDs(in: $0) }) }

    public func verifyWebhook(_ webhook: IncomingWebhook, secret: String, tolerance: Duration)
        throws(WebhookSignature.Refusal)
    {
        guard WebhookSignature.meta(header: webhook.header("X-Hub-Signature-256"), body: webhook.body,
                                    appSecret: secret)
        else { throw .mismatch }
    }

    public func parseWebhook(_ raw: RawWebhook, sessionNumber: PhoneNumber?, route: (String) -> SessionRoute?)
        throws(WebhookParseError) -> ParsedWebhook
    {
        try MetaWebhook.parse(raw, route: route)
    }

    public func makeClient(_ context: ProviderClientContext) -> any ProviderClient {
        MetaCloudClient(http: context.http, timeout: context.timeout)
    }
}

/// Finds the `metadata.phone_number_id`s of a Meta notification without decoding the
/// rest: the receiver needs the first to pick the app secret.
public enum MetaRouting {
    private struct Notification: Decodable {
        struct Entry: Decodable { let changes: [Change]? }
        struct Change: Decodable { let value: Value? }
        struct Value: Decodable { let metadata: Metadata? }
        struct Metadata: Decodable { let phone_number_id: String? }
        let entry: [Entry]?
    }

    public static func phoneNumberIDs(in body: some DataProtocol) -> [String] {
        guard let notification = try? JSONDecoder().decode(Notification.self, from: Data(body)) else { return [] }
        return (notification.entry ?? []).flatMap { $0.changes ?? [] }.compactMap { $0.value?.metadata?.phone_number_id }
    }
}
