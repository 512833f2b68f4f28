/// Accumulates the framing-relevant header fields while the head is parsed (straight from
/// the raw bytes), then applies the cross-field rules of RFC 9112 6 and 3.2:
/// Content-Length vs Transfer-Encoding, Host presence/uniqueness, keep-alive.
struct FieldState {
    var hostCount = 0
    var host: String?
    var contentLength: Int?
    var sawTransferEncoding = false
    var chunkedCount = 0
    var lastCodingIsChunked = false
    var unsupportedCoding: String?
    var connectionTokens: [String] = []
    var expectsContinue = false
    var upgrade: String?

    private enum Known { case host, contentLength, transferEncoding, connection, expect, upgrade }

    private static func classify(_ name: UnsafeRawBufferPointer) -> Known? {
        switch name.count {
        case 4: return ASCII.equalsLowercased(name, "host") ? .host : nil
        case 6: return ASCII.equalsLowercased(name, "expect") ? .expect : nil
        case 7: return ASCII.equalsLowercased(name, "upgrade") ? .upgrade : nil
        case 10: return ASCII.equalsLowercased(name, "connection") ? .connection : nil
        case 14: return ASCII.equalsLowercased(name, "content-length") ? .contentLength : nil
        case 17: return ASCII.equalsLowercased(name, "transfer-encoding") ? .transferEncoding : nil
        default: return nil
        }
    }

    /// Notes one field; returns an error for a field that is invalid on its own. `valueString` is
    /// the value as it goes into the header list (kept for Host rather than built twice).
    /// `validAuthority`: the caller found `value` a valid authority already (a Host value it has
    /// seen before, `FieldStringCache`): not read again.
    mutating func note(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, valueString: String,
                       validAuthority: Bool = false) -> HTTPParseError? {
        guard let known = Self.classify(name) else { return nil }
        switch known {
        case .host:
            hostCount += 1
            if hostCount > 1 { return .badRequest("more than one Host header") }
            if !validAuthority && !RequestLine.isValidAuthority(value) { return .badRequest("invalid Host header") }
            host = valueString
        case .contentLength:
            return noteContentLength(value)
        case .transferEncoding:
            sawTransferEncoding = true
            var error: HTTPParseError?
            ASCII.forEachListElement(value) { coding in
                if ASCII.equalsLowercased(coding, "chunked") {
                    chunkedCount += 1
                    lastCodingIsChunked = true
                    if chunkedCount > 1 {
                        error = .badRequest("chunked applied more than once")
                        return false
                    }
                } else {
                    lastCodingIsChunked = false
                    if unsupportedCoding == nil { unsupportedCoding = ASCII.string(coding) }
                }
                return true
            }
            return error
        case .connection:
            ASCII.forEachListElement(value) { token in
                connectionTokens.append(ASCII.lowercased(ASCII.string(token)))
                return true
            }
        case .expect:
            ASCII.forEachListElement(value) { element in
                if ASCII.equalsLowercased(element, "100-continue") { expectsContinue = true }
                return true
            }
        case .upgrade:
            let v = ASCII.string(value)
            upgrade = upgrade.map { $0 + ", " + v } ?? v
        }
        return nil
    }

    /// `Content-Length = 1*DIGIT`; a list ("5, 5") or repeated fields are accepted only
    /// when all values are identical (RFC 9110 8.6).
    private mutating func noteContentLength(_ value: UnsafeRawBufferPointer) -> HTTPParseError? {
        var error: HTTPParseError?
        var elements = 0
        ASCII.forEachListElement(value) { element in
            elements += 1
            var n = 0
            for b in element {
                guard b >= 0x30 && b <= 0x39 else {
                    error = .badRequest("invalid Content-Length")
                    return false
                }
                let (m, o1) = n.multipliedReportingOverflow(by: 10)
                let (s, o2) = m.addingReportingOverflow(Int(b - 0x30))
                if o1 || o2 {
                    error = .badRequest("Content-Length overflows")
                    return false
                }
                n = s
            }
            if let existing = contentLength, existing != n {
                error = .badRequest("conflicting Content-Length values")
                return false
            }
            contentLength = n
            return true
        }
        if error == nil && elements == 0 { error = .badRequest("empty Content-Length") }
        return error
    }

    /// Takes the line and headers (`consuming`): their strings move into the head instead of
    /// being retained for it and released with the parser's copies.
    func makeHead(line: consuming RequestLine, headers: consuming HTTPHeaders, headBytes: Int,
                  limits: HTTPParserLimits) throws(HTTPParseError) -> HTTPRequestHead {
        // Host (RFC 9112 3.2): required on 1.1; the absolute-form authority wins over it.
        if line.version == .http1_1 && hostCount == 0 {
            throw .badRequest("HTTP/1.1 request without Host")
        }
        // Framing (RFC 9112 6.1, 6.3)
        var isChunked = false
        if sawTransferEncoding {
            if line.version == .http1_0 {
                throw .badRequest("Transfer-Encoding on an HTTP/1.0 request")
            }
            if contentLength != nil {
                throw .badRequest("both Content-Length and Transfer-Encoding")
            }
            if let coding = unsupportedCoding {
                throw .init(status: 501, reason: "unsupported transfer coding \"\(coding)\"")
            }
            guard chunkedCount == 1 && lastCodingIsChunked else {
                throw .badRequest("empty Transfer-Encoding")
            }
            isChunked = true
        }
        if let length = contentLength, limits.maxBodySize > 0, length > limits.maxBodySize {
            throw .init(status: 413, reason: "Content-Length \(length) exceeds limit \(limits.maxBodySize)")
        }

        let keepAlive: Bool
        switch line.version {
        case .http1_1: keepAlive = !connectionTokens.contains("close")
        case .http1_0: keepAlive = connectionTokens.contains("keep-alive") && !connectionTokens.contains("close")
        }

        let host = line.authority ?? host
        let expectsContinue = expectsContinue && line.version == .http1_1
        return HTTPRequestHead(
            line: line,
            headers: headers,
            host: host,
            contentLength: contentLength,
            isChunked: isChunked,
            keepAlive: keepAlive,
            expectsContinue: expectsContinue,
            connectionTokens: connectionTokens,
            upgrade: upgrade,
            headBytes: headBytes)
    }
}
