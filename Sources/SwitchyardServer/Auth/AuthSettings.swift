import SwitchyardConfig

/// lighttpd's mod_auth with mod_authn_file's htpasswd backend, for one request scope:
///
///     auth.backend = "htpasswd"
///     auth.backend.htpasswd.userfile = "/etc/switchyard/htpasswd"
///     auth.require = ( "/admin/" => ( "method" => "basic", "realm" => "Admin", "require" => "valid-user" ) )
///
/// `require` is "valid-user" or a `|`-separated list of `user=NAME`. Only Basic fits a file of
/// one-way hashes (lighttpd refuses digest with htpasswd too).
struct AuthSettings: Sendable {
    struct Requirement: Sendable {
        let prefix: String
        let realm: String
        /// nil: any user in the file.
        let users: Set<String>?
    }

    let userFile: String
    /// Longest prefix first.
    let requirements: [Requirement]

    func requirement(for path: String) -> Requirement? {
        requirements.first { path.hasPrefix($0.prefix) }
    }

    static func parse(modules: [String], entry: (String) -> ConfigEntry?) throws -> AuthSettings? {
        guard modules.contains("mod_auth"), let require = entry("auth.require") else { return nil }
        guard let backend = entry("auth.backend") else {
            throw ConfigError(location: require.location, message: "auth.require needs auth.backend = \"htpasswd\"")
        }
        guard backend.value.stringValue == "htpasswd" else {
            throw ConfigError(location: backend.location, message: "auth.backend: only \"htpasswd\" is available (mod_authn_file)")
        }
        guard let file = entry("auth.backend.htpasswd.userfile"), let path = file.value.stringValue, path.hasPrefix("/") else {
            throw ConfigError(location: backend.location, message: "auth.backend.htpasswd.userfile must name the htpasswd file (absolute path)")
        }
        guard let elements = require.value.arrayElements else {
            throw ConfigError(location: require.location, message: "auth.require must be an array ( \"/prefix\" => ( \"method\" => ..., \"realm\" => ..., \"require\" => ... ) )")
        }
        var requirements: [Requirement] = []
        for el in elements {
            guard let prefix = el.key, let options = el.value.arrayElements else {
                throw ConfigError(location: require.location, message: "auth.require entries are \"/prefix\" => ( options )")
            }
            var method = "basic", realm = "", rule = "valid-user"
            for o in options {
                guard let k = o.key, let v = o.value.stringValue else {
                    throw ConfigError(location: require.location, message: "auth.require[\"\(prefix)\"]: options are \"name\" => \"value\"")
                }
                switch k {
                case "method": method = v
                case "realm": realm = v
                case "require": rule = v
                case "algorithm": break
                default: throw ConfigError(location: require.location, message: "auth.require[\"\(prefix)\"]: unknown option \"\(k)\"")
                }
            }
            guard method == "basic" else {
                throw ConfigError(location: require.location, message: "auth.require[\"\(prefix)\"]: method \"\(method)\" needs an htdigest backend; htpasswd works with \"basic\"")
            }
            guard !realm.utf8.contains(where: { $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") || $0 < 0x20 }) else {
                throw ConfigError(location: require.location, message: "auth.require[\"\(prefix)\"]: the realm may not hold quotes, backslashes or control characters")
            }
            requirements.append(Requirement(prefix: prefix, realm: realm, users: try users(rule, prefix: prefix, at: require)))
        }
        requirements.sort { $0.prefix.count > $1.prefix.count }
        return AuthSettings(userFile: path, requirements: requirements)
    }

    private static func users(_ rule: String, prefix: String, at entry: ConfigEntry) throws -> Set<String>? {
        if rule == "valid-user" { return nil }
        var names = Set<String>()
        for part in rule.split(separator: "|") {
            guard part.hasPrefix("user="), part.count > 5 else {
                throw ConfigError(location: entry.location, message: "auth.require[\"\(prefix)\"]: require \"\(rule)\": use \"valid-user\" or \"user=NAME|user=NAME\" (groups and hosts are not available)")
            }
            names.insert(String(part.dropFirst(5)))
        }
        return names
    }
}
