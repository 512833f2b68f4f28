import SwitchyardHTTP

/// Encodes a uwsgi request packet header (modifier1 0): `modifier1, datasize u16 LE, modifier2`,
/// then each variable as `u16 LE length, name, u16 LE length, value`. The body follows unframed.
/// The 16-bit size is a hard protocol limit, so an oversized environment throws instead of
/// producing a corrupt packet; nothing is appended on error.
public enum UWSGIRequestEncoder {
    public static func encodeHeaders(_ env: CGIEnvironment, modifier1: UInt8 = 0, modifier2: UInt8 = 0,
                                     into out: inout [UInt8]) throws(UWSGIError) {
        var size = 0
        for (name, value) in env {
            let n = name.utf8.count, v = FieldValueBytes.byteCount(value)
            if n > 0xFFFF || v > 0xFFFF {
                throw UWSGIError(.tooLarge, "variable \(name) longer than 65535 bytes")
            }
            size += 4 + n + v
        }
        if size > 0xFFFF { throw UWSGIError(.tooLarge, "variables total \(size) bytes, more than 65535") }
        out.reserveCapacity(out.count + 4 + size)
        out.append(modifier1)
        out.appendUInt16LE(UInt16(size))
        out.append(modifier2)
        for (name, value) in env {
            out.appendUInt16LE(UInt16(name.utf8.count))
            out.appendUTF8(name)
            out.appendUInt16LE(UInt16(FieldValueBytes.byteCount(value)))
            FieldValueBytes.append(value, to: &out)
        }
    }
}
