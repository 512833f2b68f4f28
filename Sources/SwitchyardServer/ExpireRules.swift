import SwitchyardConfig
import SwitchyardHTTP
import SwitchyardOS

/// lighttpd's mod_expire for one request scope: `expire.url` (URL-path prefix => rule, first match
/// in order) and `expire.mimetypes` (Content-Type prefix => rule), the URL table first, as lighttpd
/// does. A rule becomes `Expires` and `Cache-Control: max-age=N` on static files' 200, 206 and 304
/// answers; responses of CGI/SCGI/FastCGI/proxy backends keep the caching their program chose.
struct ExpireRules: Sendable {
    var urls: [(prefix: String, rule: ExpireRule)] = []
    var mimeTypes: [(prefix: String, rule: ExpireRule)] = []

    var isEmpty: Bool { urls.isEmpty && mimeTypes.isEmpty }

    /// The rule for a response to `path` with `contentType`, if any.
    func rule(path: String, contentType: String) -> ExpireRule? {
        if let hit = urls.first(where: { path.hasPrefix($0.prefix) }) { return hit.rule }
        return mimeTypes.first(where: { contentType.hasPrefix($0.prefix) })?.rule
    }

    static func parse(modules: [String], entry: (String) -> ConfigEntry?) throws -> ExpireRules {
        var rules = ExpireRules()
        guard modules.contains("mod_expire") else { return rules }
        rules.urls = try table(entry, "expire.url")
        rules.mimeTypes = try table(entry, "expire.mimetypes")
        return rules
    }

    private static func table(_ entry: (String) -> ConfigEntry?, _ key: String) throws -> [(prefix: String, rule: ExpireRule)] {
        guard let e = entry(key) else { return [] }
        guard let elements = e.value.arrayElements else {
            throw ConfigError(location: e.location, message: "\(key) must be an array ( \"prefix\" => \"access plus 1 days\" )")
        }
        return try elements.map { el in
            guard let prefix = el.key, let text = el.value.stringValue else {
                throw ConfigError(location: e.location, message: "\(key) entries are \"prefix\" => \"<access|modification> plus <n> <unit> ...\"")
            }
            do {
                return (prefix, try ExpireRule(parsing: text))
            } catch let error as ExpireRule.ParseError {
                throw ConfigError(location: e.location, message: "\(key) \"\(prefix)\": \(error.reason)")
            }
        }
    }
}

/// "access plus 1 hours 30 minutes", "modification plus 7 days": a base time and an offset.
/// Units as lighttpd takes them (singular or plural): seconds, minutes, hours, days, weeks,
/// months (30 days), years (365 days). `now` is a synonym of `access`; `plus` may be left out.
struct ExpireRule: Sendable, Equatable {
    enum Base: Sendable, Equatable { case access, modification }
    var base: Base
    var seconds: Int

    struct ParseError: Error, Equatable { var reason: String }

    init(base: Base, seconds: Int) {
        self.base = base
        self.seconds = seconds
    }

    init(parsing text: String) throws(ParseError) {
        var words = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map { $0.lowercased() }[...]
        switch words.popFirst() {
        case "access", "now": base = .access
        case "modification": base = .modification
        default: throw ParseError(reason: "must start with access, now or modification")
        }
        if words.first == "plus" { words.removeFirst() }
        guard !words.isEmpty else { throw ParseError(reason: "no time after the base (e.g. \"access plus 1 days\")") }
        var total = 0
        while let countWord = words.popFirst() {
            guard let count = Int(countWord), count >= 0, count <= 100_000 else {
                throw ParseError(reason: "\"\(countWord)\" is not a count (0...100000)")
            }
            guard let unitWord = words.popFirst(), let unit = ExpireRule.unitSeconds(unitWord) else {
                throw ParseError(reason: "a count needs a unit: seconds, minutes, hours, days, weeks, months or years")
            }
            total += count * unit
        }
        seconds = total
    }

    private static func unitSeconds(_ word: String) -> Int? {
        let singular = word.hasSuffix("s") ? String(word.dropLast()) : word
        switch singular {
        case "second": return 1
        case "minute": return 60
        case "hour": return 3600
        case "day": return 86400
        case "week": return 7 * 86400
        case "month": return 30 * 86400
        case "year": return 365 * 86400
        default: return nil
        }
    }

    /// The moment the response expires: `now` or the file's `mtime`, plus the offset.
    func expires(now: Int, mtime: Int) -> Int { (base == .access ? now : mtime) + seconds }

    /// `Expires` and `Cache-Control` lines (max-age never below 0: a file modified long ago whose
    /// rule counts from its modification has already expired).
    func appendFields(now: Int, mtime: Int, to out: ByteBuffer) {
        let at = expires(now: now, mtime: mtime)
        HeaderName.appendField("Expires", HTTPDate.format(at), to: out)
        HeaderName.appendField("Cache-Control", "max-age=\(max(0, at - now))", to: out)
    }
}
