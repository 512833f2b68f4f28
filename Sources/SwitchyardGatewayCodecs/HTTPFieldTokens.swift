/// Case-insensitive reading of HTTP field values and names without building strings: the token
/// lists of `Connection` and `Upgrade` (`keep-alive, Upgrade`), and the hop-by-hop field names a
/// proxy drops. Every proxied request and response runs these over each of its fields, so they
/// compare bytes in place instead of splitting, lower-casing and hashing copies.
public enum HTTPFieldTokens {
    /// `list` (comma-separated, optional whitespace) holds `token`, compared ASCII
    /// case-insensitively. `token` must be lower-case.
    public static func list(_ list: String, contains token: String) -> Bool {
        var found = false
        forEachToken(in: list) { t in
            if equalsLowercased(t, token.utf8) { found = true }
            return !found
        }
        return found
    }

    /// `list` holds exactly one token and it is `token` (lower-case).
    public static func list(_ list: String, isOnly token: String) -> Bool {
        var count = 0
        var matched = false
        forEachToken(in: list) { t in
            count += 1
            matched = equalsLowercased(t, token.utf8)
            return count < 2
        }
        return count == 1 && matched
    }

    /// One of the `lists` names the field `name` (a `Connection` value naming fields to drop).
    public static func lists(_ lists: [String], name: String) -> Bool {
        for l in lists {
            var found = false
            forEachToken(in: l) { t in
                if equalsIgnoringCase(t, name.utf8) { found = true }
                return !found
            }
            if found { return true }
        }
        return false
    }

    /// `name` equals `lower` (a lower-case literal) ignoring ASCII case.
    @inline(__always)
    public static func name(_ name: String, is lower: StaticString) -> Bool {
        let l = UnsafeRawBufferPointer(start: lower.utf8Start, count: lower.utf8CodeUnitCount)
        guard name.utf8.count == l.count else { return false }
        var i = 0
        for b in name.utf8 {
            if lowerByte(b) != l[i] { return false }
            i += 1
        }
        return true
    }

    /// `name` starts with `lower` (a lower-case literal) ignoring ASCII case.
    public static func name(_ name: String, hasPrefix lower: StaticString) -> Bool {
        let l = UnsafeRawBufferPointer(start: lower.utf8Start, count: lower.utf8CodeUnitCount)
        guard name.utf8.count >= l.count else { return false }
        var i = 0
        for b in name.utf8 {
            if i == l.count { return true }
            if lowerByte(b) != l[i] { return false }
            i += 1
        }
        return true
    }

    /// Calls `body` with each non-empty token of `list`, trimmed of spaces and tabs, until it
    /// returns false.
    static func forEachToken(in list: String, _ body: (Substring.UTF8View) -> Bool) {
        let utf8 = list.utf8
        var start = utf8.startIndex
        while start < utf8.endIndex {
            let comma = utf8[start...].firstIndex(of: UInt8(ascii: ",")) ?? utf8.endIndex
            var lo = start, hi = comma
            while lo < hi, utf8[lo] == UInt8(ascii: " ") || utf8[lo] == UInt8(ascii: "\t") { lo = utf8.index(after: lo) }
            while hi > lo {
                let before = utf8.index(before: hi)
                guard utf8[before] == UInt8(ascii: " ") || utf8[before] == UInt8(ascii: "\t") else { break }
                hi = before
            }
            if lo < hi, !body(Substring(list)[lo..<hi].utf8) { return }
            start = comma == utf8.endIndex ? comma : utf8.index(after: comma)
        }
    }

    @inline(__always)
    static func lowerByte(_ b: UInt8) -> UInt8 { b >= 0x41 && b <= 0x5A ? b | 0x20 : b }

    static func equalsLowercased<S: Collection<UInt8>>(_ token: Substring.UTF8View, _ lower: S) -> Bool {
        guard token.count == lower.count else { return false }
        return zip(token, lower).allSatisfy { lowerByte($0) == $1 }
    }

    static func equalsIgnoringCase<S: Collection<UInt8>>(_ token: Substring.UTF8View, _ other: S) -> Bool {
        guard token.count == other.count else { return false }
        return zip(token, other).allSatisfy { lowerByte($0) == lowerByte($1) }
    }
}
