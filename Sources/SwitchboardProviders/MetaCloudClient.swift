public import AsyncHTTPClient
import Foundation
public import SwitchboardCore

/// Meta WhatsApp Cloud API (PROVIDERS.md): `POST {base}/{version}/{phone_number_id}/messages`
/// with the access token; text, media by link, location and templates. Failures are
/// classified by Meta's error `code` first (130429, 131056, 80007, 131048 are rate
/// limits), then by HTTP status.
public struct MetaCloudClient: ProviderClient {
    public static let productionBaseURL = "https://graph.facebook.com"
    public static let defaultVersion = "v21.0"
    /// Meta's code for a recipient that is not a WhatsApp user / not valid.
    static let invalidRecipientCodes: Set<Int> = [131026, 131009, 100]

    let call: ProviderCall

    public init(http: HTTPClient, timeout: Duration = .seconds(10)) {
        call = ProviderCall(http: http, timeout: timeout)
    }

    public func send(_ envelope: OutboundEnvelope, through session: Session, secrets: SessionSecrets)
        async throws(SendFailure) -> ProviderReceipt
    {
        guard let token = secrets.credentials["access_token"], let phoneNumberID = secrets.credentials["phone_number_id"]
        else {
            throw SendFailure(.permanent, code: "no-credentials",
                              detail: "session \(session.id) needs access_token and phone_number_id")
        }
        let json: Data
        do {
            json = try JSONSerialization.data(withJSONObject: try Self.body(for: envelope), options: [.sortedKeys])
        } catch let failure as SendFailure {
            throw failure
        } catch {
            throw SendFailure(.permanent, code: "unencodable", detail: "\(error)")
        }
        let base = secrets.credentials["base_url"] ?? Self.productionBaseURL
        let version = secrets.credentials["api_version"] ?? Self.defaultVersion
        let answer = try await call.post("\(base)/\(version)/\(phoneNumberID)/messages", token: token, json: json)
        return try Self.receipt(from: answer)
    }

    static func body(for envelope: OutboundEnvelope) throws(SendFailure) -> JSONObject {
        var body: JSONObject = [
            "messaging_product": "whatsapp", "recipient_type": "individual",
            // Meta's examples use the number without '+'.
            "to": String(envelope.to.e164.dropFirst()), "type": envelope.type.rawValue,
        ]
        switch envelope.type {
        case .text:
            body["text"] = ["body": envelope.text ?? "", "preview_url": false] as JSONObject
        case .image, .video, .document, .audio:
            guard let media = envelope.media else {
                throw SendFailure(.permanent, code: "invalid-message", detail: "\(envelope.type.rawValue) without media")
            }
            var object: JSONObject = ["link": media.url]
            if envelope.type != .audio, let caption = envelope.text { object["caption"] = caption }
            if envelope.type == .document, let filename = media.filename { object["filename"] = filename }
            body[envelope.type.rawValue] = object
        case .location:
            guard let location = envelope.location else {
                throw SendFailure(.permanent, code: "invalid-message", detail: "location without coordinates")
            }
            var place: JSONObject = ["latitude": location.latitude, "longitude": location.longitude]
            place["name"] = location.name
            place["address"] = location.address
            body["location"] = place
        case .template:
            guard let template = envelope.template else {
                throw SendFailure(.permanent, code: "invalid-message", detail: "template without a name")
            }
            var object: JSONObject = ["name": template.name, "language": ["code": template.language]]
            if let parameters = template.parameters, !parameters.isEmpty {
                object["components"] = [[
                    "type": "body",
                    "parameters": parameters.map { ["type": "text", "text": $0] },
                ] as JSONObject]
            }
            body["template"] = object
        }
        return body
    }

    /// Reads `{"messages":[{"id":"wamid…"}]}`, or classifies `{"error":{code,message,…}}`.
    static func receipt(from answer: ProviderCall.Answer) throws(SendFailure) -> ProviderReceipt {
        let object = jsonObject(answer.body)
        if (200..<300).contains(answer.status) {
            if let messages = object?["messages"] as? [JSONObject], let id = messages.first?["id"] as? String {
                return ProviderReceipt(providerMessageID: id)
            }
            throw SendFailure(.transient, code: "unexpected-answer", detail: text(answer.body))
        }
        let error = object?["error"] as? JSONObject
        let code = (error?["code"] as? NSNumber)?.intValue
        var detail = error?["message"] as? String ?? text(answer.body)
        if let details = (error?["error_data"] as? JSONObject)?["details"] as? String { detail += ": \(details)" }
        if let code, invalidRecipientCodes.contains(code) {
            throw SendFailure(.permanent, code: "invalid-recipient", detail: "meta \(code): \(detail)")
        }
        throw SendFailure.http(status: answer.status, providerCode: code, detail: detail,
                               retryAfter: retryAfter(answer.headers))
    }
}
