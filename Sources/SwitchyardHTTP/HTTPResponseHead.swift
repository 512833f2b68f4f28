/// A response status line plus header fields, serialised straight into the connection's
/// output buffer.
///
/// Header names and values are written as given, except that CR, LF and NUL are replaced
/// by a space: values often come from CGI scripts, and a stray line break must never be
/// able to inject a header or split the response.
public struct HTTPResponseHead: Sendable, Equatable {
    public var status: Int
    /// nil = the standard phrase from `HTTPStatus.reasonPhrase`.
    public var reason: String?
    public var version: HTTPVersion
    public var headers: HTTPHeaders

    public init(status: Int, reason: String? = nil, version: HTTPVersion = .http1_1, headers: HTTPHeaders = .init()) {
        self.status = status
        self.reason = reason
        self.version = version
        self.headers = headers
    }

    /// Appends "HTTP/1.1 200 OK\r\n", each "Name: value\r\n", then "\r\n".
    public func write(into buffer: inout [UInt8]) {
        buffer.append(contentsOf: version.string.utf8)
        buffer.append(ASCII.sp)
        let code = min(max(status, 0), 999)
        buffer.append(UInt8(0x30 + code / 100))
        buffer.append(UInt8(0x30 + code / 10 % 10))
        buffer.append(UInt8(0x30 + code % 10))
        buffer.append(ASCII.sp)
        Self.appendSanitized(reason ?? HTTPStatus.reasonPhrase(status), to: &buffer)
        buffer.append(ASCII.cr)
        buffer.append(ASCII.lf)
        for (name, value) in headers {
            Self.appendSanitized(name, to: &buffer)
            buffer.append(ASCII.colon)
            buffer.append(ASCII.sp)
            Self.appendSanitized(value, to: &buffer)
            buffer.append(ASCII.cr)
            buffer.append(ASCII.lf)
        }
        buffer.append(ASCII.cr)
        buffer.append(ASCII.lf)
    }

    /// The serialised head as a new array.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64 + headers.count * 32)
        write(into: &out)
        return out
    }

    /// Bulk-appends the UTF-8 bytes; only a string that really contains CR, LF or NUL takes the
    /// byte-by-byte path (this runs for every header of every response).
    static func appendSanitized(_ s: String, to buffer: inout [UInt8]) {
        var string = s
        string.withUTF8 { bytes in
            var clean = true
            for b in bytes where b == ASCII.cr || b == ASCII.lf || b == 0 { clean = false; break }
            if clean {
                buffer.append(contentsOf: bytes)
            } else {
                for b in bytes { buffer.append(b == ASCII.cr || b == ASCII.lf || b == 0 ? ASCII.sp : b) }
            }
        }
    }

    /// Appends one "Name: value\r\n" line with the same sanitising as `write(into:)`.
    public static func appendHeader(name: String, value: String, to buffer: inout [UInt8]) {
        appendSanitized(name, to: &buffer)
        buffer.append(ASCII.colon)
        buffer.append(ASCII.sp)
        appendSanitized(value, to: &buffer)
        buffer.append(ASCII.cr)
        buffer.append(ASCII.lf)
    }

    /// Appends the status line only.
    public func writeStatusLine(into buffer: inout [UInt8]) {
        buffer.append(contentsOf: version.string.utf8)
        buffer.append(ASCII.sp)
        let code = min(max(status, 0), 999)
        buffer.append(UInt8(0x30 + code / 100))
        buffer.append(UInt8(0x30 + code / 10 % 10))
        buffer.append(UInt8(0x30 + code % 10))
        buffer.append(ASCII.sp)
        Self.appendSanitized(reason ?? HTTPStatus.reasonPhrase(status), to: &buffer)
        buffer.append(ASCII.cr)
        buffer.append(ASCII.lf)
    }
}
