/// One test of a conditional block (`$HTTP["url"] =~ "^/ws/"`), with everything needed to evaluate it
/// prepared at load time: the regex is compiled once and CIDR patterns are parsed once, so evaluating
/// a request never re-parses anything. A class because it owns the compiled `regex_t`.
/// `@unchecked Sendable`: every stored property is set in `init` and never changed; the regex is a
/// `POSIXRegex`, whose `regexec` glibc allows from several threads at once.
public final class ConfigCondition: @unchecked Sendable {
    public let field: ConditionField
    public let op: ConditionOperator
    public let pattern: String
    public let location: ConfigSourceLocation
    /// Present for `=~` and `!~`.
    public let regex: POSIXRegex?
    /// Present when the field is `remoteIP` and the pattern is an address or CIDR block.
    let ipMatcher: IPAddressMatcher?

    /// Prepares the condition; throws (naming `location`) when a regex does not compile.
    public init(field: ConditionField, op: ConditionOperator, pattern: String,
                location: ConfigSourceLocation) throws(ConfigError) {
        self.field = field
        self.op = op
        self.pattern = pattern
        self.location = location
        switch op {
        case .regex, .notRegex:
            do {
                regex = try POSIXRegex(pattern)
            } catch {
                throw ConfigError(location: location,
                                  message: "invalid regular expression \(ConfigValue.quoted(pattern)): \(error.message)")
            }
        default:
            regex = nil
        }
        if field == .remoteIP, op == .equal || op == .notEqual {
            ipMatcher = IPAddressMatcher(pattern: pattern)
        } else {
            ipMatcher = nil
        }
    }

    /// Tests `subject` (the request's value of `field`).
    ///
    /// `==`/`!=` compare addresses for `remoteIP` (CIDR aware), host:port pairs for `serverSocket`
    /// (an empty or wildcard host in either side matches any host), and are case-insensitive for `host`.
    public func matches(_ subject: String) -> Bool {
        switch op {
        case .equal: return equals(subject)
        case .notEqual: return !equals(subject)
        case .prefix:
            return field == .host ? subject.lowercased().hasPrefix(pattern.lowercased()) : subject.hasPrefix(pattern)
        case .suffix:
            return field == .host ? subject.lowercased().hasSuffix(pattern.lowercased()) : subject.hasSuffix(pattern)
        case .regex: return regex?.matches(subject) ?? false
        case .notRegex: return !(regex?.matches(subject) ?? false)
        }
    }

    private func equals(_ subject: String) -> Bool {
        switch field {
        case .remoteIP:
            if let ipMatcher { return ipMatcher.contains(subject) }
            return subject == pattern
        case .host:
            return subject.lowercased() == pattern.lowercased()
        case .serverSocket:
            return ConfigCondition.socketsEqual(pattern, subject)
        default:
            return subject == pattern
        }
    }

    /// Splits `host:port`, `:port`, `[v6]:port` or a bare `port` into (host, port).
    static func splitSocket(_ text: String) -> (host: String, port: String) {
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            return (host, rest.hasPrefix(":") ? String(rest.dropFirst()) : String(rest))
        }
        if let colon = text.lastIndex(of: ":"), text.firstIndex(of: ":") == colon {
            return (String(text[..<colon]), String(text[text.index(after: colon)...]))
        }
        if !text.isEmpty, text.allSatisfy(\.isNumber) { return ("", text) }
        return (text, "")
    }

    private static func socketsEqual(_ a: String, _ b: String) -> Bool {
        if a == b { return true }
        let left = splitSocket(a), right = splitSocket(b)
        guard left.port == right.port else { return false }
        let wildcard: Set<String> = ["", "0.0.0.0", "::", "*"]
        if wildcard.contains(left.host) || wildcard.contains(right.host) { return true }
        if let l = IPAddressMatcher.parse(left.host), let r = IPAddressMatcher.parse(right.host) { return l == r }
        return left.host.lowercased() == right.host.lowercased()
    }
}

extension ConfigCondition: Equatable {
    /// Two conditions are equal when they test the same field with the same operator and pattern
    /// (the source location is not part of the identity).
    public static func == (lhs: ConfigCondition, rhs: ConfigCondition) -> Bool {
        lhs.field == rhs.field && lhs.op == rhs.op && lhs.pattern == rhs.pattern
    }
}

extension ConfigCondition: CustomStringConvertible {
    /// The condition in config syntax, e.g. `$HTTP["url"] =~ "^/ws/"`.
    public var description: String { "\(field.configSyntax) \(op.rawValue) \(ConfigValue.quoted(pattern))" }
}
