#if canImport(Glibc)
import Glibc
#endif

/// The encoder half of the byte-preserving header values of SwitchyardHTTP (`FieldValueBytes`):
/// a request header byte from 0x80 up that is not valid UTF-8 arrives here as the code point
/// U+10FF00 + byte (UTF-8 `F4 8F BE|BF xx`), and every encoder (CGI environment, SCGI, uwsgi,
/// FastCGI) writes it back as that one byte, so a backend receives the header byte-exact.
///
/// Only code points U+10FF80...U+10FFFF are mapped, so the output never gains an ASCII byte.
/// Values without the byte 0xF4 (all but a vanishing few) take the plain path: one memchr.
enum CGIByteEscape {
    @inline(__always)
    static func hasEscapes(_ s: String) -> Bool {
        var s = s
        return s.withUTF8 { b in
            guard let base = b.baseAddress, b.count >= 4 else { return false }
            return memchr(base, 0xF4, b.count) != nil
        }
    }

    /// Bytes the value occupies once written.
    @inline(__always)
    static func byteCount(_ s: String) -> Int {
        let n = s.utf8.count
        guard hasEscapes(s) else { return n }
        var escapes = 0
        forEachEscape(s) { _ in escapes += 1 }
        return n - 3 * escapes
    }

    /// Appends the value's bytes, escapes turned back into single bytes.
    @inline(__always)
    static func append(_ s: String, to out: inout [UInt8]) {
        guard hasEscapes(s) else { out.appendUTF8(s); return }
        out.append(contentsOf: bytes(s))
    }

    /// The value's bytes, escapes turned back into single bytes.
    static func bytes(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        var copy = s
        copy.withUTF8 { b in
            out.reserveCapacity(b.count)
            var i = 0
            while i < b.count {
                if let byte = escapedByte(b, at: i) {
                    out.append(byte)
                    i += 4
                } else {
                    out.append(b[i])
                    i += 1
                }
            }
        }
        return out
    }

    private static func forEachEscape(_ s: String, _ body: (UInt8) -> Void) {
        var copy = s
        copy.withUTF8 { b in
            var i = 0
            while i < b.count {
                if let byte = escapedByte(b, at: i) { body(byte); i += 4 } else { i += 1 }
            }
        }
    }

    /// `F4 8F BE 80...F4 8F BF BF` (U+10FF80...U+10FFFF) at `i` -> the byte 0x80...0xFF it stands for.
    @inline(__always)
    private static func escapedByte(_ b: UnsafeBufferPointer<UInt8>, at i: Int) -> UInt8? {
        guard b[i] == 0xF4, i + 3 < b.count, b[i + 1] == 0x8F, b[i + 2] == 0xBE || b[i + 2] == 0xBF else { return nil }
        return 0x80 | (b[i + 2] == 0xBF ? 0x40 : 0) | (b[i + 3] & 0x3F)
    }
}
