/// Writing side of the chunked transfer coding, for responses of unknown length
/// (CGI output without Content-Length on HTTP/1.1).
public enum ChunkedEncoding {
    /// Appends "<hex size>\r\n". Follow the data with `chunkTrailer` ("\r\n").
    /// A size of 0 must not be written this way — use `terminator` to end the body.
    public static func chunkHeader(_ size: Int, into buffer: inout [UInt8]) {
        precondition(size >= 0, "negative chunk size")
        let digits: StaticString = "0123456789abcdef"
        var shift = 0
        while shift < 60 && size >> (shift + 4) != 0 { shift += 4 }
        while shift >= 0 {
            buffer.append(digits.utf8Start[(size >> shift) & 0xF])
            shift -= 4
        }
        buffer.append(ASCII.cr)
        buffer.append(ASCII.lf)
    }

    /// "\r\n" after each chunk's data.
    public static let chunkTrailer: [UInt8] = [0x0D, 0x0A]

    /// The last chunk with an empty trailer section: "0\r\n\r\n".
    public static let terminator: [UInt8] = [0x30, 0x0D, 0x0A, 0x0D, 0x0A]

    /// Appends a complete chunk (header, data, CRLF); nothing for empty data.
    public static func appendChunk(_ data: UnsafeRawBufferPointer, into buffer: inout [UInt8]) {
        guard !data.isEmpty else { return }
        chunkHeader(data.count, into: &buffer)
        buffer.append(contentsOf: data)
        buffer.append(contentsOf: chunkTrailer)
    }
}
