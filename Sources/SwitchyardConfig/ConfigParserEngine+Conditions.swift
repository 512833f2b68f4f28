/// Conditional blocks and their else-chains.
extension ConfigParserEngine {
    private static let elseWords: Set<String> = ["else", "elseif", "elsif", "elif"]

    /// `$X["sel"] op "pattern" { … }` followed by any number of `else $…  { … }` / `else if …` /
    /// `elseif …` / `elsif …` branches and at most one final plain `else { … }`.
    mutating func parseConditionChain() throws(ConfigError) {
        let parent = scopes[scopes.count - 1]
        let start = try peek().location
        let first = try parseConditionHeader()
        var chain = [try parseBlock(condition: first, parent: parent, predecessors: [], isElse: false, at: start)]
        while true {
            let token = try peek()
            guard case .name(let word) = token.kind, ConfigParserEngine.elseWords.contains(word) else { return }
            try take()
            var conditional = word != "else"
            if word == "else" {
                let after = try peek()
                if after.kind == .name("if") {
                    try take()
                    conditional = true
                } else if case .dollar = after.kind {
                    conditional = true
                }
            }
            if conditional {
                let next = try peek()
                guard case .dollar = next.kind else {
                    throw unexpected(next, expected: "a condition such as '$HTTP[\"host\"] == \"…\"' after '\(word)'")
                }
                let condition = try parseConditionHeader()
                chain.append(try parseBlock(condition: condition, parent: parent, predecessors: chain,
                                            isElse: false, at: token.location))
            } else {
                let previous = contexts[chain[chain.count - 1]].condition
                chain.append(try parseBlock(condition: previous, parent: parent, predecessors: chain,
                                            isElse: true, at: token.location))
                return
            }
        }
    }

    /// `{ statements }` as a new context; returns its index.
    private mutating func parseBlock(condition: ConfigCondition, parent: Int?, predecessors: [Int],
                                     isElse: Bool, at location: ConfigSourceLocation) throws(ConfigError) -> Int {
        let brace = try expect("{")
        try enterNesting(at: brace.location)
        defer { depth -= 1 }
        let index = contexts.count
        contexts.append(ConfigContext(index: index, parent: parent, condition: condition,
                                      elsePredecessors: predecessors, isElse: isElse, location: location))
        scopes.append(index)
        try parseStatements(openedAt: brace.location)
        scopes.removeLast()
        return index
    }

    /// `$NAME [ "selector" ] op expression`.
    private mutating func parseConditionHeader() throws(ConfigError) -> ConfigCondition {
        let dollar = try take()
        guard case .dollar(let variable) = dollar.kind else {
            throw unexpected(dollar, expected: "a condition")
        }
        guard ["HTTP", "SERVER", "REQUEST_HEADER", "PHYSICAL"].contains(variable) else {
            throw ConfigError(location: dollar.location,
                              message: "unknown condition '$\(variable)' (expected $HTTP, $SERVER, $REQUEST_HEADER or $PHYSICAL)")
        }
        try expect("[", "'[' after '$\(variable)'")
        let selectorToken = try take()
        guard case .string(let selector) = selectorToken.kind else {
            throw unexpected(selectorToken, expected: "a quoted field name such as \"url\"")
        }
        try expect("]")
        guard let field = ConditionField.from(variable: variable, selector: selector) else {
            throw ConfigError(location: selectorToken.location,
                              message: "unknown field $\(variable)[\(ConfigValue.quoted(selector))]")
        }
        let opToken = try peek()
        guard case .punct(let spelling) = opToken.kind, let op = ConditionOperator(rawValue: spelling) else {
            throw unexpected(opToken, expected: "a comparison operator ('==', '!=', '=^', '=$', '=~' or '!~')")
        }
        try take()
        let patternToken = try peek()
        let value = try parseExpression()
        guard case .string(let pattern) = value else {
            throw ConfigError(location: patternToken.location,
                              message: "condition pattern must be a string, found \(value.typeName)")
        }
        do {
            return try ConfigCondition(field: field, op: op, pattern: pattern, location: dollar.location)
        } catch {
            throw ConfigError(location: patternToken.location, message: error.message)
        }
    }
}
