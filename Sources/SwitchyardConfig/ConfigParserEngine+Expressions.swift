/// Values and expressions: literals, arrays, variable references and the `+` operator.
extension ConfigParserEngine {
    /// `primary ( '+' primary )*`, evaluated left to right.
    mutating func parseExpression() throws(ConfigError) -> ConfigValue {
        var value = try parsePrimary()
        while try peek().isPunct("+") {
            let plus = try take()
            let rhs = try parsePrimary()
            switch value.combined(with: rhs) {
            case .success(let combined): value = combined
            case .failure(let failure): throw ConfigError(location: plus.location, message: failure.message)
            }
        }
        return value
    }

    static func startsValue(_ token: ConfigToken) -> Bool {
        switch token.kind {
        case .string, .integer, .name: return true
        case .punct("("): return true
        default: return false
        }
    }

    private mutating func parsePrimary() throws(ConfigError) -> ConfigValue {
        let token = try peek()
        switch token.kind {
        case .string(let s):
            try take()
            return .string(s)
        case .integer(let i):
            try take()
            return .integer(i)
        case .punct("("):
            return try parseArray()
        case .name(let name):
            try take()
            return try resolve(name, at: token.location)
        default:
            throw unexpected(token, expected: "a value (string, number, array or variable)")
        }
    }

    /// `env.NAME` from the environment given to the parser, otherwise a previously set key or `var.*`.
    private func resolve(_ name: String, at location: ConfigSourceLocation) throws(ConfigError) -> ConfigValue {
        if name.hasPrefix("env.") {
            let variable = String(name.dropFirst(4))
            guard let value = environment[variable] else {
                throw ConfigError(location: location, message: "undefined environment variable '\(name)'")
            }
            return .string(value)
        }
        guard let entry = lookup(name) else {
            throw ConfigError(location: location, message: "undefined config variable '\(name)'")
        }
        return entry.value
    }

    /// `( element, element, … )` where an element is `value` or `"key" => value`. A trailing comma is
    /// allowed; a missing comma between two elements on different lines is accepted with a warning,
    /// as lighttpd accepts it (its lexer turns newlines inside parentheses into commas).
    private mutating func parseArray() throws(ConfigError) -> ConfigValue {
        let open = try take()
        try enterNesting(at: open.location)
        defer { depth -= 1 }
        var elements: [ConfigArrayElement] = []
        var keys = Set<String>()
        if try peek().isPunct(")") {
            try take()
            return .array([])
        }
        while true {
            let first = try peek()
            if first.kind == .endOfFile {
                throw unexpected(first, expected: "a value or ')' to close the array opened at \(open.location)")
            }
            var value = try parseExpression()
            var key: String?
            if try peek().isPunct("=>") {
                try take()
                guard case .string(let k) = value else {
                    throw ConfigError(location: first.location,
                                      message: "array keys must be strings, found \(value.typeName)")
                }
                if !keys.insert(k).inserted {
                    throw ConfigError(location: first.location, message: "duplicate array key \(ConfigValue.quoted(k))")
                }
                key = k
                value = try parseExpression()
            }
            elements.append(ConfigArrayElement(key: key, value: value))
            if elements.count > ConfigLimits.maxArrayElements {
                throw ConfigError(location: first.location, message: "array with more than \(ConfigLimits.maxArrayElements) elements")
            }

            let next = try peek()
            if next.isPunct(",") {
                try take()
                if try peek().isPunct(")") {
                    try take()
                    break
                }
                continue
            }
            if next.isPunct(")") {
                try take()
                break
            }
            if next.newlineBefore && ConfigParserEngine.startsValue(next) {
                warn(previousEnd, "missing ',' between array elements (accepted because a newline separates them)")
                continue
            }
            throw unexpected(next, expected: key == nil ? "'=>' or ',' or ')'" : "',' or ')'")
        }
        return .array(elements)
    }
}
