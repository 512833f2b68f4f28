/// Incremental parser for the header block a CGI script writes before its body.
///
/// Sans-I/O: the server feeds whatever each `read` returned. Scripts in the wild end lines with
/// LF only (ws_echo.py) or CRLF, so both (and mixtures) are accepted. The parser copies bytes only
/// while the block is incomplete (bounded by `maxHeaderBytes`); once the blank line arrives it
/// returns the head and the offset in the current input where the body (or, after `Status: 101`,
/// the raw upgraded stream) starts, so those bytes are never copied by the parser.
public struct CGIResponseHeaderParser: Sendable {
    public enum Result: Sendable {
        case needMore
        /// `bodyOffset` indexes the input passed to the call that produced this result.
        case head(CGIResponseHead, bodyOffset: Int)
    }

    public let maxHeaderBytes: Int
    /// Non-parsed-header script: the first line is `HTTP/1.x NNN reason`. A first line starting
    /// with `HTTP/` is treated as a status line even when false (it cannot be a header).
    public let nph: Bool

    private var buffer: [UInt8] = []
    private var seen = 0
    private var lineLength = 0
    private var lastByte: UInt8 = 0
    public private(set) var isComplete = false

    public init(maxHeaderBytes: Int = 64 * 1024, nph: Bool = false) {
        self.maxHeaderBytes = maxHeaderBytes
        self.nph = nph
    }

    /// Feeds the next bytes. Returns nil while the block is incomplete; then the head and the index
    /// in `input` where the body starts (`input.count` if none of it is body). Once the head has
    /// been returned every later byte is body: don't feed them (a later call returns nil).
    public mutating func feed(_ input: UnsafeRawBufferPointer) throws(CGIResponseError) -> (head: CGIResponseHead, bodyStartInInput: Int)? {
        if isComplete { return nil }
        guard let end = try scan(input) else {
            buffer.append(contentsOf: input)
            return nil
        }
        isComplete = true
        let head: CGIResponseHead
        if buffer.isEmpty {
            head = try Self.parseBlock(UnsafeRawBufferPointer(rebasing: input[0..<end]), nph: nph)
        } else {
            buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[0..<end]))
            let result: Swift.Result<CGIResponseHead, CGIResponseError> = buffer.withUnsafeBytes { b in
                do throws(CGIResponseError) { return .success(try Self.parseBlock(b, nph: nph)) } catch { return .failure(error) }
            }
            buffer = []
            head = try result.get()
        }
        return (head, end)
    }

    /// `feed` as a two-case result.
    public mutating func parse(_ input: UnsafeRawBufferPointer) throws(CGIResponseError) -> Result {
        if let (head, offset) = try feed(input) { return .head(head, bodyOffset: offset) }
        return .needMore
    }

    /// Call at EOF from the script: throws `.noHeaders` if nothing came, `.truncated` if the block
    /// was cut short. No-op once the head was returned (a body-less response is fine).
    public func finish() throws(CGIResponseError) {
        if isComplete { return }
        if seen == 0 { throw CGIResponseError(.noHeaders, "script produced no output") }
        throw CGIResponseError(.truncated, "EOF inside the response header block after \(seen) bytes")
    }

    /// Finds the end of the block (just past the LF of the blank line) in `input`, carrying line
    /// state across calls.
    private mutating func scan(_ input: UnsafeRawBufferPointer) throws(CGIResponseError) -> Int? {
        var i = 0
        let n = input.count
        while i < n {
            let c = input[i]
            seen += 1
            if seen > maxHeaderBytes {
                throw CGIResponseError(.tooLarge, "response header block exceeds \(maxHeaderBytes) bytes")
            }
            if c == ASCII.lf {
                if lineLength == 0 || (lineLength == 1 && lastByte == ASCII.cr) { return i + 1 }
                lineLength = 0
            } else {
                lineLength += 1
            }
            lastByte = c
            i += 1
        }
        return nil
    }

    // MARK: - Block parsing

    static func parseBlock(_ block: UnsafeRawBufferPointer, nph: Bool) throws(CGIResponseError) -> CGIResponseHead {
        var head = CGIResponseHead()
        var statusGiven = false
        var lineStart = 0
        var first = true
        var sawHeader = false
        while lineStart < block.count {
            var lineEnd = lineStart
            while block[lineEnd] != ASCII.lf { lineEnd += 1 }   // the block always ends with LF
            let next = lineEnd + 1
            if lineEnd > lineStart && block[lineEnd - 1] == ASCII.cr { lineEnd -= 1 }
            if lineEnd == lineStart { break }                   // the blank line
            let line = lineStart..<lineEnd
            defer { lineStart = next; first = false }

            if first && (nph || startsWithHTTPSlash(block, line)) {
                try parseStatusLine(block, line, into: &head)
                statusGiven = true
                sawHeader = true
                continue
            }
            guard let colon = block[line].firstIndex(of: ASCII.colon) else {
                throw CGIResponseError(.malformed, "header line without ':': \(quoted(block, line))")
            }
            let nameRange = line.lowerBound..<colon
            if nameRange.isEmpty || !nameRange.allSatisfy({ ASCII.isTokenChar(block[$0]) }) {
                throw CGIResponseError(.malformed, "invalid header name: \(quoted(block, nameRange))")
            }
            var vs = colon + 1, ve = line.upperBound
            while vs < ve && (block[vs] == ASCII.space || block[vs] == ASCII.tab) { vs += 1 }
            while ve > vs && (block[ve - 1] == ASCII.space || block[ve - 1] == ASCII.tab) { ve -= 1 }
            for j in vs..<ve {
                let c = block[j]
                if (c < 0x20 && c != ASCII.tab) || c == 0x7F {
                    throw CGIResponseError(.malformed, "control character in value of \(quoted(block, nameRange))")
                }
            }
            let name = block.string(nameRange)
            sawHeader = true
            if !nph && CGIEnvironmentBuilder.asciiCaseInsensitiveEquals(name, "status") {
                if statusGiven { throw CGIResponseError(.malformed, "more than one Status header") }
                try parseStatus(block, vs..<ve, into: &head)
                statusGiven = true
                continue
            }
            let value = block.string(vs..<ve)
            if CGIEnvironmentBuilder.asciiCaseInsensitiveEquals(name, "content-length") {
                guard let n = block.decimal(vs..<ve) else {
                    throw CGIResponseError(.malformed, "invalid Content-Length: \(quoted(block, vs..<ve))")
                }
                if let old = head.contentLength, old != n {
                    throw CGIResponseError(.malformed, "conflicting Content-Length headers")
                }
                head.contentLength = n
            } else if CGIEnvironmentBuilder.asciiCaseInsensitiveEquals(name, "location") {
                if head.location == nil { head.location = value }
            }
            head.headers.append((name: name, value: value))
        }
        if !sawHeader { throw CGIResponseError(.noHeaders, "empty response header block") }
        if let loc = head.location, !statusGiven {
            head.status = 302
            let u = loc.utf8
            head.isLocalRedirect = u.first == 0x2F && (u.count == 1 || u[u.index(after: u.startIndex)] != 0x2F)
        }
        return head
    }

    private static func startsWithHTTPSlash(_ b: UnsafeRawBufferPointer, _ line: Range<Int>) -> Bool {
        guard line.count >= 5 else { return false }
        let s = line.lowerBound
        return b[s] == 0x48 && b[s + 1] == 0x54 && b[s + 2] == 0x54 && b[s + 3] == 0x50 && b[s + 4] == 0x2F
    }

    /// `HTTP/1.x SP NNN [SP reason]`.
    private static func parseStatusLine(_ b: UnsafeRawBufferPointer, _ line: Range<Int>, into head: inout CGIResponseHead) throws(CGIResponseError) {
        let s = line.lowerBound
        guard line.count >= 12, startsWithHTTPSlash(b, line), ASCII.isDigit(b[s + 5]), b[s + 6] == 0x2E,
              ASCII.isDigit(b[s + 7]), b[s + 8] == ASCII.space else {
            throw CGIResponseError(.badStatus, "invalid NPH status line: \(quoted(b, line))")
        }
        try parseStatus(b, (s + 9)..<line.upperBound, into: &head)
    }

    /// `NNN [SP reason]` with the value already trimmed.
    private static func parseStatus(_ b: UnsafeRawBufferPointer, _ r: Range<Int>, into head: inout CGIResponseHead) throws(CGIResponseError) {
        let s = r.lowerBound
        guard r.count >= 3, let code = b.decimal(s..<(s + 3)), code >= 100,
              r.count == 3 || b[s + 3] == ASCII.space || b[s + 3] == ASCII.tab else {
            throw CGIResponseError(.badStatus, "invalid status: \(quoted(b, r))")
        }
        head.status = code
        var rs = s + 3
        while rs < r.upperBound && (b[rs] == ASCII.space || b[rs] == ASCII.tab) { rs += 1 }
        for j in rs..<r.upperBound where b[j] < 0x20 && b[j] != ASCII.tab || b[j] == 0x7F {
            throw CGIResponseError(.badStatus, "control character in reason phrase")
        }
        head.reason = rs < r.upperBound ? b.string(rs..<r.upperBound) : nil
    }

    private static func quoted(_ b: UnsafeRawBufferPointer, _ r: Range<Int>) -> String {
        let shown = r.lowerBound..<min(r.upperBound, r.lowerBound + 80)
        var out = "\""
        for i in shown {
            let c = b[i]
            if c >= 0x20 && c < 0x7F && c != 0x22 && c != 0x5C { out.unicodeScalars.append(Unicode.Scalar(c)) }
            else {
                let hex: [Character] = Array("0123456789abcdef")
                out += "\\x" + String(hex[Int(c >> 4)]) + String(hex[Int(c & 15)])
            }
        }
        return out + (shown.count < r.count ? "...\"" : "\"")
    }
}
