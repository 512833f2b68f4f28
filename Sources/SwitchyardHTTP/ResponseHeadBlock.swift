/// Turns one complete response head block into a `ProxiedResponseHead`: the status line, the
/// fields (with the request parser's strict field syntax, so nothing a client could not send
/// reaches it from a backend either) and the body framing of RFC 9112 6.3.
enum ResponseHeadBlock {
    static func parse(_ block: UnsafeRawBufferPointer, requestIsHead: Bool) throws(HTTPResponseParseError) -> ProxiedResponseHead {
        var lines = HeadParser.LineIterator(block)
        guard let statusLine = lines.next() else { throw .init(.malformedStatusLine, "empty response") }
        let (version, status, reason) = try parseStatusLine(statusLine)
        var framing = FramingFields()
        var headers = HTTPHeaders()
        headers.fields.reserveCapacity(12)   // grown one field at a time, the array was copied 4 times
        while let line = lines.next(), !line.isEmpty {
            switch HeadParser.parseField(line) {
            case .failure(let e): throw .init(.malformedHeader, e.reason)
            case .success(let (name, value)):
                try framing.note(name: name, value: value)
                headers.add(name: CommonStrings.fieldName(name), value: FieldValueBytes.string(value))
            }
        }
        let bodyFraming = try framing.decide(status: status, version: version, requestIsHead: requestIsHead)
        let keepAlive: Bool
        switch version {
        case .http1_1: keepAlive = !framing.connectionTokens.contains("close")
        case .http1_0: keepAlive = framing.connectionTokens.contains("keep-alive") && !framing.connectionTokens.contains("close")
        }
        return ProxiedResponseHead(version: version, status: status, reason: reason, headers: headers, framing: bodyFraming,
                                   connectionTokens: framing.connectionTokens,
                                   keepAlive: keepAlive && bodyFraming != .untilClose, headBytes: block.count)
    }

    /// `HTTP/1.x SP 3DIGIT [SP reason]`; the reason may be empty or missing (common in practice).
    static func parseStatusLine(_ line: UnsafeRawBufferPointer) throws(HTTPResponseParseError) -> (HTTPVersion, Int, String) {
        guard line.count >= 12, line[8] == ASCII.sp else { throw .init(.malformedStatusLine, "status line too short or misspaced") }
        // HTTP-name is case-sensitive (RFC 9112 2.3).
        guard line[0] == 0x48, line[1] == 0x54, line[2] == 0x54, line[3] == 0x50, line[4] == ASCII.slash,
              line[6] == 0x2E else {
            throw .init(.malformedStatusLine, "status line does not start with HTTP/")
        }
        let version: HTTPVersion
        switch (line[5], line[7]) {
        case (0x31, 0x31): version = .http1_1
        case (0x31, 0x30): version = .http1_0
        default: throw .init(.unsupportedVersion, "unsupported version \(ASCII.string(UnsafeRawBufferPointer(rebasing: line[0..<8])))")
        }
        var status = 0
        for i in 9..<12 {
            let b = line[i]
            guard b >= 0x30 && b <= 0x39 else { throw .init(.malformedStatusLine, "status code is not three digits") }
            status = status * 10 + Int(b - 0x30)
        }
        guard status >= 100 && status <= 599 else { throw .init(.malformedStatusLine, "status code \(status) out of range") }
        if line.count == 12 { return (version, status, "") }
        guard line[12] == ASCII.sp else { throw .init(.malformedStatusLine, "no space after the status code") }
        let reason = UnsafeRawBufferPointer(rebasing: line[13...])
        for b in reason where ASCII.isForbiddenInValue(b) { throw .init(.malformedStatusLine, "control character in reason phrase") }
        return (version, status, FieldValueBytes.string(reason))
    }
}

/// The framing-relevant fields of a response head, collected from raw bytes.
struct FramingFields {
    var contentLength: Int?
    var sawTransferEncoding = false
    var chunkedCount = 0
    var lastCodingIsChunked = false
    var otherCoding: String?
    var connectionTokens: [String] = []

    mutating func note(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) throws(HTTPResponseParseError) {
        if ASCII.equalsLowercased(name, "content-length") {
            try noteContentLength(value)
        } else if ASCII.equalsLowercased(name, "transfer-encoding") {
            sawTransferEncoding = true
            var tooMany = false
            ASCII.forEachListElement(value) { coding in
                lastCodingIsChunked = ASCII.equalsLowercased(coding, "chunked")
                if lastCodingIsChunked { chunkedCount += 1 } else if otherCoding == nil { otherCoding = ASCII.string(coding) }
                tooMany = chunkedCount > 1
                return !tooMany
            }
            if tooMany { throw .init(.invalidFraming, "chunked applied more than once") }
        } else if ASCII.equalsLowercased(name, "connection") {
            ASCII.forEachListElement(value) { token in
                if connectionTokens.count < 64 { connectionTokens.append(ASCII.lowercased(ASCII.string(token))) }
                return true
            }
        }
    }

    private mutating func noteContentLength(_ value: UnsafeRawBufferPointer) throws(HTTPResponseParseError) {
        var elements = 0
        var bad = false
        ASCII.forEachListElement(value) { element in
            elements += 1
            var n = 0
            for b in element {
                guard b >= 0x30 && b <= 0x39 else { bad = true; return false }
                let (m, o1) = n.multipliedReportingOverflow(by: 10)
                let (s, o2) = m.addingReportingOverflow(Int(b - 0x30))
                if o1 || o2 { bad = true; return false }
                n = s
            }
            if let existing = contentLength, existing != n { bad = true; return false }
            contentLength = n
            return true
        }
        if bad || elements == 0 { throw .init(.invalidFraming, "invalid or conflicting Content-Length") }
    }

    /// RFC 9112 6.3, strictly: a head that two implementations could frame differently is an error
    /// (Content-Length with Transfer-Encoding, Transfer-Encoding on HTTP/1.0), not a guess.
    func decide(status: Int, version: HTTPVersion, requestIsHead: Bool) throws(HTTPResponseParseError) -> ResponseBodyFraming {
        if requestIsHead || status < 200 || status == 204 || status == 304 { return .none }
        if sawTransferEncoding {
            if contentLength != nil { throw .init(.invalidFraming, "both Content-Length and Transfer-Encoding") }
            if version == .http1_0 { throw .init(.invalidFraming, "Transfer-Encoding in an HTTP/1.0 response") }
            // Another coding (gzip, ...) would reach the client without its Transfer-Encoding, which is
            // hop-by-hop: refused (502) rather than relayed as bytes the client cannot decode.
            if let otherCoding { throw .init(.invalidFraming, "unsupported transfer coding \"\(otherCoding)\"") }
            guard lastCodingIsChunked else { throw .init(.invalidFraming, "empty Transfer-Encoding") }
            return .chunked
        }
        if let contentLength { return .length(contentLength) }
        return .untilClose
    }
}
