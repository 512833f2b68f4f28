#if canImport(Glibc)
import Glibc
#endif

/// Byte classes and constants shared by the codecs (RFC 9110 5.6.2 token characters etc.).
/// Functions over `UInt8` so the scanners never build Characters or Strings.
enum ASCII {
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let sp: UInt8 = 0x20
    static let htab: UInt8 = 0x09
    static let colon: UInt8 = 0x3A
    static let comma: UInt8 = 0x2C
    static let semicolon: UInt8 = 0x3B
    static let slash: UInt8 = 0x2F
    static let question: UInt8 = 0x3F
    static let percent: UInt8 = 0x25
    static let backslash: UInt8 = 0x5C

    /// tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
    @inline(__always)
    static func isTokenChar(_ b: UInt8) -> Bool { inSet(b, tokenSet) }

    /// A set of ASCII bytes as a 128-bit mask (`low`: bytes 0–63, `high`: 64–127): a scanner's
    /// test of a byte is a shift and an and instead of a chain of range comparisons (the request
    /// line and every header name go through one per byte). Bytes from 0x80 up are never members.
    struct ByteSet {
        let low: UInt64
        let high: UInt64
    }

    /// tchar (RFC 9110 5.6.2), the `switch` in `ASCIITests` being the reference.
    static let tokenSet = ByteSet(low: 0x03ff_6cfa_0000_0000, high: 0x57ff_ffff_c7ff_fffe)
    /// What a Host / authority may contain: unreserved, sub-delims, ":", "[", "]" and "%".
    static let authoritySet = ByteSet(low: 0x2fff_7ff2_0000_0000, high: 0x47ff_fffe_afff_fffe)

    @inline(__always)
    static func inSet(_ b: UInt8, _ set: ByteSet) -> Bool {
        let bit = UInt64(1) &<< UInt64(b & 63)
        return (b < 64 ? set.low & bit : (b < 128 ? set.high & bit : 0)) != 0
    }

    @inline(__always)
    static func isWhitespace(_ b: UInt8) -> Bool { b == sp || b == htab }

    /// Control characters other than HTAB (incl. NUL, CR, LF, DEL): never allowed in a field value.
    @inline(__always)
    static func isForbiddenInValue(_ b: UInt8) -> Bool { (b < 0x20 && b != htab) || b == 0x7F }

    /// The first byte of `value` that `isForbiddenInValue` refuses, or nil. Eight bytes at a time:
    /// a word with no byte below 0x20 and no DEL is passed over at once (the test is exact: a
    /// borrow only runs on from a byte that was below), a word that may hold one (a tab is below
    /// 0x20 and allowed) is read byte by byte. Every field value of every request passes here.
    static func firstForbiddenInValue(_ value: UnsafeRawBufferPointer) -> UInt8? {
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        var i = 0
        while i + 8 <= value.count {
            let word = value.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            let del = word ^ (ones &* 0x7f)
            if (word &- ones &* 0x20) & ~word & highs != 0 || (del &- ones) & ~del & highs != 0 {
                for j in i..<i + 8 where isForbiddenInValue(value[j]) { return value[j] }
            }
            i += 8
        }
        while i < value.count {
            if isForbiddenInValue(value[i]) { return value[i] }
            i += 1
        }
        return nil
    }

    @inline(__always)
    static func lower(_ b: UInt8) -> UInt8 { (b >= 0x41 && b <= 0x5A) ? b | 0x20 : b }

    /// Value of a hex digit, or nil.
    @inline(__always)
    static func hexValue(_ b: UInt8) -> Int? {
        switch b {
        case 0x30...0x39: return Int(b - 0x30)
        case 0x41...0x46: return Int(b - 0x41 + 10)
        case 0x61...0x66: return Int(b - 0x61 + 10)
        default: return nil
        }
    }

    /// Case-insensitive comparison of raw bytes with a lower-case ASCII literal.
    @inline(__always)
    static func equalsLowercased(_ bytes: UnsafeRawBufferPointer, _ lowercased: StaticString) -> Bool {
        guard bytes.count == lowercased.utf8CodeUnitCount else { return false }
        let p = lowercased.utf8Start
        for i in 0..<bytes.count where lower(bytes[i]) != p[i] { return false }
        return true
    }

    /// Case-insensitive ASCII comparison of two Strings without allocating.
    static func caseInsensitiveEquals(_ a: String, _ b: String) -> Bool {
        // Header lookups run many times per request: compare lengths first, then contiguous bytes.
        if a.utf8.count != b.utf8.count { return false }
        var x = a, y = b
        return x.withUTF8 { pa in
            y.withUTF8 { pb in
                for i in 0..<pa.count where pa[i] != pb[i] && lower(pa[i]) != lower(pb[i]) { return false }
                return true
            }
        }
    }

    /// Lower-cases the ASCII letters of a String (non-ASCII bytes unchanged).
    static func lowercased(_ s: String) -> String {
        if !s.utf8.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) { return s }
        return String(decoding: s.utf8.map(lower), as: UTF8.self)
    }

    /// Index of the first `byte` in `bytes` (memchr: the request line is searched several times).
    static func firstIndex(of byte: UInt8, in bytes: UnsafeRawBufferPointer) -> Int? {
        guard let base = bytes.baseAddress, let hit = memchr(base, Int32(byte), bytes.count) else { return nil }
        return base.distance(to: UnsafeRawPointer(hit))
    }

    /// Trims SP and HTAB at both ends.
    static func trimmed(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var s = 0, e = bytes.count
        while s < e && isWhitespace(bytes[s]) { s += 1 }
        while e > s && isWhitespace(bytes[e - 1]) { e -= 1 }
        return UnsafeRawBufferPointer(rebasing: bytes[s..<e])
    }

    static func string(_ bytes: UnsafeRawBufferPointer) -> String {
        String(decoding: bytes, as: UTF8.self)
    }

    /// Calls `body` with each comma-separated element of `bytes`, trimmed of OWS; empty elements
    /// are skipped (RFC 9110 5.6.1). Stops early when `body` returns false.
    static func forEachListElement(_ bytes: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Bool) {
        var start = 0
        var i = 0
        while i <= bytes.count {
            if i == bytes.count || bytes[i] == comma {
                let element = trimmed(UnsafeRawBufferPointer(rebasing: bytes[start..<i]))
                if !element.isEmpty && !body(element) { return }
                start = i + 1
            }
            i += 1
        }
    }
}
