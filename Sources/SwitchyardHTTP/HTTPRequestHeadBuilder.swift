/// Builds an `HTTPRequestHead` from a request's parts (method, target, field name/value bytes)
/// that never were HTTP/1.1 text: the HTTP/2 gateway's way to the head routes and handlers read.
///
/// The outcome is the one `HTTPRequestParser` gives for the text
/// `method SP target SP HTTP/1.1 CRLF (name ": " value CRLF)* CRLF`: the same limits (414 for the
/// request line, 431 for the field count and the block size, checked before anything else as
/// the parser's scanner does), the same line and field checks (`RequestLine`, values trimmed and
/// free of control characters), the same cross-field rules (`FieldState`: Host, Content-Length,
/// Transfer-Encoding, Connection, Expect, Upgrade) and the same interned strings. Only the text,
/// its line scan and its second pass are gone. Parts must not contain CR, LF or NUL (an HTTP/2
/// field cannot, RFC 9113 §8.2.1): they would have split the text into other lines.
public struct HTTPRequestHeadBuilder {
    private let limits: HTTPParserLimits
    private var line: RequestLine?
    /// The scanner's verdict (414/431) wins over any parse error, wherever that was found.
    private var scanError: HTTPParseError?
    private var parseError: HTTPParseError?
    private var fieldState = FieldState()
    private var headers = HTTPHeaders()
    /// Bytes the text would have had so far (request line and field lines with their CRLF).
    private var blockBytes = 0
    private var fieldCount = 0

    /// Checks the line in `startLine` after a plain initialisation of the parts: with the checks and
    /// their early returns in the initialiser itself, the compiler copied the whole builder (its
    /// strings, field state and header array: a retain and release of each) to return it.
    public init(method: UnsafeRawBufferPointer, target: UnsafeRawBufferPointer, limits: HTTPParserLimits,
                fieldCapacity: Int = 16) {
        self.init(limits: limits, fieldCapacity: fieldCapacity)
        startLine(method: method, target: target)
    }

    private init(limits: HTTPParserLimits, fieldCapacity: Int) {
        self.limits = limits
        headers.fields.reserveCapacity(fieldCapacity)
    }

    private mutating func startLine(method: UnsafeRawBufferPointer, target: UnsafeRawBufferPointer) {
        let lineLength = method.count + 1 + target.count + 9   // "M T HTTP/1.1"
        if lineLength > limits.maxRequestLineLength {
            scanError = .init(status: 414, reason: "request line longer than \(limits.maxRequestLineLength) bytes")
        }
        countLine(lineLength)
        guard RequestLine.isValidMethod(method) else { parseError = .badRequest("malformed method in request line"); return }
        guard RequestLine.isValidTarget(target) else { parseError = .badRequest("malformed request-target"); return }
        do { line = try RequestLine.make(method: method, target: target, version: .http1_1) } catch { parseError = error }
    }

    /// One field line, as `name: value`.
    public mutating func add(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        add(name: name, value: value, nameIsToken: false)
    }

    /// A field whose name the caller knows is a token (an HTTP/2 field name the session validated
    /// as a lowercase token, RFC 9113 §8.2.1): the same as `add(name:value:)` without reading the
    /// name's bytes a second time.
    public mutating func add(tokenName name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        assert(name.allSatisfy { ASCII.isTokenChar($0) }, "not a token")
        add(name: name, value: value, nameIsToken: true)
    }

    @inline(__always)
    private mutating func add(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, nameIsToken: Bool) {
        fieldCount += 1
        if scanError == nil && fieldCount > limits.maxHeaderCount {
            scanError = .init(status: 431, reason: "more than \(limits.maxHeaderCount) header fields")
        }
        countLine(name.count + 2 + value.count)
        guard scanError == nil, parseError == nil else { return }
        guard !name.isEmpty else { parseError = .badRequest("empty header name"); return }
        guard nameIsToken || name.allSatisfy({ ASCII.isTokenChar($0) }) else { parseError = .badRequest("invalid character in header name"); return }
        let value = ASCII.trimmed(value)
        if let b = Self.firstForbiddenByte(value) {
            parseError = .badRequest(b == 0 ? "NUL in header value" : b == ASCII.cr ? "bare CR in header value" : "control character in header value")
            return
        }
        let valueString = FieldValueBytes.string(value)
        if let e = fieldState.note(name: name, value: value, valueString: valueString) { parseError = e; return }
        headers.add(name: CommonStrings.fieldName(name), value: valueString)
    }

    /// A field the caller writes itself (e.g. `upgrade: websocket`).
    public mutating func add(name: StaticString, value: String) {
        var value = value
        value.withUTF8 { v in add(name: UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount),
                                  value: UnsafeRawBufferPointer(v)) }
    }

    /// The head, or the error the parser would have answered the text with. Call once: the line
    /// and the fields move into the head.
    public mutating func finish() throws(HTTPParseError) -> HTTPRequestHead {
        countLine(0)   // the final empty line
        if let scanError { throw scanError }
        if let parseError { throw parseError }
        guard let line = line.take() else { throw .badRequest("empty request") }
        var fields = HTTPHeaders()
        swap(&fields, &headers)
        return try fieldState.makeHead(line: line, headers: fields, headBytes: blockBytes, limits: limits)
    }

    /// The first byte of `value` that `ASCII.isForbiddenInValue` refuses, or nil. Eight bytes at
    /// a time: a word with no byte below 0x20 and no DEL is passed over at once (the test is exact:
    /// a borrow only runs on from a byte that was below), a word that may hold one (a tab is
    /// below 0x20 and allowed) is read byte by byte. Every value of every HTTP/2 request passes
    /// here, a browser's user-agent, accept and cookie values some hundreds of bytes.
    static func firstForbiddenByte(_ value: UnsafeRawBufferPointer) -> UInt8? {
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        var i = 0
        while i + 8 <= value.count {
            let word = value.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            let del = word ^ (ones &* 0x7f)
            if (word &- ones &* 0x20) & ~word & highs != 0 || (del &- ones) & ~del & highs != 0 {
                for j in i..<i + 8 where ASCII.isForbiddenInValue(value[j]) { return value[j] }
            }
            i += 8
        }
        while i < value.count {
            if ASCII.isForbiddenInValue(value[i]) { return value[i] }
            i += 1
        }
        return nil
    }

    private mutating func countLine(_ length: Int) {
        blockBytes += length + 2
        if scanError == nil && blockBytes > limits.maxHeaderBlockSize {
            scanError = .init(status: 431, reason: "request header block larger than \(limits.maxHeaderBlockSize) bytes")
        }
    }
}
