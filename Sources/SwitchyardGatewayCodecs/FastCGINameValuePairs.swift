import SwitchyardHTTP

/// FastCGI name-value pair encoding (spec 3.4): each length is one byte if < 128, else four bytes
/// big-endian with the high bit set. Used by PARAMS, GET_VALUES and GET_VALUES_RESULT.
public enum FastCGINameValuePairs {
    /// Appends the pairs without record framing (see `FastCGIRecordEncoder.params` for that).
    public static func encode(_ pairs: some Sequence<(name: String, value: String)>, into out: inout [UInt8]) {
        for (name, value) in pairs {
            appendLength(name.utf8.count, into: &out)
            appendLength(FieldValueBytes.byteCount(value), into: &out)
            out.appendUTF8(name)
            FieldValueBytes.append(value, to: &out)
        }
    }

    /// Encoded size of one pair.
    public static func encodedSize(name: String, value: String) -> Int {
        let n = name.utf8.count, v = FieldValueBytes.byteCount(value)
        return (n < 128 ? 1 : 4) + (v < 128 ? 1 : 4) + n + v
    }

    /// Decodes complete pair data (e.g. all PARAMS content concatenated; pairs may straddle
    /// records, so decode after the empty PARAMS record). Names are decoded as UTF-8; values keep
    /// every byte (`FieldValueBytes`), exactly as `decodeEnvironment` does.
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(FastCGIError) -> [(String, String)] {
        var result: [(String, String)] = []
        try forEachPair(bytes) { name, value in
            result.append((String(decoding: name, as: UTF8.self), FieldValueBytes.string(value)))
        }
        return result
    }

    /// Decodes into an environment (a repeated name keeps the last value).
    public static func decodeEnvironment(_ bytes: UnsafeRawBufferPointer) throws(FastCGIError) -> CGIEnvironment {
        var env = CGIEnvironment()
        try forEachPair(bytes) { name, value in
            env.set(String(decoding: name, as: UTF8.self), FieldValueBytes.string(value))
        }
        return env
    }

    /// Visits each pair as raw byte views into `bytes`, without allocating.
    public static func forEachPair(
        _ bytes: UnsafeRawBufferPointer,
        _ body: (_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) -> Void
    ) throws(FastCGIError) {
        var p = 0
        let end = bytes.count
        func length() throws(FastCGIError) -> Int {
            guard p < end else { throw FastCGIError(.truncatedPair, "pair length missing at offset \(p)") }
            let b0 = bytes[p]
            if b0 & 0x80 == 0 { p += 1; return Int(b0) }
            guard end - p >= 4 else { throw FastCGIError(.truncatedPair, "4-byte pair length cut off at offset \(p)") }
            let n = Int(b0 & 0x7F) << 24 | Int(bytes[p + 1]) << 16 | Int(bytes[p + 2]) << 8 | Int(bytes[p + 3])
            p += 4
            return n
        }
        while p < end {
            let n = try length()
            let v = try length()
            guard end - p >= n, end - p - n >= v else {
                throw FastCGIError(.pairTooLong, "pair declares \(n)+\(v) bytes, only \(end - p) left")
            }
            body(UnsafeRawBufferPointer(rebasing: bytes[p..<(p + n)]),
                 UnsafeRawBufferPointer(rebasing: bytes[(p + n)..<(p + n + v)]))
            p += n + v
        }
    }

    @inline(__always)
    static func appendLength(_ n: Int, into out: inout [UInt8]) {
        if n < 128 { out.append(UInt8(n)) } else { out.appendUInt32BE(UInt32(n) | 0x8000_0000) }
    }
}
