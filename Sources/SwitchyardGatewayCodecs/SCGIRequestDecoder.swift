/// Decodes the SCGI request header netstring, for the scgi-cgi bridge.
///
/// Strict about framing (digits without leading zeros, ':', NUL-terminated pairs, even count,
/// trailing ',', `CONTENT_LENGTH` first) because a lenient decoder in front of a CGI is a request
/// smuggling vector. It copies only when the netstring arrives split across reads.
public struct SCGIRequestDecoder: Sendable {
    public let maxHeaderBytes: Int
    private var pending = SplitBlockBuffer()

    public init(maxHeaderBytes: Int = 64 * 1024) {
        self.maxHeaderBytes = maxHeaderBytes
    }

    /// Feeds the next bytes. Returns nil while the netstring is incomplete; then the variables and
    /// how many bytes of THIS `input` belonged to it (the rest is request body).
    public mutating func feed(_ input: UnsafeRawBufferPointer) throws(SCGIError) -> (env: CGIEnvironment, consumed: Int)? {
        let limit = maxHeaderBytes
        guard let (env, consumed) = try pending.feed(input, { (b: UnsafeRawBufferPointer) throws(SCGIError) -> (CGIEnvironment, Int)? in
            try Self.parse(b, maxHeaderBytes: limit)
        }) else { return nil }
        return (env, consumed)
    }

    /// Parses a complete netstring at the start of `b`; nil if more bytes are needed.
    static func parse(_ b: UnsafeRawBufferPointer, maxHeaderBytes: Int) throws(SCGIError) -> (CGIEnvironment, Int)? {
        var i = 0
        var length = 0
        let maxDigits = decimalDigitCount(maxHeaderBytes)
        while true {
            guard i < b.count else { return nil }
            let c = b[i]
            if c == ASCII.colon { break }
            guard ASCII.isDigit(c) else { throw SCGIError(.badLength, "netstring length contains byte \(c)") }
            if i == 1 && b[0] == ASCII.zero { throw SCGIError(.badLength, "netstring length has a leading zero") }
            length = length * 10 + Int(c - ASCII.zero)
            i += 1
            if i > maxDigits || length > maxHeaderBytes {
                throw SCGIError(.tooLarge, "header netstring longer than \(maxHeaderBytes) bytes")
            }
        }
        guard i > 0 else { throw SCGIError(.badLength, "netstring without length") }
        let start = i + 1
        let end = start + length
        guard b.count > end else { return nil }
        guard b[end] == ASCII.comma else { throw SCGIError(.malformed, "netstring not terminated by ','") }
        guard length > 0, b[end - 1] == ASCII.nul else {
            throw SCGIError(.malformed, "header strings are not NUL-terminated")
        }

        var env = CGIEnvironment()
        var p = start
        while p < end {
            var q = p
            while b[q] != ASCII.nul { q += 1 }
            let nameRange = p..<q
            p = q + 1
            guard p < end else { throw SCGIError(.malformed, "odd number of header strings") }
            q = p
            while b[q] != ASCII.nul { q += 1 }
            let valueRange = p..<q
            p = q + 1
            guard !nameRange.isEmpty else { throw SCGIError(.malformed, "empty variable name") }
            let name = b.string(nameRange)
            if env.isEmpty {
                guard name == "CONTENT_LENGTH" else {
                    throw SCGIError(.badContentLength, "first variable is \(name), not CONTENT_LENGTH")
                }
                guard b.decimal(valueRange) != nil else {
                    // Shown printable-only: the value is hostile and the message goes to a log.
                    let printable = valueRange.prefix(24).map { b[$0] >= 0x20 && b[$0] < 0x7F ? b[$0] : 0x3F }
                    let shown = String(decoding: printable, as: UTF8.self) + (valueRange.count > 24 ? "..." : "")
                    throw SCGIError(.badContentLength, "CONTENT_LENGTH \"\(shown)\" is not a decimal number of at most 18 digits")
                }
            } else if env.contains(name) {
                throw SCGIError(.malformed, "variable \(name) repeated")
            }
            env.set(name, b.valueString(valueRange))
        }
        return (env, end + 1)
    }
}
