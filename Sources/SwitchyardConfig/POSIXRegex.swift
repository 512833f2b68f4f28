import Glibc

/// A POSIX extended regular expression compiled once at configuration load time. Compiling per request
/// would cost a `regcomp` on every match; holding the `regex_t` behind a class lets `deinit` `regfree` it.
/// `regexec` on a compiled pattern is thread-safe in glibc, hence `@unchecked Sendable`.
public final class POSIXRegex: @unchecked Sendable {
    /// The source pattern.
    public let pattern: String
    private let storage: UnsafeMutablePointer<regex_t>

    /// Compiles `pattern` with `REG_EXTENDED`; throws the `regerror` text on failure.
    public init(_ pattern: String, caseInsensitive: Bool = false) throws(POSIXRegexError) {
        // Compile into a local first: throwing after every stored property is set would run `deinit`
        // and `regfree` a pattern that never compiled.
        let compiled = UnsafeMutablePointer<regex_t>.allocate(capacity: 1)
        var flags = REG_EXTENDED
        if caseInsensitive { flags |= REG_ICASE }
        let rc = regcomp(compiled, pattern, flags)
        if rc != 0 {
            var buffer = [CChar](repeating: 0, count: 256)
            regerror(rc, compiled, &buffer, buffer.count)
            let message = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            compiled.deallocate()
            throw POSIXRegexError(message: message)
        }
        self.pattern = pattern
        storage = compiled
    }

    deinit {
        regfree(storage)
        storage.deallocate()
    }

    /// Whether the pattern matches anywhere in `subject`.
    public func matches(_ subject: String) -> Bool {
        regexec(storage, subject, 0, nil, 0) == 0
    }

    /// The whole match followed by up to 9 capture groups (empty string for a group that did not take
    /// part), or `nil` when there is no match; lighttpd exposes these as `%0`…`%9` to rewrite rules.
    public func captures(_ subject: String) -> [String]? {
        let count = 10
        var groups = [regmatch_t](repeating: regmatch_t(), count: count)
        let utf8 = Array(subject.utf8)
        let rc = subject.withCString { regexec(storage, $0, count, &groups, 0) }
        guard rc == 0 else { return nil }
        let used = min(count, Int(storage.pointee.re_nsub) + 1)
        return (0..<used).map { index in
            let group = groups[index]
            guard group.rm_so >= 0, group.rm_eo >= group.rm_so, Int(group.rm_eo) <= utf8.count else { return "" }
            return String(decoding: utf8[Int(group.rm_so)..<Int(group.rm_eo)], as: UTF8.self)
        }
    }
}

/// Why `regcomp` rejected a pattern (the `regerror` text).
public struct POSIXRegexError: Error, Sendable, Equatable {
    public var message: String
}
