public import struct Foundation.Date

/// A message id: a ULID (48-bit millisecond time, 80 random bits, Crockford base32),
/// so ids sort by creation time and need no coordination between API instances.
/// Publishers may bring their own id (the idempotency key) instead.
public enum MessageID {
    private static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)

    public static func make(at date: Date = Date()) -> String {
        var generator = SystemRandomNumberGenerator()
        return make(at: date, using: &generator)
    }

    public static func make<G: RandomNumberGenerator>(at date: Date, using generator: inout G) -> String {
        let milliseconds = UInt64(max(0, date.timeIntervalSince1970 * 1000))
        let high = UInt64.random(in: 0...UInt64.max, using: &generator)
        let low = UInt16.random(in: 0...UInt16.max, using: &generator)
        // 130 bits: 2 zero bits, 48 bits of time, 80 random bits (64 + 16).
        var bits: [UInt8] = []
        func append(_ value: UInt64, count: Int) {
            for shift in stride(from: count - 1, through: 0, by: -1) { bits.append(UInt8((value >> UInt64(shift)) & 1)) }
        }
        append(0, count: 2)
        append(milliseconds & 0xFFFF_FFFF_FFFF, count: 48)
        append(high, count: 64)
        append(UInt64(low), count: 16)
        var text: [UInt8] = []
        text.reserveCapacity(26)
        for chunk in stride(from: 0, to: 130, by: 5) {
            let index = bits[chunk..<chunk + 5].reduce(0) { $0 << 1 | Int($1) }
            text.append(alphabet[index])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// True for ids a publisher may choose: 1–128 of `A-Z a-z 0-9 . _ : -`.
    public static func isValid(_ id: String) -> Bool {
        let bytes = Array(id.utf8)
        return (1...128).contains(bytes.count) && bytes.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                || b == 0x2E || b == 0x5F || b == 0x3A || b == 0x2D
        }
    }
}
