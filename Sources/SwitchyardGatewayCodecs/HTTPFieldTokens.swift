/// Case-insensitive reading of HTTP field values and names without building strings: the token
/// lists of `Connection` and `Upgrade` (`keep-alive, Upgrade`), and the hop-by-hop field names a
/// proxy drops. Every proxied request and response runs these over each of its fields, so they
/// compare bytes in place instead of splitting, lower-casing and hashing copies.
public enum HTTPFieldTokens {
    /// `list` (comma-separated, optional whitespace) holds `token`, compared ASCII
    /// case-insensitively. `token` must be lower-case.
    public static func list(_ list: String, contains token: String) -> Bool {
        var token = token
        return token.withUTF8 { lower in
            var found = false
            forEachToken(in: list) { t in
                if equals(t, UnsafeRawBufferPointer(lower), lowerCasingBoth: false) { found = true }
                return !found
            }
            return found
        }
    }

    /// `list` holds exactly one token and it is `token` (lower-case).
    public static func list(_ list: String, isOnly token: String) -> Bool {
        var token = token
        return token.withUTF8 { lower in
            var count = 0
            var matched = false
            forEachToken(in: list) { t in
                count += 1
                matched = equals(t, UnsafeRawBufferPointer(lower), lowerCasingBoth: false)
                return count < 2
            }
            return count == 1 && matched
        }
    }

    /// One of the `lists` names the field `name` (a `Connection` value naming fields to drop).
    public static func lists(_ lists: [String], name: String) -> Bool {
        if lists.isEmpty { return false }
        var name = name
        return name.withUTF8 { nameBytes in
            for l in lists {
                var found = false
                forEachToken(in: l) { t in
                    if equals(t, UnsafeRawBufferPointer(nameBytes), lowerCasingBoth: true) { found = true }
                    return !found
                }
                if found { return true }
            }
            return false
        }
    }

    /// `name` equals `lower` (a lower-case literal) ignoring ASCII case.
    @inline(__always)
    public static func name(_ name: String, is lower: StaticString) -> Bool {
        let l = UnsafeRawBufferPointer(start: lower.utf8Start, count: lower.utf8CodeUnitCount)
        guard name.utf8.count == l.count else { return false }
        var name = name
        return name.withUTF8 { equals(UnsafeRawBufferPointer($0), l, lowerCasingBoth: false) }
    }

    /// `name` starts with `lower` (a lower-case literal) ignoring ASCII case.
    public static func name(_ name: String, hasPrefix lower: StaticString) -> Bool {
        let l = UnsafeRawBufferPointer(start: lower.utf8Start, count: lower.utf8CodeUnitCount)
        guard name.utf8.count >= l.count else { return false }
        var name = name
        return name.withUTF8 { equals(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer($0)[0..<l.count]), l, lowerCasingBoth: false) }
    }

    /// Calls `body` with each non-empty token of `list`, trimmed of spaces and tabs, until it
    /// returns false. The tokens are the string's own bytes, valid only during the call.
    static func forEachToken(in list: String, _ body: (UnsafeRawBufferPointer) -> Bool) {
        var list = list
        list.withUTF8 { utf8 in
            let bytes = UnsafeRawBufferPointer(utf8)
            let end = bytes.count
            var start = 0
            while start < end {
                var comma = start
                while comma < end && bytes[comma] != UInt8(ascii: ",") { comma += 1 }
                var lo = start, hi = comma
                while lo < hi && isSpaceOrTab(bytes[lo]) { lo += 1 }
                while hi > lo && isSpaceOrTab(bytes[hi - 1]) { hi -= 1 }
                if lo < hi && !body(UnsafeRawBufferPointer(rebasing: bytes[lo..<hi])) { return }
                start = comma + 1
            }
        }
    }

    @inline(__always)
    static func isSpaceOrTab(_ b: UInt8) -> Bool { b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") }

    @inline(__always)
    static func lowerByte(_ b: UInt8) -> UInt8 { b >= 0x41 && b <= 0x5A ? b | 0x20 : b }

    /// `a` equals `b` ignoring ASCII case: `b` is taken as lower-case already unless `lowerCasingBoth`.
    @inline(__always)
    static func equals(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer, lowerCasingBoth: Bool) -> Bool {
        guard a.count == b.count else { return false }
        for i in 0..<a.count {
            let y = lowerCasingBoth ? lowerByte(b[i]) : b[i]
            if lowerByte(a[i]) != y { return false }
        }
        return true
    }
}
