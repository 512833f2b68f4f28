#if canImport(Glibc)
import Glibc
#endif

/// Turns one complete head block (request line through the final empty line) into an
/// `HTTPRequestHead`, rejecting every shape that could let two HTTP implementations frame
/// the same bytes differently (request smuggling): obs-fold, whitespace before the colon,
/// bare CR, control characters, conflicting Content-Length, CL together with TE, ...
///
/// Works on raw bytes; Strings are created only for the fields that end up in the head, and
/// common names are shared (`CommonStrings`).
enum HeadParser {
    static func parse(_ block: UnsafeRawBufferPointer, limits: HTTPParserLimits) throws(HTTPParseError) -> HTTPRequestHead {
        var none = HTTPRequestHeadMemo(capacity: 0)
        return try parse(block, limits: limits, memo: &none)
    }

    /// `parse` with the loop's memo: field lines that are the memo's bytes take its parse of
    /// them (only the request line is parsed), and the block is remembered. The field lines'
    /// parse does not depend on the request line (see `FieldState`), so the head is the same.
    static func parse(_ block: UnsafeRawBufferPointer, limits: HTTPParserLimits,
                      memo: inout HTTPRequestHeadMemo) throws(HTTPParseError) -> HTTPRequestHead {
        var lines = LineIterator(block)
        guard let requestLine = lines.next() else { throw .badRequest("empty request") }
        let line = try RequestLine.parse(requestLine)
        let fieldsStart = lines.pos
        if let (known, headers) = memo.fields(matching: UnsafeRawBufferPointer(rebasing: block[min(fieldsStart, block.count)...])) {
            let head = try known.makeHead(line: line, headers: headers, headBytes: block.count, limits: limits)
            memo.remember(head, for: block, limits: limits, fieldsStart: fieldsStart, fieldState: known, headers: headers)
            return head
        }

        var fields = FieldState()
        var headers = HTTPHeaders()
        headers.fields.reserveCapacity(16)
        while let fieldLine = lines.next() {
            if fieldLine.isEmpty { break }  // the final empty line
            switch parseField(fieldLine) {
            case .failure(let e): throw e
            case .success(let (name, value)):
                // Bytes from 0x80 up survive (FieldValueBytes), so a backend sees them exactly.
                let valueString = FieldValueBytes.string(value)
                if let e = fields.note(name: name, value: value, valueString: valueString) { throw e }
                headers.add(name: CommonStrings.fieldName(name), value: valueString)
            }
        }
        let head = try fields.makeHead(line: line, headers: headers, headBytes: block.count, limits: limits)
        memo.remember(head, for: block, limits: limits, fieldsStart: fieldsStart, fieldState: fields, headers: headers)
        return head
    }

    /// `field-name ":" OWS field-value OWS`, strictly.
    static func parseField(_ line: UnsafeRawBufferPointer) -> Result<(UnsafeRawBufferPointer, UnsafeRawBufferPointer), HTTPParseError> {
        if ASCII.isWhitespace(line[0]) {
            return .failure(.badRequest("obsolete line folding (header line starts with whitespace)"))
        }
        var i = 0
        while i < line.count && ASCII.isTokenChar(line[i]) { i += 1 }
        guard i < line.count else { return .failure(.badRequest("header line without colon")) }
        let b = line[i]
        if b != ASCII.colon {
            if ASCII.isWhitespace(b) { return .failure(.badRequest("whitespace between header name and colon")) }
            if b == ASCII.cr { return .failure(.badRequest("bare CR in header")) }
            return .failure(.badRequest("invalid character in header name"))
        }
        if i == 0 { return .failure(.badRequest("empty header name")) }
        let name = UnsafeRawBufferPointer(rebasing: line[0..<i])
        let value = ASCII.trimmed(UnsafeRawBufferPointer(rebasing: line[(i + 1)...]))
        if let b = ASCII.firstForbiddenInValue(value) {
            return .failure(.badRequest(b == 0 ? "NUL in header value" : b == ASCII.cr ? "bare CR in header value" : "control character in header value"))
        }
        return .success((name, value))
    }

    /// Iterates lines ending in LF, with an optional CR before the LF removed.
    /// A missing final LF yields the remainder as a last line.
    struct LineIterator {
        let buf: UnsafeRawBufferPointer
        var pos = 0
        init(_ buf: UnsafeRawBufferPointer) { self.buf = buf }

        mutating func next() -> UnsafeRawBufferPointer? {
            guard pos < buf.count, let base = buf.baseAddress else { return nil }
            let end: Int
            if let hit = memchr(base + pos, Int32(ASCII.lf), buf.count - pos) {
                end = base.distance(to: UnsafeRawPointer(hit))
            } else {
                end = buf.count
            }
            var lineEnd = end
            if lineEnd > pos && buf[lineEnd - 1] == ASCII.cr { lineEnd -= 1 }
            let line = UnsafeRawBufferPointer(rebasing: buf[pos..<lineEnd])
            pos = end + 1
            return line
        }
    }
}
