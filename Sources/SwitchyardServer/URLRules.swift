import Glibc
import SwitchyardConfig

/// lighttpd's URL modules, as they apply to one request scope: `mod_redirect` (`url.redirect`,
/// `url.redirect-code`), `mod_rewrite` (`url.rewrite-once`, `url.rewrite-repeat`,
/// `url.rewrite-if-not-file`, `url.rewrite-repeat-if-not-file`, and `url.rewrite` as once) and
/// `mod_access` (`url.access-deny`, `url.access-allow`). Compiled once per scope at load time;
/// evaluated by the router before any handler is chosen.
struct URLRules: Sendable {
    /// One `"regex" => "replacement"` pair. The replacement's `$0`…`$9` are the regex's groups,
    /// `%0`…`%9` those of the enclosing `=~` conditional (lighttpd's "last matched condition").
    struct Rule: Sendable {
        let regex: POSIXRegex
        let replacement: String
        /// The `=~` conditional block whose captures `%N` names: the block that set the key, or
        /// the nearest enclosing one that is a regex match (nil: none, `%N` is empty).
        var conditionContext: Int? = nil
        /// The replacement has a `%N`: only then are the conditional's captures computed.
        var usesConditionCaptures = false

        init(regex: POSIXRegex, replacement: String, conditionContext: Int? = nil) {
            self.regex = regex
            self.replacement = replacement
            self.conditionContext = conditionContext
            self.usesConditionCaptures = URLRules.hasPercentGroup(replacement)
        }

        /// The replacement with `groups` ($N) and, when it uses them, the conditional's (%N).
        func apply(_ groups: [String], conditionCaptures: (Int) -> [String]) -> String {
            let outer = usesConditionCaptures ? conditionContext.map(conditionCaptures) ?? [] : []
            return URLRules.substitute(replacement, groups, conditionGroups: outer)
        }
    }

    enum RewriteKind: Sendable { case once, repeatable }

    struct Rewrite: Sendable {
        let rule: Rule
        let kind: RewriteKind
        /// `-if-not-file`: only when the path is not an existing regular file.
        let ifNotFile: Bool
    }

    var redirects: [Rule] = []
    var redirectCode = 301
    var rewrites: [Rewrite] = []
    var accessDeny: [String] = []
    var accessAllow: [String] = []

    var isEmpty: Bool { redirects.isEmpty && rewrites.isEmpty && accessDeny.isEmpty && accessAllow.isEmpty }

    /// The Location for `uri` (path and query as the client sent them), if a redirect rule matches.
    /// `conditionCaptures`: a conditional block's regex groups for this request (asked only for `%N`).
    func redirect(_ uri: String, conditionCaptures: (Int) -> [String] = { _ in [] }) -> String? {
        for rule in redirects {
            if let groups = rule.regex.captures(uri) { return rule.apply(groups, conditionCaptures: conditionCaptures) }
        }
        return nil
    }

    /// The first rewrite rule that matches `uri` and may still apply, with its result.
    /// `onceApplied`: a `-once` rule already rewrote this request (no rule rewrites it again);
    /// `isFile`: asked only for `-if-not-file` rules.
    func rewrite(_ uri: String, onceApplied: Bool, isFile: () -> Bool,
                 conditionCaptures: (Int) -> [String] = { _ in [] }) -> (uri: String, kind: RewriteKind)? {
        guard !onceApplied else { return nil }
        var fileChecked: Bool? = nil
        for r in rewrites {
            guard let groups = r.rule.regex.captures(uri) else { continue }
            if r.ifNotFile {
                if fileChecked == nil { fileChecked = isFile() }
                if fileChecked == true { continue }
            }
            return (r.rule.apply(groups, conditionCaptures: conditionCaptures), r.kind)
        }
        return nil
    }

    /// lighttpd's mod_access: a path ending with a denied suffix ("" denies all) is refused; with
    /// an allow list, only paths ending with one of its suffixes are served.
    func denies(path: String) -> Bool {
        if accessDeny.contains(where: { $0.isEmpty || path.hasSuffix($0) }) { return true }
        if !accessAllow.isEmpty && !accessAllow.contains(where: { $0.isEmpty || path.hasSuffix($0) }) { return true }
        return false
    }

    /// `$N` → group N (empty when the regex has fewer groups), `%N` → group N of the enclosing
    /// conditional's regex (`conditionGroups`); `\$` and `\%` → a literal `$` / `%`.
    static func substitute(_ template: String, _ groups: [String], conditionGroups: [String] = []) -> String {
        var out = ""
        var chars = template.makeIterator()
        var pending: Character? = chars.next()
        while let c = pending {
            pending = chars.next()
            if c == "\\", let p = pending, p == "$" || p == "%" {
                out.append(p)
                pending = chars.next()
            } else if c == "$" || c == "%", let d = pending, let n = d.wholeNumberValue, d.isASCII {
                let source = c == "$" ? groups : conditionGroups
                if n < source.count { out += source[n] }
                pending = chars.next()
            } else {
                out.append(c)
            }
        }
        return out
    }

    // MARK: parsing

    /// Whether `template` names a conditional's group (`%0`…`%9`, not escaped).
    static func hasPercentGroup(_ template: String) -> Bool {
        var previous: Character? = nil, beforePrevious: Character? = nil
        for c in template {
            if previous == "%", c.isASCII, c.isNumber, beforePrevious != "\\" { return true }
            beforePrevious = previous
            previous = c
        }
        return false
    }

    /// Reads the scope's keys; `entry` looks a key up in the scope (conditionals applied);
    /// `regexContext` names the `=~` block whose captures a key's `%N` refer to.
    static func parse(modules: [String], entry: (String) -> ConfigEntry?,
                      regexContext: (String) -> Int? = { _ in nil }) throws -> URLRules {
        var rules = URLRules()
        if modules.contains("mod_redirect") {
            if let e = entry("url.redirect") { rules.redirects = try pairs(e, key: "url.redirect", context: regexContext("url.redirect")) }
            if let e = entry("url.redirect-code") {
                rules.redirectCode = try ConfigLimits.int(e, key: "url.redirect-code", range: 300...399)
            }
        }
        if modules.contains("mod_rewrite") {
            let kinds: [(String, RewriteKind, Bool)] = [
                ("url.rewrite-once", .once, false), ("url.rewrite", .once, false),
                ("url.rewrite-repeat", .repeatable, false), ("url.rewrite-if-not-file", .once, true),
                ("url.rewrite-repeat-if-not-file", .repeatable, true),
            ]
            for (key, kind, ifNotFile) in kinds {
                guard let e = entry(key) else { continue }
                rules.rewrites += try pairs(e, key: key, context: regexContext(key)).map { Rewrite(rule: $0, kind: kind, ifNotFile: ifNotFile) }
            }
        }
        if modules.contains("mod_access") {
            if let e = entry("url.access-deny") { rules.accessDeny = try suffixes(e, key: "url.access-deny") }
            if let e = entry("url.access-allow") { rules.accessAllow = try suffixes(e, key: "url.access-allow") }
        }
        return rules
    }

    private static func pairs(_ e: ConfigEntry, key: String, context: Int?) throws -> [Rule] {
        guard let elements = e.value.arrayElements else {
            throw ConfigError(location: e.location, message: "\(key) must be an array ( \"regex\" => \"replacement\" )")
        }
        return try elements.map { el in
            guard let pattern = el.key, let replacement = el.value.stringValue else {
                throw ConfigError(location: e.location, message: "\(key) entries are \"regex\" => \"replacement\"")
            }
            do {
                return Rule(regex: try POSIXRegex(pattern), replacement: replacement, conditionContext: context)
            } catch {
                throw ConfigError(location: e.location, message: "\(key): bad regex \"\(pattern)\": \((error as? POSIXRegexError)?.message ?? "\(error)")")
            }
        }
    }

    private static func suffixes(_ e: ConfigEntry, key: String) throws -> [String] {
        guard let list = e.value.stringList else {
            throw ConfigError(location: e.location, message: "\(key) must be a list of path suffixes, e.g. ( \"~\", \".inc\" )")
        }
        return list
    }
}
