#if canImport(Glibc)
import Glibc
#endif

/// Header values as Strings without losing bytes.
///
/// RFC 9110 allows any byte from 0x80 up in a field value (obs-text), and a backend may rely on the
/// exact bytes (a Latin-1 filename, a binary token). A Swift String holds only valid Unicode, so
/// decoding such bytes as UTF-8 would replace them with U+FFFD. Instead every byte that is not part
/// of a valid UTF-8 sequence is kept as one code point of a private range, U+10FF80...U+10FFFF
/// (byte 0x80 + k -> U+10FF80 + k; Plane 16 private use, never produced by a real client), and
/// the gateway encoders (SwitchyardGatewayCodecs: CGI environment, SCGI, uwsgi, FastCGI) write those
/// code points back as the single bytes through `byteCount` / `append` / `bytes` below.
///
/// The mapping is exact for every input: a client that sends the UTF-8 form of a code point in that
/// range has each of its four bytes escaped too. Only bytes from 0x80 up are ever escaped, so
/// the reverse mapping can never produce an ASCII byte ('/', '.', NUL) a check did not see.
public enum FieldValueBytes {
    /// The first code point of the escape range (byte 0x80).
    public static let escapeBase: UInt32 = 0x10FF00

    /// The value as a String: plain UTF-8 decoding when every byte is ASCII (the common case,
    /// one pass), the byte-preserving decoding otherwise.
    @inline(__always)
    public static func string(_ bytes: UnsafeRawBufferPointer) -> String {
        if isASCII(bytes) { return String(decoding: bytes, as: UTF8.self) }
        return preservingString(bytes)
    }

    /// Eight bytes at a time: values are short, and this runs for every header of every request.
    @inline(__always)
    static func isASCII(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        let n = bytes.count
        while i + 8 <= n {
            if bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 != 0 { return false }
            i += 8
        }
        while i < n {
            if bytes[i] >= 0x80 { return false }
            i += 1
        }
        return true
    }

    static func preservingString(_ bytes: UnsafeRawBufferPointer) -> String {
        var scalars = String.UnicodeScalarView()
        var i = 0
        while i < bytes.count {
            let n = validSequenceLength(bytes, at: i)
            if n == 0 {
                scalars.append(Unicode.Scalar(escapeBase + UInt32(bytes[i]))!)
                i += 1
                continue
            }
            var value = n == 1 ? UInt32(bytes[i]) : UInt32(bytes[i]) & (0x7F >> n)
            if n > 1 { for k in 1..<n { value = value << 6 | UInt32(bytes[i + k] & 0x3F) } }
            if value >= escapeBase + 0x80 {
                // A real U+10FF80...U+10FFFF would read back as one byte: keep its four bytes instead.
                for k in 0..<n { scalars.append(Unicode.Scalar(escapeBase + UInt32(bytes[i + k]))!) }
            } else {
                scalars.append(Unicode.Scalar(value)!)
            }
            i += n
        }
        return String(scalars)
    }

    /// Length of the well-formed UTF-8 sequence at `i` (Unicode table 3-7), 0 when there is none.
    static func validSequenceLength(_ b: UnsafeRawBufferPointer, at i: Int) -> Int {
        let b0 = b[i]
        func cont(_ k: Int, _ lo: UInt8 = 0x80, _ hi: UInt8 = 0xBF) -> Bool {
            i + k < b.count && b[i + k] >= lo && b[i + k] <= hi
        }
        switch b0 {
        case 0x00...0x7F: return 1
        case 0xC2...0xDF: return cont(1) ? 2 : 0
        case 0xE0: return cont(1, 0xA0) && cont(2) ? 3 : 0
        case 0xED: return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0
        case 0xE1...0xEF: return cont(1) && cont(2) ? 3 : 0
        case 0xF0: return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0
        case 0xF1...0xF3: return cont(1) && cont(2) && cont(3) ? 4 : 0
        case 0xF4: return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0
        default: return 0
        }
    }

    // MARK: - Back to bytes (the gateway encoders)
    //
    // An escape is U+10FF80...U+10FFFF, UTF-8 `F4 8F BE|BF xx`; values without the byte 0xF4 (all
    // but a vanishing few) take the plain path after one memchr.

    @inlinable
    public static func hasEscapes(_ s: String) -> Bool {
        var s = s
        return s.withUTF8 { b in
            guard let base = b.baseAddress, b.count >= 4 else { return false }
            return memchr(base, 0xF4, b.count) != nil
        }
    }

    /// Bytes the value occupies once written.
    @inlinable
    public static func byteCount(_ s: String) -> Int {
        let n = s.utf8.count
        guard hasEscapes(s) else { return n }
        var escapes = 0
        forEachEscape(s) { _ in escapes += 1 }
        return n - 3 * escapes
    }

    /// Appends the value's bytes, escapes turned back into single bytes.
    @inlinable
    public static func append(_ s: String, to out: inout [UInt8]) {
        guard hasEscapes(s) else { var c = s; c.withUTF8 { out.append(contentsOf: $0) }; return }
        out.append(contentsOf: bytes(s))
    }

    /// The value's bytes, escapes turned back into single bytes.
    public static func bytes(_ s: String) -> [UInt8] {
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

    @usableFromInline
    static func forEachEscape(_ s: String, _ body: (UInt8) -> Void) {
        var copy = s
        copy.withUTF8 { b in
            var i = 0
            while i < b.count {
                if let byte = escapedByte(b, at: i) { body(byte); i += 4 } else { i += 1 }
            }
        }
    }

    /// `F4 8F BE 80...F4 8F BF BF` (U+10FF80...U+10FFFF) at `i` -> the byte 0x80...0xFF it stands for.
    @inlinable
    static func escapedByte(_ b: UnsafeBufferPointer<UInt8>, at i: Int) -> UInt8? {
        guard b[i] == 0xF4, i + 3 < b.count, b[i + 1] == 0x8F, b[i + 2] == 0xBE || b[i + 2] == 0xBF else { return nil }
        return 0x80 | (b[i + 2] == 0xBF ? 0x40 : 0) | (b[i + 3] & 0x3F)
    }
}
