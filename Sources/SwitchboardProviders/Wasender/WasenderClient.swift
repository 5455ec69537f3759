public import AsyncHTTPClient
import Foundation
public import SwitchboardCore

/// WasenderAPI (PROVIDERS.md): `POST {base}/send-message` with the session's API key
/// as Bearer token; text, media by URL (the text is the caption), location. It has no
/// templates.
public struct WasenderClient: ProviderClient {
    public static let productionBaseURL = "https://www.wasenderapi.com/api"

    let call: ProviderCall
    let defaultBaseURL: String

    public init(http: HTTPClient, defaultBaseURL: String = Self.productionBaseURL, timeout: Duration = .seconds(10)) {
        call = ProviderCall(http: http, timeout: timeout)
        self.defaultBaseURL = defaultBaseURL
    }

    public func send(_ envelope: OutboundEnvelope, through session: Session, secrets: SessionSecrets)
        async throws(SendFailure) -> ProviderReceipt
    {
        guard let token = secrets.credentials["api_key"] else {
            throw SendFailure(.permanent, code: "no-credentials", detail: "session \(session.id) has no api_key")
        }
        let json = try Self.body(for: envelope)
        let base = secrets.credentials["base_url"] ?? defaultBaseURL
        let answer = try await call.post("\(base)/send-message", token: token, json: json)
        return try Self.receipt(from: answer)
    }

    /// `GET {base}/status` with the session's API key: `{"status":"connected"}`.
    public func sessionState(of session: Session, secrets: SessionSecrets) async throws(SendFailure) -> ProviderSessionState {
        guard let token = secrets.credentials["api_key"] else {
            throw SendFailure(.permanent, code: "no-credentials", detail: "session \(session.id) has no api_key")
        }
        let base = secrets.credentials["base_url"] ?? defaultBaseURL
        let answer = try await call.get("\(base)/status", token: token)
        let object = jsonObject(answer.body)
        let value = object?["status"] as? String ?? (object?["data"] as? JSONObject)?["status"] as? String
        guard (200..<300).contains(answer.status), let value, let status = SessionStatus(providerValue: value) else {
            throw SendFailure.http(status: answer.status == 200 ? 502 : answer.status, detail: text(answer.body))
        }
        return ProviderSessionState(status: status)
    }

    /// `POST {base}/whatsapp-sessions/{id}/connect`: `{"data":{"status":"NEED_SCAN","qrCode":"2@…"}}`.
    /// The provider's session id is the credential `session_id` (else ours), the token the
    /// account's `personal_access_token` (else the session's key).
    public func connect(_ session: Session, secrets: SessionSecrets) async throws(SendFailure) -> SessionConnection {
        let answer = try await call.post(try managementURL(session, secrets, "connect"),
                                         token: try managementToken(session, secrets), json: Data("{}".utf8))
        let data = try Self.managementData(answer)
        guard let status = (data["status"] as? String).flatMap(SessionStatus.init(providerValue:)) else {
            throw SendFailure(.transient, code: "unexpected-answer", detail: text(answer.body))
        }
        return SessionConnection(status: status, qrCode: data["qrCode"] as? String)
    }

    /// `GET {base}/whatsapp-sessions/{id}/qrcode`: `{"data":{"qrCode":"2@…"}}`.
    public func qrCode(of session: Session, secrets: SessionSecrets) async throws(SendFailure) -> String? {
        let answer = try await call.get(try managementURL(session, secrets, "qrcode"),
                                        token: try managementToken(session, secrets))
        if answer.status == 400 || answer.status == 404 { return nil }
        return try Self.managementData(answer)["qrCode"] as? String
    }

    /// `POST {base}/whatsapp-sessions/{id}/disconnect`.
    public func disconnect(_ session: Session, secrets: SessionSecrets) async throws(SendFailure) -> SessionStatus {
        let answer = try await call.post(try managementURL(session, secrets, "disconnect"),
                                         token: try managementToken(session, secrets), json: Data("{}".utf8))
        let data = try Self.managementData(answer)
        return (data["status"] as? String).flatMap(SessionStatus.init(providerValue:)) ?? .disconnected
    }

    private func managementURL(_ session: Session, _ secrets: SessionSecrets, _ action: String) throws(SendFailure) -> String {
        let base = secrets.credentials["base_url"] ?? defaultBaseURL
        return "\(base)/whatsapp-sessions/\(secrets.credentials["session_id"] ?? session.id.rawValue)/\(action)"
    }

    private func managementToken(_ session: Session, _ secrets: SessionSecrets) throws(SendFailure) -> String {
        guard let token = secrets.credentials["personal_access_token"] ?? secrets.credentials["api_key"] else {
            throw SendFailure(.permanent, code: "no-credentials", detail: "session \(session.id) has no personal_access_token")
        }
        return token
    }

    private static func managementData(_ answer: ProviderCall.Answer) throws(SendFailure) -> JSONObject {
        guard (200..<300).contains(answer.status) else {
            throw SendFailure.http(status: answer.status, detail: text(answer.body))
        }
        return (jsonObject(answer.body)?["data"] as? JSONObject) ?? [:]
    }

    /// `POST /send-message`'s body.
    struct SendRequest: Encodable {
        struct Location: Encodable {
            let latitude: Double
            let longitude: Double
            let name: String?
            let address: String?
        }

        let to: String
        var text: String?
        var imageUrl: String?
        var videoUrl: String?
        var documentUrl: String?
        var fileName: String?
        var audioUrl: String?
        var location: Location?
    }

    /// The request body for an envelope, as JSON.
    static func body(for envelope: OutboundEnvelope) throws(SendFailure) -> Data {
        var request = SendRequest(to: envelope.to.e164, text: envelope.text)
        switch envelope.type {
        case .text:
            break
        case .image, .video, .document, .audio:
            guard let media = envelope.media else {
                throw SendFailure(.permanent, code: "invalid-message", detail: "\(envelope.type.rawValue) without media")
            }
            switch envelope.type {
            case .image: request.imageUrl = media.url
            case .video: request.videoUrl = media.url
            case .audio: request.audioUrl = media.url
            default:
                request.documentUrl = media.url
                request.fileName = media.filename
            }
        case .location:
            guard let location = envelope.location else {
                throw SendFailure(.permanent, code: "invalid-message", detail: "location without coordinates")
            }
            request.location = .init(latitude: location.latitude, longitude: location.longitude, name: location.name,
                                     address: location.address)
        case .template:
            throw SendFailure(.permanent, code: "unsupported", detail: "WasenderAPI sends no templates")
        }
        do { return try jsonEncoder.encode(request) } catch {
            throw SendFailure(.permanent, code: "unencodable", detail: "\(error)")
        }
    }

    /// Reads an answer: `{"success":true,"data":{"msgId":…}}`, or classifies the failure.
    static func receipt(from answer: ProviderCall.Answer) throws(SendFailure) -> ProviderReceipt {
        let object = jsonObject(answer.body)
        if (200..<300).contains(answer.status) {
            let data = object?["data"] as? JSONObject
            // `msgId` is an integer in the documentation; accept a string too.
            if let id = (data?["msgId"] as? NSNumber)?.stringValue ?? data?["msgId"] as? String,
               object?["success"] as? Bool != false
            {
                return ProviderReceipt(providerMessageID: id)
            }
            throw SendFailure(.transient, code: "unexpected-answer", detail: text(answer.body))
        }
        let message = object?["message"] as? String ?? text(answer.body)
        if answer.status == 429 {
            let seconds = (object?["retry_after"] as? NSNumber)?.doubleValue
            let wait = seconds.map { Duration.milliseconds(Int64($0 * 1000)) } ?? retryAfter(answer.headers)
            throw SendFailure(.transient, code: "rate-limited", detail: message, retryAfter: wait)
        }
        if answer.status == 422 || answer.status == 400,
           let errors = object?["errors"] as? JSONObject, errors["to"] != nil
        {
            throw SendFailure(.permanent, code: "invalid-recipient", detail: message)
        }
        if (400..<500).contains(answer.status), let status = SendFailure.sessionDown(inProviderMessage: message) {
            throw SendFailure(.sessionDown(status), code: "session-\(status.rawValue)", detail: message)
        }
        throw SendFailure.http(status: answer.status, detail: message, retryAfter: retryAfter(answer.headers))
    }
}
