/// Turns configuration source bytes into tokens on demand. Lazy, so a syntax error is reported at the
/// first problem in reading order rather than at a later lexical oddity.
///
/// Strings understand `\"`, `\\`, `\n`, `\t`, `\r`; any other backslash sequence keeps its backslash,
/// which is what lets regexes such as `"\.php$"` be written without doubling.
struct ConfigLexer {
    private let bytes: [UInt8]
    private let file: String
    private var offset = 0
    private var line = 1
    private var lineStart = 0

    init(bytes: [UInt8], file: String) {
        self.bytes = bytes
        self.file = file
    }

    private var location: ConfigSourceLocation {
        ConfigSourceLocation(file: file, line: line, column: offset - lineStart + 1)
    }

    private func peekByte(_ ahead: Int = 0) -> UInt8? {
        offset + ahead < bytes.count ? bytes[offset + ahead] : nil
    }

    private mutating func advance() {
        if bytes[offset] == UInt8(ascii: "\n") {
            line += 1
            lineStart = offset + 1
        }
        offset += 1
    }

    static func isNameStart(_ b: UInt8) -> Bool {
        (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == UInt8(ascii: "_")
    }

    static func isNameByte(_ b: UInt8) -> Bool {
        isNameStart(b) || isDigit(b) || b == UInt8(ascii: ".") || b == UInt8(ascii: "-")
    }

    static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

    /// The next token; `.endOfFile` forever once the input is exhausted.
    mutating func next() throws(ConfigError) -> ConfigToken {
        var newline = false
        // Skip whitespace and comments.
        while let b = peekByte() {
            if b == UInt8(ascii: "\n") {
                newline = true
                advance()
            } else if b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") || b == UInt8(ascii: "\r") {
                advance()
            } else if b == UInt8(ascii: "#") {
                while let c = peekByte(), c != UInt8(ascii: "\n") { advance() }
            } else {
                break
            }
        }
        let start = location
        func token(_ kind: ConfigToken.Kind) -> ConfigToken {
            ConfigToken(kind: kind, location: start, end: location, newlineBefore: newline)
        }
        guard let b = peekByte() else { return token(.endOfFile) }

        if b == UInt8(ascii: "\"") { return token(.string(try lexString(start: start))) }
        if ConfigLexer.isDigit(b) { return token(.integer(try lexInteger(start: start))) }
        if ConfigLexer.isNameStart(b) {
            let from = offset
            while let c = peekByte(), ConfigLexer.isNameByte(c) { advance() }
            return token(.name(String(decoding: bytes[from..<offset], as: UTF8.self)))
        }
        if b == UInt8(ascii: "$") {
            advance()
            let from = offset
            while let c = peekByte(), ConfigLexer.isNameStart(c) || ConfigLexer.isDigit(c) { advance() }
            if from == offset {
                throw ConfigError(location: start, message: "expected a condition name after '$'")
            }
            return token(.dollar(String(decoding: bytes[from..<offset], as: UTF8.self)))
        }
        let second = peekByte(1)
        let punct: String
        switch (b, second) {
        case (UInt8(ascii: "="), UInt8(ascii: "=")): punct = "=="
        case (UInt8(ascii: "="), UInt8(ascii: "~")): punct = "=~"
        case (UInt8(ascii: "="), UInt8(ascii: "^")): punct = "=^"
        case (UInt8(ascii: "="), UInt8(ascii: "$")): punct = "=$"
        case (UInt8(ascii: "="), UInt8(ascii: ">")): punct = "=>"
        case (UInt8(ascii: "="), _): punct = "="
        case (UInt8(ascii: "!"), UInt8(ascii: "=")): punct = "!="
        case (UInt8(ascii: "!"), UInt8(ascii: "~")): punct = "!~"
        case (UInt8(ascii: "+"), UInt8(ascii: "=")): punct = "+="
        case (UInt8(ascii: "+"), _): punct = "+"
        case (UInt8(ascii: ":"), UInt8(ascii: "=")): punct = ":="
        case (UInt8(ascii: "("), _): punct = "("
        case (UInt8(ascii: ")"), _): punct = ")"
        case (UInt8(ascii: "{"), _): punct = "{"
        case (UInt8(ascii: "}"), _): punct = "}"
        case (UInt8(ascii: "["), _): punct = "["
        case (UInt8(ascii: "]"), _): punct = "]"
        case (UInt8(ascii: ","), _): punct = ","
        default:
            throw ConfigError(location: start, message: "unexpected character \(ConfigLexer.describe(byte: b))")
        }
        for _ in 0..<punct.utf8.count { advance() }
        return token(.punct(punct))
    }

    private static func describe(byte b: UInt8) -> String {
        if b >= 0x20 && b < 0x7F { return "'\(Character(Unicode.Scalar(b)))'" }
        return "0x" + String(b, radix: 16)
    }

    private mutating func lexString(start: ConfigSourceLocation) throws(ConfigError) -> String {
        advance() // opening quote
        var out: [UInt8] = []
        while let b = peekByte() {
            if b == UInt8(ascii: "\"") {
                advance()
                return String(decoding: out, as: UTF8.self)
            }
            if b == UInt8(ascii: "\\"), let e = peekByte(1) {
                switch e {
                case UInt8(ascii: "\""): out.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\"))
                case UInt8(ascii: "n"): out.append(UInt8(ascii: "\n"))
                case UInt8(ascii: "t"): out.append(UInt8(ascii: "\t"))
                case UInt8(ascii: "r"): out.append(UInt8(ascii: "\r"))
                default:
                    out.append(b)
                    advance()
                    continue // the escaped byte is read normally (it may be a newline)
                }
                advance()
                advance()
                continue
            }
            out.append(b)
            advance()
        }
        throw ConfigError(location: start, message: "unterminated string (missing closing '\"')")
    }

    private mutating func lexInteger(start: ConfigSourceLocation) throws(ConfigError) -> Int {
        var value = 0
        while let b = peekByte(), ConfigLexer.isDigit(b) {
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times.addingReportingOverflow(Int(b - 0x30))
            if o1 || o2 { throw ConfigError(location: start, message: "integer literal out of range") }
            value = sum
            advance()
        }
        if let b = peekByte(), ConfigLexer.isNameByte(b) {
            throw ConfigError(location: start,
                              message: "invalid number: digits must not be followed by \(ConfigLexer.describe(byte: b)) (suffixes are not supported; quote strings)")
        }
        return value
    }
}
