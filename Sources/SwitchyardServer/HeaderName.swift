/// Fast classification of the response header names the connection owns, and the byte strings it
/// writes for them; this runs for every header of every response.
import SwitchyardOS
import SwitchyardHTTP

enum HeaderName {
    enum Kind { case date, contentLength, transferEncoding, connection, server, other }

    static func classify(_ name: String) -> Kind {
        var n = name
        return n.withUTF8 { b -> Kind in
            switch b.count {
            case 4: return equals(b, "date") ? .date : .other
            case 6: return equals(b, "server") ? .server : .other
            case 10: return equals(b, "connection") ? .connection : .other
            case 14: return equals(b, "content-length") ? .contentLength : .other
            case 17: return equals(b, "transfer-encoding") ? .transferEncoding : .other
            default: return .other
            }
        }
    }

    /// ASCII case-insensitive comparison against a lower-case literal.
    @inline(__always)
    static func equals(_ b: UnsafeBufferPointer<UInt8>, _ lower: StaticString) -> Bool {
        guard b.count == lower.utf8CodeUnitCount else { return false }
        let l = lower.utf8Start
        for i in 0..<b.count where (b[i] | 0x20) != l[i] { return false }
        return true
    }

    /// The end of a response head: "Content-Length: n\r\n" (if given), the Connection line (if
    /// any) and the empty line, written with one capacity check, as every response needs them.
    static func appendHeadEnd(contentLength: Int?, connectionLine: [UInt8]?, to buffer: ByteBuffer) {
        buffer.reserve(contentLengthPrefix.count + 20 + 2 + (connectionLine?.count ?? 0) + 2)
        var p = buffer.writePointer.assumingMemoryBound(to: UInt8.self)
        let start = p
        func put(_ bytes: [UInt8]) {
            bytes.withUnsafeBufferPointer { p.update(from: $0.baseAddress!, count: $0.count) }
            p += bytes.count
        }
        if let n = contentLength {
            put(contentLengthPrefix)
            p += writeDecimal(n, to: p)
            put(crlf)
        }
        if let connectionLine { put(connectionLine) }
        put(crlf)
        buffer.commit(start.distance(to: p))
    }

    static func appendDecimal(_ value: Int, to buffer: ByteBuffer) {
        buffer.reserve(20)
        buffer.commit(writeDecimal(value, to: buffer.writePointer.assumingMemoryBound(to: UInt8.self)))
    }

    /// Writes the decimal digits of `value` (at most 20) at `p`; returns how many.
    private static func writeDecimal(_ value: Int, to p: UnsafeMutablePointer<UInt8>) -> Int {
        if value <= 0 { p[0] = 0x30; return 1 }
        var v = value
        var count = 0
        while v > 0 { p[count] = UInt8(0x30 + v % 10); v /= 10; count += 1 }
        var i = 0, j = count - 1
        while i < j { let t = p[i]; p[i] = p[j]; p[j] = t; i += 1; j -= 1 }
        return count
    }

    /// "Name: value\r\n" copied in bulk; CR, LF and NUL inside become spaces so a value from a
    /// backend can never inject a header line.
    static func appendField(_ name: String, _ value: String, to buffer: ByteBuffer) {
        appendSanitized(name, to: buffer)
        buffer.append(colonSpace)
        appendSanitized(value, to: buffer)
        buffer.append(crlf)
    }

    @inline(__always)
    private static func appendSanitized(_ s: String, to buffer: ByteBuffer) {
        var string = s
        string.withUTF8 { bytes in
            guard let base = bytes.baseAddress, bytes.count > 0 else { return }
            buffer.reserve(bytes.count)
            let dst = buffer.writePointer.assumingMemoryBound(to: UInt8.self)
            for i in 0..<bytes.count {
                let b = base[i]
                dst[i] = (b == 13 || b == 10 || b == 0) ? 32 : b
            }
            buffer.commit(bytes.count)
        }
    }

    /// "Name: value\r\n" as bytes, sanitised like `appendField`, for lines that are the same on
    /// every response (built once instead of per response). With `omitIfEmpty`, an empty value
    /// gives no line at all.
    static func fieldLine(_ name: String, _ value: String, omitIfEmpty: Bool = false) -> [UInt8] {
        if omitIfEmpty && value.isEmpty { return [] }
        let buffer = ByteBuffer(capacity: name.utf8.count + value.utf8.count + 4)
        appendField(name, value, to: buffer)
        return Array(buffer.readable)
    }

    /// "HTTP/1.1 <status> <standard reason>\r\n" for the statuses static files answer with
    /// (prebuilt); nil for the others, which are formatted per response.
    static func standardStatusLine(_ status: Int) -> [UInt8]? {
        switch status {
        case 200: return statusLine200
        case 206: return statusLine206
        case 304: return statusLine304
        default: return nil
        }
    }

    private static func makeStatusLine(_ status: Int) -> [UInt8] {
        var line: [UInt8] = []
        HTTPResponseHead(status: status, version: .http1_1).writeStatusLine(into: &line)
        return line
    }
    private static let statusLine200 = makeStatusLine(200)
    private static let statusLine206 = makeStatusLine(206)
    private static let statusLine304 = makeStatusLine(304)

    static let crlf: [UInt8] = [13, 10]
    static let colonSpace: [UInt8] = [58, 32]
    static let datePrefix = Array("Date: ".utf8)
    static let contentLengthPrefix = Array("Content-Length: ".utf8)
    static let chunkedLine = Array("Transfer-Encoding: chunked\r\n".utf8)
    static let keepAliveLine = Array("Connection: keep-alive\r\n".utf8)
    static let closeLine = Array("Connection: close\r\n".utf8)
}
