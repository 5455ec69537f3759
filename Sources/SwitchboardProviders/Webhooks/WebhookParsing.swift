import Foundation
import SwitchboardCore

// MARK: Shared by the provider parsers

enum WebhookParsing {
    /// A Unix time in seconds, or in milliseconds when above 10^12; nil when absent,
    /// not positive or beyond any plausible date.
    static func instant(_ value: Double?) -> Date? {
        guard let value, value.isFinite, value > 0 else { return nil }
        let seconds = value > 1e12 ? value / 1000 : value
        guard seconds < 1e11 else { return nil }
        return Date(timeIntervalSince1970: seconds)
    }

    /// Whole seconds since 1970, for event ids (so sub-second noise does not change them).
    static func wholeSeconds(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        guard seconds.isFinite, abs(seconds) < 9e18 else { return "0" }
        return String(Int64(seconds))
    }

    /// `+` and the digits of a phone number written with optional `+`, spaces, dashes,
    /// dots or parentheses; nil for anything else (a username, an empty string).
    static func e164(_ text: String?) -> String? {
        guard let text else { return nil }
        var digits = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "0"..."9": digits.unicodeScalars.append(scalar)
            case "+", " ", "-", ".", "(", ")": continue
            default: return nil
            }
        }
        return digits.isEmpty ? nil : "+" + digits
    }

    /// nil for nil, empty or all-whitespace text.
    static func nonEmpty(_ text: String?) -> String? {
        guard let text, !text.allSatisfy(\.isWhitespace) else { return nil }
        return text
    }

    /// A `message.received` event; its id is the provider, the session and the
    /// provider's message id.
    static func received(_ message: NormalizedEvent.Message, providerID: String, provider: ProviderKind,
                         tenant: TenantID, session: SessionID, occurredAt: Date, receivedAt: Date) -> NormalizedEvent
    {
        NormalizedEvent(id: EventID.derive([provider.rawValue, session.rawValue, "received", providerID]),
                        type: .messageReceived, tenant: tenant, session: session, provider: provider,
                        occurredAt: occurredAt, receivedAt: receivedAt, message: message)
    }

    /// A `message.status` event with the same id the dispatcher gives its own `sent`
    /// (`NormalizedEvent.messageStatus`), so a provider's `sent` and ours deduplicate.
    static func status(_ status: NormalizedEvent.Status, provider: ProviderKind, tenant: TenantID, session: SessionID,
                       occurredAt: Date, receivedAt: Date) -> NormalizedEvent
    {
        var event = NormalizedEvent.messageStatus(status, tenant: tenant, session: session, provider: provider,
                                                  at: occurredAt)
        event.receivedAt = receivedAt
        return event
    }

    /// A short reason for a body the decoder refused.
    static func reason(_ error: any Error, provider: String) -> String {
        switch error {
        case DecodingError.dataCorrupted: "\(provider) webhook body is not JSON"
        case DecodingError.typeMismatch: "\(provider) webhook body is not a JSON object"
        default: "\(provider) webhook body is unreadable"
        }
    }
}

// MARK: Lenient decoding

/// Text from a JSON string, number or boolean (`100000`, `"100000"`, `2.0` → `"2"`).
struct LenientText: Decodable {
    let value: String

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            value = text
        } else if let number = try? container.decode(Int64.self) {
            value = String(number)
        } else if let number = try? container.decode(Double.self), number.isFinite {
            value = number.rounded() == number && abs(number) < 1e15 ? String(Int64(number)) : String(number)
        } else if let flag = try? container.decode(Bool.self) {
            value = flag ? "true" : "false"
        } else {
            throw DecodingError.typeMismatch(String.self, .init(codingPath: decoder.codingPath,
                                                                debugDescription: "not text or a number"))
        }
    }
}

/// A finite number from a JSON number, a numeric string, or a protobuf 64-bit integer
/// as some WhatsApp libraries serialize it (`{"low":…,"high":…}`).
struct LenientNumber: Decodable {
    let value: Double

    private enum LongKey: String, CodingKey { case low, high }

    init(from decoder: any Decoder) throws {
        if let container = try? decoder.singleValueContainer() {
            if let number = try? container.decode(Double.self), number.isFinite {
                value = number
                return
            }
            if let text = try? container.decode(String.self),
               let number = Double(text.trimmingCharacters(in: .whitespaces)), number.isFinite
            {
                value = number
                return
            }
        }
        if let long = try? decoder.container(keyedBy: LongKey.self),
           let low = try? long.decode(Int64.self, forKey: .low), let high = try? long.decode(Int64.self, forKey: .high)
        {
            value = Double(high) * 4_294_967_296 + Double(UInt32(truncatingIfNeeded: low))
            return
        }
        throw DecodingError.typeMismatch(Double.self, .init(codingPath: decoder.codingPath,
                                                            debugDescription: "not a number"))
    }
}

/// A boolean from `true`/`false`, `1`/`0` or those as strings.
struct LenientBool: Decodable {
    let value: Bool

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let flag = try? container.decode(Bool.self) {
            value = flag
        } else if let number = try? container.decode(Int.self), number == 0 || number == 1 {
            value = number == 1
        } else if let text = try? container.decode(String.self),
                  let flag = ["true": true, "1": true, "false": false, "0": false][text.lowercased()]
        {
            value = flag
        } else {
            throw DecodingError.typeMismatch(Bool.self, .init(codingPath: decoder.codingPath,
                                                              debugDescription: "not a boolean"))
        }
    }
}

/// A value that is nil instead of an error when it does not decode.
struct Lenient<Wrapped: Decodable>: Decodable {
    let value: Wrapped?

    init(from decoder: any Decoder) {
        value = try? Wrapped(from: decoder)
    }
}

/// A JSON array whose elements that do not decode are left out. Throws only when the
/// value is not an array.
struct LenientArray<Element: Decodable>: Decodable {
    let items: [Element]
    /// How many elements were left out: the envelope parsers refuse a body whose
    /// envelope holds something other than objects where objects belong.
    let refused: Int

    init(from decoder: any Decoder) throws {
        var container = try decoder.unkeyedContainer()
        var items: [Element] = []
        var refused = 0
        while !container.isAtEnd {
            let before = container.currentIndex
            if let item = try? container.decode(Lenient<Element>.self), let value = item.value {
                items.append(value)
            } else {
                refused += 1
            }
            // A decoder that failed without moving on: step over a null, else stop
            // rather than loop.
            if container.currentIndex == before, (try? container.decodeNil()) != true { break }
        }
        self.items = items
        self.refused = refused
    }
}

/// One object or an array of them (providers send either where PROVIDERS.md says so).
struct OneOrMany<Element: Decodable>: Decodable {
    let items: [Element]
    /// Elements of the array that did not decode (see `LenientArray.refused`).
    let refused: Int

    init(from decoder: any Decoder) throws {
        if let array = try? LenientArray<Element>(from: decoder) {
            items = array.items
            refused = array.refused
        } else {
            items = [try Element(from: decoder)]
            refused = 0
        }
    }
}

extension KeyedDecodingContainer {
    /// The value at `key`, or nil when absent, null or of another shape.
    func lenient<T: Decodable>(_ key: Key, as type: T.Type = T.self) -> T? {
        try? decodeIfPresent(T.self, forKey: key)
    }

    func text(_ key: Key) -> String? { lenient(key, as: LenientText.self)?.value }

    /// The first of `keys` that holds text (for fields with two spellings).
    func firstText(_ keys: Key...) -> String? {
        for key in keys { if let value = text(key) { return value } }
        return nil
    }

    func number(_ key: Key) -> Double? { lenient(key, as: LenientNumber.self)?.value }

    func flag(_ key: Key) -> Bool? { lenient(key, as: LenientBool.self)?.value }

    /// The elements at `key` whether it holds an array or a single object; empty when absent.
    func list<T: Decodable>(_ key: Key, of type: T.Type) -> [T] { lenient(key, as: OneOrMany<T>.self)?.items ?? [] }

    /// True when `key` is present and not null.
    func holds(_ key: Key) -> Bool { contains(key) && (try? decodeNil(forKey: key)) != true }

    /// The elements at `key` as `list` reads them, and whether the value has the shape
    /// an envelope needs: `wrongShape` is true when `key` holds something other than an
    /// object or an array of objects (absent and null are not wrong, just empty).
    func objects<T: Decodable>(_ key: Key, of type: T.Type) -> (items: [T], wrongShape: Bool) {
        guard holds(key) else { return ([], false) }
        guard let list = lenient(key, as: OneOrMany<T>.self) else { return ([], true) }
        return (list.items, list.refused > 0)
    }
}
