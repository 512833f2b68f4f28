/// Rendering values back into lighttpd syntax, for `ConfigDocument.dump()`. The output must parse back to
/// the same value, so strings are escaped with exactly the escapes the lexer understands.
extension ConfigValue {
    /// `s` as a double-quoted config string.
    public static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// The value in config syntax; arrays holding arrays (or too long for one line) span several lines
    /// indented by `indent`.
    public func configSyntax(indent: String = "") -> String {
        switch self {
        case .string(let s): return ConfigValue.quoted(s)
        case .integer(let i): return String(i)
        case .array(let elements):
            if elements.isEmpty { return "( )" }
            func element(_ e: ConfigArrayElement, _ inner: String) -> String {
                let value = e.value.configSyntax(indent: inner)
                if let key = e.key { return "\(ConfigValue.quoted(key)) => \(value)" }
                return value
            }
            let nested = elements.contains { if case .array = $0.value { return true } else { return false } }
            if !nested {
                let line = "( " + elements.map { element($0, indent) }.joined(separator: ", ") + " )"
                if line.utf8.count + indent.utf8.count <= 80 { return line }
            }
            let inner = indent + "    "
            var out = "(\n"
            for e in elements { out += inner + element(e, inner) + ",\n" }
            return out + indent + ")"
        }
    }
}
