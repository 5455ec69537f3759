import AsyncHTTPClient
import Foundation
import NIOHTTP1
import SwitchboardCore
@testable import SwitchboardProviders
import Testing

@Suite("Provider request and answer shapes (PROVIDERS.md)")
struct ProviderShapeTests {
    private func envelope(_ type: MessageType = .text, text: String? = "hi", media: MessageMedia? = nil,
                          template: MessageTemplate? = nil, location: MessageLocation? = nil) throws -> OutboundEnvelope {
        OutboundEnvelope(id: "m1", tenant: try TenantID("acme"), session: try SessionID("acme-main"),
                         to: try PhoneNumber("+14155550123"), type: type, text: text, media: media,
                         location: location, template: template)
    }

    private func object(_ data: Data) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    private func answer(_ status: Int, _ body: String, headers: [(String, String)] = []) -> ProviderCall.Answer {
        ProviderCall.Answer(status: status, headers: HTTPHeaders(headers), body: Data(body.utf8))
    }

    @Test func wasenderBodies() throws {
        let text = try object(try WasenderClient.body(for: try envelope()))
        #expect(text["to"] as? String == "+14155550123")
        #expect(text["text"] as? String == "hi")
        let document = try object(try WasenderClient.body(for: try envelope(.document, text: "invoice",
                                                                 media: MessageMedia(url: "https://x/a.pdf", filename: "a.pdf"))))
        #expect(document["documentUrl"] as? String == "https://x/a.pdf")
        #expect(document["fileName"] as? String == "a.pdf")
        #expect(document["text"] as? String == "invoice")
        let place = try object(try WasenderClient.body(for: try envelope(.location, text: nil,
                                                              location: MessageLocation(latitude: 1, longitude: 2))))
        #expect((place["location"] as? [String: Any])?["latitude"] as? Double == 1)
        #expect(throws: SendFailure.self) {
            _ = try WasenderClient.body(for: try envelope(.template, text: nil,
                                                          template: MessageTemplate(name: "otp", language: "en")))
        }
    }

    @Test func wasenderAnswers() throws {
        let ok = try WasenderClient.receipt(from: answer(200, #"{"success":true,"data":{"msgId":100000,"jid":"+1","status":"in_progress"}}"#))
        #expect(ok.providerMessageID == "100000")
        func failure(_ answer: ProviderCall.Answer) -> SendFailure? {
            do { _ = try WasenderClient.receipt(from: answer) } catch { return error }
            return nil
        }
        let limited = failure(answer(429, #"{"message":"Too many","retry_after":60}"#))
        #expect(limited?.isTransient == true)
        #expect(limited?.retryAfter == .seconds(60))
        let limitedByHeader = failure(answer(429, "{}", headers: [("Retry-After", "7")]))
        #expect(limitedByHeader?.retryAfter == .seconds(7))
        let invalid = failure(answer(422, #"{"success":false,"message":"bad","errors":{"to":["invalid"]}}"#))
        #expect(invalid?.isTransient == false)
        #expect(invalid?.code == "invalid-recipient")
        #expect(failure(answer(500, #"{"success":false,"message":"oops"}"#))?.isTransient == true)
        #expect(failure(answer(401, #"{"success":false,"message":"Unauthenticated."}"#))?.isTransient == false)
        #expect(failure(answer(200, "not json"))?.isTransient == true)
        // A session that cannot send is the session's state, not the message's failure.
        for (text, status) in [("WhatsApp session is not connected (status: disconnected).", SessionStatus.disconnected),
                               ("Session needs a QR scan (NEED_SCAN)", .needScan),
                               ("The session was logged out", .loggedOut)] {
            let down = failure(answer(400, #"{"success":false,"message":"\#(text)"}"#))
            #expect(down?.kind == .sessionDown(status), "\(text)")
            #expect(down?.code == "session-\(status.rawValue)")
            #expect(down?.isTransient == false)
        }
        #expect(failure(answer(400, #"{"success":false,"message":"bad request"}"#))?.kind == .permanent)
    }

    @Test func metaBodies() throws {
        let text = try object(try MetaCloudClient.body(for: try envelope()))
        #expect(text["messaging_product"] as? String == "whatsapp")
        #expect(text["to"] as? String == "14155550123")
        #expect((text["text"] as? [String: Any])?["body"] as? String == "hi")
        let template = try object(try MetaCloudClient.body(for: try envelope(.template, text: nil,
                                                                  template: MessageTemplate(name: "otp", language: "en_US", parameters: ["123456"]))))
        let templateObject = try #require(template["template"] as? [String: Any])
        #expect(templateObject["name"] as? String == "otp")
        #expect((templateObject["language"] as? [String: Any])?["code"] as? String == "en_US")
        let components = try #require(templateObject["components"] as? [[String: Any]])
        #expect((components.first?["parameters"] as? [[String: Any]])?.first?["text"] as? String == "123456")
        let image = try object(try MetaCloudClient.body(for: try envelope(.image, text: "look",
                                                                          media: MessageMedia(url: "https://x/i.png"))))
        #expect((image["image"] as? [String: Any])?["caption"] as? String == "look")
    }

    @Test func metaAnswers() throws {
        let ok = try MetaCloudClient.receipt(from: answer(200, #"{"messages":[{"id":"wamid.ABC"}]}"#))
        #expect(ok.providerMessageID == "wamid.ABC")
        func failure(_ status: Int, code: Int) -> SendFailure? {
            do {
                _ = try MetaCloudClient.receipt(from: answer(status, """
                    {"error":{"message":"m","type":"OAuthException","code":\(code),"error_data":{"details":"d"},"fbtrace_id":"x"}}
                    """))
            } catch { return error }
            return nil
        }
        for code in [130429, 131056, 80007] { #expect(failure(400, code: code)?.isTransient == true) }
        #expect(failure(400, code: 131026)?.code == "invalid-recipient")
        #expect(failure(400, code: 131026)?.isTransient == false)
        #expect(failure(400, code: 132000)?.isTransient == false)
        #expect(failure(500, code: 2)?.isTransient == true)
        #expect(failure(400, code: 133010)?.kind == .sessionDown(.disconnected))
    }
}
