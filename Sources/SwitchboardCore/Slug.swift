/// The ids Switchboard names things by (tenants, sessions): 1–63 of `a-z 0-9 -`, not
/// starting with `-`. They appear in routing keys, queue names, policy patterns and
/// URLs, where a dot, a wildcard or upper case would change what they match.
enum Slug {
    static func isValid(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard (1...63).contains(bytes.count), bytes[0] != UInt8(ascii: "-") else { return false }
        return bytes.allSatisfy { b in
            (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
                || b == UInt8(ascii: "-")
        }
    }
}
