public import Foundation

/// The JSON conventions of every contract (envelopes, events, the REST API): instants
/// as RFC 3339 in UTC with milliseconds on output; on input fractional seconds and
/// offsets are optional.
public enum WireJSON {
    /// Shared instances for hot paths; they are not reconfigured after creation.
    public static let sharedEncoder = encoder()
    public static let sharedDecoder = decoder()

    public static func encoder(sortedKeys: Bool = false) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(format(date))
        }
        encoder.outputFormatting = sortedKeys ? [.sortedKeys, .withoutEscapingSlashes] : [.withoutEscapingSlashes]
        return encoder
    }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = parseDate(text) else {
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "'\(text)' is not an RFC 3339 date-time (e.g. 2026-11-21T16:05:00Z)")
            }
            return date
        }
        return decoder
    }

    private static let withFraction = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
    private static let withoutFraction = Date.ISO8601FormatStyle()

    /// `2026-11-21T16:05:00.123Z`.
    public static func format(_ date: Date) -> String { withFraction.format(date) }

    /// Reads an RFC 3339 date-time, with or without fractional seconds, `Z` or an offset.
    public static func parseDate(_ text: String) -> Date? {
        // A date-time needs at least a date, a time and a zone: reject anything shorter.
        guard text.utf8.count >= 20 else { return nil }
        if let date = try? withFraction.parse(text) { return date }
        if let date = try? withoutFraction.parse(text) { return date }
        return nil
    }
}
