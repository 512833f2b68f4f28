/// The recursive-descent parser behind `ConfigParser`. It evaluates as it parses, like lighttpd:
/// variables, `+` and `+=` are resolved against the scopes visible at that point, so the finished
/// document holds plain values and never needs the source again.
struct ConfigParserEngine {
    let environment: [String: String]
    /// Where included files and `include_shell` output come from (the disk, or memory in tests and fuzzing).
    let fileSource: any ConfigFileSource
    var global: [String: ConfigEntry] = [:]
    var contexts: [ConfigContext] = []
    var warnings: [ConfigDiagnostic] = []
    var files: [String] = []

    /// Canonical paths of the files currently being parsed (outermost first), for cycle detection.
    var includeStack: [String] = []
    /// Display names matching `includeStack`, for the cycle message.
    var includeNames: [String] = []
    /// Open scopes, outermost first: `nil` is the global scope, an `Int` a context index.
    var scopes: [Int?] = [nil]
    /// Directory that relative `include` paths are resolved against (the current file's directory).
    var baseDirectory: String

    /// Open arrays, blocks and included files (`ConfigLimits.maxNestingDepth`).
    var depth = 0
    /// Files parsed so far (`ConfigLimits.maxIncludes`).
    var sourcesParsed = 0
    /// Weight of every value assigned so far (`ConfigLimits.maxTotalWeight`).
    var assignedWeight = 0

    var lexer: ConfigLexer
    var lookahead: ConfigToken?
    /// End of the most recently consumed token.
    var previousEnd: ConfigSourceLocation

    init(environment: [String: String], baseDirectory: String, fileSource: any ConfigFileSource) {
        self.environment = environment
        self.fileSource = fileSource
        self.baseDirectory = baseDirectory
        lexer = ConfigLexer(bytes: [], file: "")
        previousEnd = ConfigSourceLocation(file: "", line: 1, column: 1)
    }

    var document: ConfigDocument {
        ConfigDocument(global: global, contexts: contexts, warnings: warnings, files: files)
    }

    // MARK: Sources

    /// Parses one source (the main file, an included file or `include_shell` output) into the current scope.
    mutating func parseSource(_ bytes: [UInt8], fileName: String, baseDirectory newBase: String,
                              canonicalPath: String?) throws(ConfigError) {
        sourcesParsed += 1
        if sourcesParsed > ConfigLimits.maxIncludes {
            throw ConfigError(location: previousEnd,
                              message: "more than \(ConfigLimits.maxIncludes) files included (include loop through different names?)")
        }
        let included = sourcesParsed > 1   // the first source is level 0
        if included { try enterNesting(at: previousEnd) }
        defer { if included { depth -= 1 } }
        let saved = (lexer, lookahead, previousEnd, baseDirectory)
        lexer = ConfigLexer(bytes: bytes, file: fileName)
        lookahead = nil
        previousEnd = ConfigSourceLocation(file: fileName, line: 1, column: 1)
        baseDirectory = newBase
        if let canonicalPath {
            includeStack.append(canonicalPath)
            includeNames.append(fileName)
        }
        try parseStatements(openedAt: nil)
        if canonicalPath != nil {
            includeStack.removeLast()
            includeNames.removeLast()
        }
        (lexer, lookahead, previousEnd, baseDirectory) = saved
    }

    // MARK: Tokens

    mutating func peek() throws(ConfigError) -> ConfigToken {
        if let lookahead { return lookahead }
        let token = try lexer.next()
        lookahead = token
        return token
    }

    @discardableResult
    mutating func take() throws(ConfigError) -> ConfigToken {
        let token = try peek()
        lookahead = nil
        previousEnd = token.end
        return token
    }

    /// Consumes the punctuation `p` or throws "expected … but found …".
    @discardableResult
    mutating func expect(_ p: String, _ what: String? = nil) throws(ConfigError) -> ConfigToken {
        let token = try peek()
        guard token.isPunct(p) else { throw unexpected(token, expected: what ?? "'\(p)'") }
        return try take()
    }

    /// Counts one more open array, block or include; throws past `ConfigLimits.maxNestingDepth`.
    /// The caller decrements `depth` when the construct closes.
    mutating func enterNesting(at location: ConfigSourceLocation) throws(ConfigError) {
        depth += 1
        if depth > ConfigLimits.maxNestingDepth {
            throw ConfigError(location: location, message: "nesting deeper than \(ConfigLimits.maxNestingDepth) levels")
        }
    }

    func unexpected(_ token: ConfigToken, expected: String) -> ConfigError {
        ConfigError(location: token.location, message: "expected \(expected) but found \(token.display)")
    }

    mutating func warn(_ location: ConfigSourceLocation, _ message: String) {
        warnings.append(ConfigDiagnostic(location: location, message: message))
    }

    // MARK: Statements

    /// Statements until end of input (`openedAt == nil`) or until the `}` closing a block opened at `openedAt`.
    mutating func parseStatements(openedAt: ConfigSourceLocation?) throws(ConfigError) {
        while true {
            let token = try peek()
            switch token.kind {
            case .endOfFile:
                if let openedAt {
                    throw unexpected(token, expected: "'}' to close the block opened at \(openedAt)")
                }
                return
            case .punct("}"):
                guard openedAt != nil else {
                    throw ConfigError(location: token.location, message: "unexpected '}' without a matching '{'")
                }
                try take()
                return
            case .dollar:
                try parseConditionChain()
            case .name("include"), .name("include_shell"):
                try parseInclude()
            case .name("else"), .name("elseif"), .name("elsif"), .name("elif"):
                throw ConfigError(location: token.location,
                                  message: "'\(token.display.dropFirst().dropLast())' without a preceding conditional block")
            case .name:
                try parseAssignment()
            default:
                throw unexpected(token, expected: openedAt == nil
                    ? "a key, a condition such as '$HTTP[\"url\"]', or 'include'"
                    : "a key, a condition such as '$HTTP[\"url\"]', 'include' or '}'")
            }
        }
    }

    private mutating func parseAssignment() throws(ConfigError) {
        let keyToken = try take()
        guard case .name(let key) = keyToken.kind else { return }
        let opToken = try peek()
        guard case .punct(let op) = opToken.kind, op == "=" || op == "+=" || op == ":=" else {
            throw unexpected(opToken, expected: "'=', '+=' or ':=' after '\(key)'")
        }
        try take()
        if key.hasPrefix("env.") {
            throw ConfigError(location: keyToken.location, message: "cannot assign to '\(key)': env.* is read-only")
        }
        let value = try parseExpression()
        try assign(key: key, op: op, value: value, at: keyToken.location, opLocation: opToken.location)
    }

    /// Applies `=`, `+=` or `:=` in the current scope with lighttpd's semantics.
    private mutating func assign(key: String, op: String, value: ConfigValue, at location: ConfigSourceLocation,
                                 opLocation: ConfigSourceLocation) throws(ConfigError) {
        let scope = scopes[scopes.count - 1]
        var newValue = value
        switch op {
        case "=":
            if let existing = setting(key, in: scope) {
                warn(location, "duplicate config variable '\(key)' (already set at \(existing.location)); "
                    + "the later value wins (use ':=' to replace deliberately)")
            }
        case "+=":
            // lighttpd copies the value visible in the enclosing scopes and appends to the copy.
            if let existing = lookup(key) {
                switch existing.value.combined(with: value) {
                case .success(let combined): newValue = combined
                case .failure(let failure):
                    throw ConfigError(location: opLocation, message: "cannot '+=' to '\(key)': \(failure.message)")
                }
            }
        default:
            break
        }
        guard let weight = newValue.weight(limit: ConfigLimits.maxTotalWeight - assignedWeight) else {
            throw ConfigError(location: location, message: "configuration values larger than \(ConfigLimits.maxTotalWeight) bytes in total")
        }
        assignedWeight += weight
        let entry = ConfigEntry(value: newValue, location: location)
        if let scope { contexts[scope].settings[key] = entry } else { global[key] = entry }
    }

    func setting(_ key: String, in scope: Int?) -> ConfigEntry? {
        if let scope { return contexts[scope].settings[key] }
        return global[key]
    }

    /// The value of `key` visible now: the innermost open scope that sets it.
    func lookup(_ key: String) -> ConfigEntry? {
        for scope in scopes.reversed() {
            if let entry = setting(key, in: scope) { return entry }
        }
        return nil
    }
}
