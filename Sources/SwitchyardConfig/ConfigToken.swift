/// One lexical token of lighttpd's configuration language.
struct ConfigToken: Equatable {
    enum Kind: Equatable {
        /// A double-quoted string, escapes already processed.
        case string(String)
        /// A decimal integer literal.
        case integer(Int)
        /// A bare word: a dotted key (`server.document-root`), `var.x`, `env.X`, `include`, `else`, …
        case name(String)
        /// `$HTTP`, `$SERVER`, `$REQUEST_HEADER`, … (the name without `$`).
        case dollar(String)
        /// Operators and punctuation: `=`, `+=`, `:=`, `==`, `!=`, `=^`, `=$`, `=~`, `!~`, `=>`,
        /// `(`, `)`, `{`, `}`, `[`, `]`, `,`, `+`.
        case punct(String)
        case endOfFile
    }

    var kind: Kind
    /// Where the token starts.
    var location: ConfigSourceLocation
    /// The position just after the token (for "missing comma after …" warnings).
    var end: ConfigSourceLocation
    /// A newline (or comment line) separates this token from the previous one.
    var newlineBefore: Bool

    /// The token as quoted in error messages: `'{'`, `'"abc"'`, `end of file`.
    var display: String {
        switch kind {
        case .string(let s):
            let shown = s.count > 40 ? String(s.prefix(40)) + "…" : s
            return "'\(ConfigValue.quoted(shown))'"
        case .integer(let i): return "'\(i)'"
        case .name(let n): return "'\(n)'"
        case .dollar(let n): return "'$\(n)'"
        case .punct(let p): return "'\(p)'"
        case .endOfFile: return "end of file"
        }
    }

    func isPunct(_ p: String) -> Bool { kind == .punct(p) }
}
