/// Standard base64 (RFC 4648 section 4, `+/` alphabet, `=` padding).
///
/// Needed for `Sec-WebSocket-Key` and `Sec-WebSocket-Accept` without Foundation.
public enum Base64 {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// 0...63 for alphabet bytes, 0xFF otherwise.
    private static let reverse: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in alphabet.enumerated() { table[Int(c)] = UInt8(i) }
        return table
    }()

    /// Encodes with padding, straight into the string's storage.
    public static func encode(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBufferPointer { encode($0) }
    }

    /// The same for bytes in place (a digest, a key).
    public static func encode(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        let length = (bytes.count + 2) / 3 * 4
        return alphabet.withUnsafeBufferPointer { alphabet in
            String(unsafeUninitializedCapacity: length) { out in
                var i = 0, o = 0
                while i + 3 <= bytes.count {
                    let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
                    out[o] = alphabet[Int(v >> 18 & 63)]
                    out[o + 1] = alphabet[Int(v >> 12 & 63)]
                    out[o + 2] = alphabet[Int(v >> 6 & 63)]
                    out[o + 3] = alphabet[Int(v & 63)]
                    i += 3
                    o += 4
                }
                switch bytes.count - i {
                case 1:
                    let v = UInt32(bytes[i]) << 16
                    out[o] = alphabet[Int(v >> 18 & 63)]
                    out[o + 1] = alphabet[Int(v >> 12 & 63)]
                    out[o + 2] = UInt8(ascii: "=")
                    out[o + 3] = UInt8(ascii: "=")
                    o += 4
                case 2:
                    let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
                    out[o] = alphabet[Int(v >> 18 & 63)]
                    out[o + 1] = alphabet[Int(v >> 12 & 63)]
                    out[o + 2] = alphabet[Int(v >> 6 & 63)]
                    out[o + 3] = UInt8(ascii: "=")
                    o += 4
                default:
                    break
                }
                return o
            }
        }
    }

    /// Decodes padded or unpadded input; nil on any byte outside the alphabet (including
    /// whitespace), misplaced padding, or an impossible length.
    public static func decode(_ s: String) -> [UInt8]? {
        var s = s
        return s.withUTF8 { decode($0) }
    }

    /// The same for bytes in place.
    public static func decode(_ bytes: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        var end = bytes.count
        var padding = 0
        while end > 0, bytes[end - 1] == UInt8(ascii: "="), padding < 2 {
            end -= 1
            padding += 1
        }
        if padding > 0 && (end + padding) % 4 != 0 { return nil }
        if end % 4 == 1 { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(end * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        let valid: Bool = reverse.withUnsafeBufferPointer { reverse in
            for c in UnsafeBufferPointer(rebasing: bytes[0..<end]) {
                let v = reverse[Int(c)]
                if v == 0xFF { return false }
                accumulator = accumulator << 6 | UInt32(v)
                bits += 6
                if bits >= 8 {
                    bits -= 8
                    out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
                }
            }
            return true
        }
        if !valid { return nil }
        // Leftover bits must be zero in canonical encodings.
        if bits > 0 && accumulator & ((1 << UInt32(bits)) - 1) != 0 { return nil }
        return out
    }
}
