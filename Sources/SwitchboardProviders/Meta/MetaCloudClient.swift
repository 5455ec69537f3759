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
        let json = try Self.body(for: envelope)
        let base = secrets.credentials["base_url"] ?? Self.productionBaseURL
        let version = secrets.credentials["api_version"] ?? Self.defaultVersion
        let answer = try await call.post("\(base)/\(version)/\(phoneNumberID)/messages", token: token, json: json)
        return try Self.receipt(from: answer)
    }

    /// `GET {base}/{version}/{phone_number_id}?fields=status,quality_rating,messaging_limit_tier`:
    /// the number's state. `CONNECTED` is connected, `PENDING` connecting; any other
    /// (`DISCONNECTED`, `FLAGGED`, `RESTRICTED`, `BANNED`, …) cannot send: disconnected.
    public func sessionState(of session: Session, secrets: SessionSecrets) async throws(SendFailure) -> ProviderSessionState {
        guard let token = secrets.credentials["access_token"], let phoneNumberID = secrets.credentials["phone_number_id"]
        else {
            throw SendFailure(.permanent, code: "no-credentials",
                              detail: "session \(session.id) needs access_token and phone_number_id")
        }
        let base = secrets.credentials["base_url"] ?? Self.productionBaseURL
        let version = secrets.credentials["api_version"] ?? Self.defaultVersion
        let answer = try await call.get(
            "\(base)/\(version)/\(phoneNumberID)?fields=status,quality_rating,messaging_limit_tier", token: token)
        let object = jsonObject(answer.body)
        guard (200..<300).contains(answer.status), let value = object?["status"] as? String else {
            throw SendFailure.http(status: answer.status == 200 ? 502 : answer.status, detail: text(answer.body))
        }
        let status: SessionStatus = switch value.uppercased() {
        case "CONNECTED": .connected
        case "PENDING": .connecting
        default: .disconnected
        }
        return ProviderSessionState(status: status, qualityRating: object?["quality_rating"] as? String,
                                    messagingLimitTier: object?["messaging_limit_tier"] as? String)
    }

    /// `POST /{phone_number_id}/messages`'s body.
    struct SendRequest: Encodable {
        struct Text: Encodable {
            let body: String
            let preview_url: Bool
        }

        struct Media: Encodable {
            let link: String
            var caption: String?
            var filename: String?
        }

        struct Location: Encodable {
            let latitude: Double
            let longitude: Double
            let name: String?
            let address: String?
        }

        struct Template: Encodable {
            struct Language: Encodable { let code: String }
            struct Component: Encodable {
                struct Parameter: Encodable {
                    let type = "text"
                    let text: String
                }

                let type = "body"
                let parameters: [Parameter]
            }

            let name: String
            let language: Language
            let components: [Component]?
        }

        let messaging_product = "whatsapp"
        let recipient_type = "individual"
        let to: String
        let type: String
        var text: Text?
        var image: Media?
        var video: Media?
        var document: Media?
        var audio: Media?
        var location: Location?
        var template: Template?
    }

    static func body(for envelope: OutboundEnvelope) throws(SendFailure) -> Data {
        // Meta's examples use the number without '+'.
        var request = SendRequest(to: String(envelope.to.e164.dropFirst()), type: envelope.type.rawValue)
        switch envelope.type {
        case .text:
            request.text = .init(body: envelope.text ?? "", preview_url: false)
        case .image, .video, .document, .audio:
            guard let media = envelope.media else {
                throw SendFailure(.permanent, code: "invalid-message", detail: "\(envelope.type.rawValue) without media")
            }
            var object = SendRequest.Media(link: media.url)
            if envelope.type != .audio { object.caption = envelope.text }
            switch envelope.type {
            case .image: request.image = object
            case .video: request.video = object
            case .audio: request.audio = object
            default:
                object.filename = media.filename
                request.document = object
            }
        case .location:
            guard let location = envelope.location else {
                throw SendFailure(.permanent, code: "invalid-message", detail: "location without coordinates")
            }
            request.location = .init(latitude: location.latitude, longitude: location.longitude, name: location.name,
                                     address: location.address)
        case .template:
            guard let template = envelope.template else {
                throw SendFailure(.permanent, code: "invalid-message", detail: "template without a name")
            }
            let parameters = template.parameters ?? []
            request.template = .init(
                name: template.name, language: .init(code: template.language),
                components: parameters.isEmpty ? nil : [.init(parameters: parameters.map { .init(text: $0) })])
        }
        do { return try jsonEncoder.encode(request) } catch {
            throw SendFailure(.permanent, code: "unencodable", detail: "\(error)")
        }
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
        if code == 133010 {
            // The number is not registered (deregistered, or never connected): it cannot send.
            throw SendFailure(.sessionDown(.disconnected), code: "meta-133010", detail: "meta 133010: \(detail)")
        }
        throw SendFailure.http(status: answer.status, providerCode: code, detail: detail,
                               retryAfter: retryAfter(answer.headers))
    }
}
