import SwitchyardConfig

/// lighttpd's mod_alias (`alias.url = ( "/cgi-bin/" => "/usr/lib/cgi-bin/" )`): a URL prefix served
/// from another directory than the document root — static files, CGI scripts (the usual way to run
/// CGIs kept outside the document root) and the `-if-not-file` checks all look there.
///
/// Better than lighttpd on one point: a prefix only matches at a path-segment boundary, so
/// `"/img" => "/srv/img/"` maps `/img/a.png` but never `/img../etc/passwd` (lighttpd documents the
/// trailing-slash pitfall instead). The longest matching prefix wins.
struct AliasMap: Sendable {
    /// (URL prefix without a trailing slash, directory without a trailing slash), longest first.
    private(set) var entries: [(prefix: String, directory: String)] = []

    var isEmpty: Bool { entries.isEmpty }

    /// Where `path` (normalised) lives: the directory to look in, the path below it (starting
    /// with "/"), and the URL prefix that was replaced ("" when no alias applies).
    func resolve(_ path: String) -> (root: String, path: String, urlPrefix: String)? {
        for (prefix, directory) in entries where path.hasPrefix(prefix) {
            let rest = path.dropFirst(prefix.count)
            guard rest.isEmpty || rest.first == "/" else { continue }
            return (directory, rest.isEmpty ? "/" : String(rest), prefix)
        }
        return nil
    }

    static func parse(modules: [String], entry: (String) -> ConfigEntry?) throws -> AliasMap {
        guard modules.contains("mod_alias"), let e = entry("alias.url") else { return AliasMap() }
        guard let elements = e.value.arrayElements else {
            throw ConfigError(location: e.location, message: "alias.url must be an array ( \"/url-prefix/\" => \"/directory/\" )")
        }
        var map = AliasMap()
        for el in elements {
            guard let key = el.key, key.hasPrefix("/"), let dir = el.value.stringValue, dir.hasPrefix("/") else {
                throw ConfigError(location: e.location, message: "alias.url entries are \"/url-prefix/\" => \"/absolute/directory/\"")
            }
            let prefix = key.count > 1 && key.hasSuffix("/") ? String(key.dropLast()) : key
            let directory = dir.count > 1 && dir.hasSuffix("/") ? String(dir.dropLast()) : dir
            if map.entries.contains(where: { $0.prefix == prefix }) {
                throw ConfigError(location: e.location, message: "alias.url: \"\(key)\" is listed twice")
            }
            map.entries.append((prefix == "/" ? "" : prefix, directory))
        }
        map.entries.sort { $0.prefix.count > $1.prefix.count }
        return map
    }
}
