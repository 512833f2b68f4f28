/// Turns the raw, percent-encoded request path into a canonical path that is safe to
/// append to a document root.
///
/// lighttpd-like safety rules: a decoded "/" (%2F), NUL or backslash is refused rather
/// than interpreted, ".." may never climb above "/", and the bytes must be valid UTF-8
/// (a lossy repair could map two different requests to one file, or one to a
/// different file). Decoding happens once, before dot-segment removal, so "%2e%2e" is
/// treated exactly like "..".
public enum RequestPath {
    /// - Returns: a path that starts with "/", contains no "", "." or ".." segment, and
    ///   keeps a trailing "/" when the request had one (directory requests); or 400.
    public static func normalize(_ rawPath: String) -> Result<String, HTTPParseError> {
        var raw = rawPath
        return raw.withUTF8 { bytes in
            // The common case hands back the caller's string: no new one is built.
            if isAlreadyCanonical(UnsafeRawBufferPointer(bytes)) { return .success(rawPath) }
            return normalize(UnsafeRawBufferPointer(bytes))
        }
    }

    /// Most paths are already canonical: plain ASCII, no '%', no backslash, no empty, "." or ".."
    /// segment. Recognising that takes one scan and no allocation.
    static func isAlreadyCanonical(_ raw: UnsafeRawBufferPointer) -> Bool {
        guard raw.first == ASCII.slash, let p = raw.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return false }
        // Runs on every request: a plain pointer walk, no bounds checks (i < count throughout), and
        // one mask test for the bytes that need no second look.
        let count = raw.count
        for i in 0..<count {
            let b = p[i]
            if ASCII.inSet(b, canonicalPlainSet) { continue }
            let previous = i > 0 ? p[i - 1] : 0
            if b == ASCII.slash {
                if previous == ASCII.slash { return false }
            } else if b == 0x2E {
                // "/." at a segment start: "/.x" is fine, "/." "/.." "/./" "/../" are not.
                if previous == ASCII.slash {
                    let next = i + 1 < count ? p[i + 1] : ASCII.slash
                    if next == ASCII.slash || next == 0x2E { return false }
                }
            } else {
                return false   // '%', backslash, NUL or a byte from 0x80 up
            }
        }
        return true
    }

    /// Bytes 0x01-0x7F other than '%', backslash, '/' and '.': nothing to check in a canonical path.
    static let canonicalPlainSet = ASCII.ByteSet(low: 0xffff_3fdf_ffff_fffe, high: 0xffff_ffff_efff_ffff)

    static func normalize(_ raw: UnsafeRawBufferPointer) -> Result<String, HTTPParseError> {
        guard raw.first == ASCII.slash else { return .failure(.badRequest("path does not start with '/'")) }
        if isAlreadyCanonical(raw) {
            return .success(String(decoding: raw, as: UTF8.self))
        }
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var segmentStarts: [Int] = []
        var trailingSlash = false
        var i = 1
        while true {
            // One raw segment: raw[i..<end]
            var end = i
            while end < raw.count && raw[end] != ASCII.slash { end += 1 }
            let mark = out.count
            out.append(ASCII.slash)
            var j = i
            while j < end {
                var b = raw[j]
                if b == ASCII.percent {
                    guard j + 2 < end,
                          let hi = ASCII.hexValue(raw[j + 1]), let lo = ASCII.hexValue(raw[j + 2]) else {
                        return .failure(.badRequest("invalid percent-encoding in path"))
                    }
                    b = UInt8(hi << 4 | lo)
                    if b == ASCII.slash { return .failure(.badRequest("encoded '/' in path")) }
                    j += 3
                } else {
                    j += 1
                }
                if b == 0 { return .failure(.badRequest("NUL in path")) }
                if b == ASCII.backslash { return .failure(.badRequest("backslash in path")) }
                out.append(b)
            }
            let length = out.count - mark - 1
            let isDot = length == 1 && out[mark + 1] == 0x2E
            let isDotDot = length == 2 && out[mark + 1] == 0x2E && out[mark + 2] == 0x2E
            if length == 0 || isDot {
                out.removeSubrange(mark...)
            } else if isDotDot {
                out.removeSubrange(mark...)
                guard let parent = segmentStarts.popLast() else {
                    return .failure(.badRequest("path climbs above the root"))
                }
                out.removeSubrange(parent...)
            } else {
                segmentStarts.append(mark)
            }
            if end >= raw.count {
                trailingSlash = length == 0 || isDot || isDotDot
                break
            }
            i = end + 1
        }
        if out.isEmpty || trailingSlash { out.append(ASCII.slash) }
        guard let s = String(validating: out, as: UTF8.self) else {
            return .failure(.badRequest("path is not valid UTF-8"))
        }
        return .success(s)
    }

    /// Percent-decodes a query string or component. nil for a malformed %XX or when the
    /// result is not valid UTF-8. `plusAsSpace` applies form encoding ('+' = ' ').
    public static func percentDecode(_ s: String, plusAsSpace: Bool = false) -> String? {
        guard s.utf8.contains(where: { $0 == ASCII.percent || (plusAsSpace && $0 == 0x2B) }) else { return s }
        var out: [UInt8] = []
        let raw = Array(s.utf8)
        out.reserveCapacity(raw.count)
        var i = 0
        while i < raw.count {
            let b = raw[i]
            if b == ASCII.percent {
                guard i + 2 < raw.count, let hi = ASCII.hexValue(raw[i + 1]), let lo = ASCII.hexValue(raw[i + 2]) else {
                    return nil
                }
                out.append(UInt8(hi << 4 | lo))
                i += 3
            } else {
                out.append(plusAsSpace && b == 0x2B ? ASCII.sp : b)
                i += 1
            }
        }
        return String(validating: out, as: UTF8.self)
    }
}
