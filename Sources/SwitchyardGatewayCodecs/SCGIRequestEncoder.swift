import SwitchyardHTTP

/// Encodes the SCGI request header (python.ca/scgi/protocol.txt): one netstring of NUL-terminated
/// name/value strings, `CONTENT_LENGTH` first and `SCGI=1` second, as the protocol requires. The
/// request body follows the netstring unframed, so the caller writes it straight after.
public enum SCGIRequestEncoder {
    /// Appends `<len>:CONTENT_LENGTH\0<n>\0SCGI\01\0<other vars>,` to `out`. Any `CONTENT_LENGTH`
    /// or `SCGI` in `env` is skipped in favour of the explicit ones. Names and values must not
    /// contain NUL (SCGI cannot carry it).
    public static func encodeHeaders(_ env: CGIEnvironment, contentLength: Int, into out: inout [UInt8]) {
        precondition(contentLength >= 0)
        var length = "CONTENT_LENGTH".utf8.count + 2 + decimalDigitCount(contentLength) + "SCGI".utf8.count + 2 + 1
        for (name, value) in env where !isReserved(name) {
            length += name.utf8.count + FieldValueBytes.byteCount(value) + 2
        }
        out.reserveCapacity(out.count + length + decimalDigitCount(length) + 2)
        out.appendDecimal(length)
        out.append(ASCII.colon)
        out.appendUTF8("CONTENT_LENGTH")
        out.append(ASCII.nul)
        out.appendDecimal(contentLength)
        out.append(ASCII.nul)
        out.appendUTF8("SCGI")
        out.append(ASCII.nul)
        out.append(0x31)
        out.append(ASCII.nul)
        for (name, value) in env where !isReserved(name) {
            out.appendUTF8(name)
            out.append(ASCII.nul)
            FieldValueBytes.append(value, to: &out)
            out.append(ASCII.nul)
        }
        out.append(ASCII.comma)
    }

    @inline(__always)
    private static func isReserved(_ name: String) -> Bool {
        // Length first: two full string comparisons per variable showed up in profiles.
        switch name.utf8.count {
        case 14: return name == "CONTENT_LENGTH"
        case 4: return name == "SCGI"
        default: return false
        }
    }
}
