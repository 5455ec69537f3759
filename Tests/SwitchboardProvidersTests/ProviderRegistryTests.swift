import AsyncHTTPClient
import Foundation
import SwitchboardCore
import SwitchboardProviders
import Testing

/// A provider registered by a test alone: what adding one takes.
private struct EchoProvider: Provider {
    var kind: ProviderKind { ProviderKind(rawValue: "echo")! }
    var webhookRouting: WebhookRouting { .sessionInPath }

    func verifyWebhook(_ webhook: IncomingWebhook, secret: String, tolerance: Duration) throws(WebhookSignature.Refusal) {
        guard webhook.header("x-echo-secret") == secret else { throw .mismatch }
    }

    func parseWebhook(_ raw: RawWebhook, sessionNumber: PhoneNumber?, route: (String) -> SessionRoute?)
        throws(WebhookParseError) -> ParsedWebhook
    {
        ParsedWebhook(skipped: [String(decoding: raw.body, as: UTF8.self)])
    }

    func makeClient(_ context: ProviderClientContext) -> any ProviderClient {
        WasenderClient(http: context.http, timeout: context.timeout)
    }
}

@Suite("The provider registry")
struct ProviderRegistryTests {
    @Test func theStandardRegistryHoldsEveryShippedProviderOnce() {
        #expect(ProviderRegistry.standard.kinds == [.wasender, .meta, .simulator])
        for kind in ProviderRegistry.standard.kinds {
            #expect(ProviderRegistry.standard.provider(for: kind)?.kind == kind)
        }
        #expect(ProviderRegistry.standard.provider(for: ProviderKind(rawValue: "echo")!) == nil)
    }

    @Test func aRegisteredProviderParsesItsOwnWebhooksAndAnUnregisteredKindIsRefused() throws {
        let echo = ProviderKind(rawValue: "echo")!
        let raw = RawWebhook(provider: echo, session: try SessionID("echo-main"), tenant: try TenantID("acme"),
                             receivedAt: Date(), body: Data("ping".utf8))
        let registry = ProviderRegistry(ProviderRegistry.standard.providers + [EchoProvider()])
        let parsed = try WebhookParser.parse(raw, sessionNumber: nil, route: { _ in nil }, registry: registry)
        #expect(parsed.skipped == ["ping"])
        #expect(throws: WebhookParseError.self) {
            try WebhookParser.parse(raw, sessionNumber: nil, route: { _ in nil })
        }
    }

    @Test func eachProviderChecksItsOwnSignature() throws {
        let body = Data(#"{"event":"messages.received"}"#.utf8)
        let wasender = IncomingWebhook(body: body) { $0.lowercased() == "x-webhook-signature" ? "s3cret-0123456789" : nil }
        #expect(throws: Never.self) {
            try WasenderProvider().verifyWebhook(wasender, secret: "s3cret-0123456789", tolerance: .seconds(300))
        }
        #expect(throws: WebhookSignature.Refusal.self) {
            try WasenderProvider().verifyWebhook(wasender, secret: "another-secret-0123", tolerance: .seconds(300))
        }
        // Meta signs with the app secret; the WasenderAPI header means nothing to it.
        #expect(throws: WebhookSignature.Refusal.self) {
            try MetaProvider().verifyWebhook(wasender, secret: "s3cret-0123456789", tolerance: .seconds(300))
        }
    }

    @Test func providerKindsAreNamesNotAnything() {
        #expect(ProviderKind(rawValue: "wasender") == .wasender)
        #expect(ProviderKind(rawValue: "") == nil)
        #expect(ProviderKind(rawValue: "Meta") == nil)
        #expect(ProviderKind(rawValue: "a b") == nil)
    }
}
