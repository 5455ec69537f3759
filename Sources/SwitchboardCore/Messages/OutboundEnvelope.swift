public import struct Foundation.Date

/// Whether a message may overtake others: transactional (one-time passwords, alerts)
/// or bulk (campaigns). It picks the AMQP priority and the throttle share.
public enum MessageClass: String, Sendable, Hashable, Codable, CaseIterable {
    case transactional, bulk

    /// The priority in the tenant's queue, as the contract gives it (9 and 1); a tenant queue
    /// whose `x-max-priority` is lower (the topology declares 2) treats 9 as its maximum.
    public var priority: UInt8 {
        switch self {
        case .transactional: 9
        case .bulk: 1
        }
    }
}

/// What a message carries.
public enum MessageType: String, Sendable, Hashable, Codable, CaseIterable {
    case text, image, document, audio, video, location, template

    var isMedia: Bool { [.image, .document, .audio, .video].contains(self) }
}

/// A media attachment, fetched by the provider from its URL.
public struct MessageMedia: Sendable, Hashable, Codable {
    public var url: String
    /// The name a document is shown under.
    public var filename: String?

    public init(url: String, filename: String? = nil) {
        self.url = url
        self.filename = filename
    }
}

/// A location pin.
public struct MessageLocation: Sendable, Hashable, Codable {
    public var latitude: Double
    public var longitude: Double
    public var name: String?
    public var address: String?

    public init(latitude: Double, longitude: Double, name: String? = nil, address: String? = nil) {
        self.latitude = latitude
        self.longitude = longitude
        self.name = name
        self.address = address
    }
}

/// A pre-approved template (Meta) with its language and parameters.
public struct MessageTemplate: Sendable, Hashable, Codable {
    public var name: String
    public var language: String
    /// Body parameters, in order.
    public var parameters: [String]?

    public init(name: String, language: String, parameters: [String]? = nil) {
        self.name = name
        self.language = language
        self.parameters = parameters
    }
}

/// The outbound message as ARCHITECTURE.md defines it: what publishers put on
/// `sb.outbound` (key `<tenant>.<class>`) and what the dispatcher reads.
public struct OutboundEnvelope: Sendable, Hashable, Codable {
    /// Our message id, and the idempotency key.
    public var id: String
    public var tenant: TenantID
    /// Nil until defaults are filled: the tenant's primary session.
    public var session: SessionID?
    public var messageClass: MessageClass
    public var to: PhoneNumber
    public var type: MessageType
    /// The text, or the caption of media.
    public var text: String?
    public var media: MessageMedia?
    public var location: MessageLocation?
    public var template: MessageTemplate?
    public var campaign: String?
    /// Past this instant the message is not sent (dead-lettered as `expired`).
    public var expiresAt: Date?
    public var metadata: [String: String]?

    enum CodingKeys: String, CodingKey {
        case id, tenant, session, to, type, text, media, location, template, campaign, metadata
        case messageClass = "class"
        case expiresAt = "expires_at"
    }

    public init(id: String, tenant: TenantID, session: SessionID? = nil, messageClass: MessageClass = .transactional,
                to: PhoneNumber, type: MessageType = .text, text: String? = nil, media: MessageMedia? = nil,
                location: MessageLocation? = nil, template: MessageTemplate? = nil, campaign: String? = nil,
                expiresAt: Date? = nil, metadata: [String: String]? = nil) {
        self.id = id
        self.tenant = tenant
        self.session = session
        self.messageClass = messageClass
        self.to = to
        self.type = type
        self.text = text
        self.media = media
        self.location = location
        self.template = template
        self.campaign = campaign
        self.expiresAt = expiresAt
        self.metadata = metadata
    }

    /// The routing key on `sb.outbound`.
    public var routingKey: String { "\(tenant).\(messageClass.rawValue)" }

    public static let maximumTextLength = 4096
    public static let maximumCaptionLength = 1024
    public static let maximumCampaignLength = 128

    /// Checks every rule of the envelope: the api before it publishes (answering 422)
    /// and the dispatcher before it sends (dead-lettering as `invalid`), since
    /// publishers may put envelopes straight on `sb.outbound` and pass no api. Throws
    /// every broken rule at once, so a publisher fixes them all in one go. `now`
    /// decides expiry.
    public func validate(now: Date = Date()) throws(EnvelopeViolations) {
        let problems = problems(now: now)
        guard problems.isEmpty else { throw EnvelopeViolations(problems: problems) }
    }

    /// Every rule the envelope breaks, as (field, what is wrong); empty when it is fine.
    /// `now` decides expiry. (`to` needs no rule: a `PhoneNumber` is E.164 already.)
    public func problems(now: Date = Date()) -> [EnvelopeProblem] {
        var problems: [EnvelopeProblem] = []
        func add(_ field: String, _ detail: String) { problems.append(EnvelopeProblem(field: field, detail: detail)) }

        if !MessageID.isValid(id) { add("id", "must be 1–128 of A-Z a-z 0-9 . _ : -") }
        if let expiresAt, expiresAt <= now { add("expires_at", "is in the past: the message would never be sent") }
        if let text, text.isEmpty { add("text", "must not be empty") }
        switch type {
        case .text:
            guard let text else {
                add("text", "is required for a text message")
                break
            }
            if text.count > Self.maximumTextLength { add("text", "is longer than \(Self.maximumTextLength) characters") }
        case .image, .document, .audio, .video:
            if let media {
                if !(media.url.hasPrefix("https://") || media.url.hasPrefix("http://")) || media.url.count > 2048 {
                    add("media.url", "must be an http(s) URL of at most 2048 characters")
                }
            } else {
                add("media", "is required for a \(type.rawValue) message")
            }
            if type == .audio, text != nil { add("text", "an audio message has no caption") }
            if let text, text.count > Self.maximumCaptionLength {
                add("text", "a caption is at most \(Self.maximumCaptionLength) characters")
            }
        case .location:
            if let location {
                if !(-90...90).contains(location.latitude) { add("location.latitude", "must be between -90 and 90") }
                if !(-180...180).contains(location.longitude) {
                    add("location.longitude", "must be between -180 and 180")
                }
            } else {
                add("location", "is required for a location message")
            }
        case .template:
            if let template {
                if template.name.isEmpty { add("template.name", "must not be empty") }
                if template.language.isEmpty { add("template.language", "must not be empty") }
            } else {
                add("template", "is required for a template message")
            }
        }
        if type != .location, location != nil { add("location", "only a location message has one") }
        if type != .template, template != nil { add("template", "only a template message has one") }
        if !type.isMedia, media != nil { add("media", "only image, document, audio and video messages have one") }
        if let metadata, metadata.count > 32 || metadata.contains(where: { $0.key.count > 64 || $0.value.count > 512 }) {
            add("metadata", "at most 32 entries, keys up to 64 and values up to 512 characters")
        }
        if let campaign, campaign.isEmpty || campaign.count > Self.maximumCampaignLength {
            add("campaign", "must be 1–\(Self.maximumCampaignLength) characters")
        }
        return problems
    }
}

/// The rules an envelope breaks, as `OutboundEnvelope.validate(now:)` throws them.
public struct EnvelopeViolations: Error, Sendable, Hashable, CustomStringConvertible {
    /// Every broken rule, in the order the rules are checked; never empty.
    public let problems: [EnvelopeProblem]

    public init(problems: [EnvelopeProblem]) {
        self.problems = problems
    }

    /// The broken fields, for a reader who wants only those.
    public var fields: [String] { problems.map(\.field) }

    /// Every problem as `field: what is wrong`, joined by `; `.
    public var description: String { problems.map(\.description).joined(separator: "; ") }
}

/// One broken rule of an envelope: the field (a JSON path) and what is wrong with it.
public struct EnvelopeProblem: Sendable, Hashable, Codable, CustomStringConvertible {
    public let field: String
    public let detail: String

    public init(field: String, detail: String) {
        self.field = field
        self.detail = detail
    }

    public var description: String { "\(field): \(detail)" }
}
