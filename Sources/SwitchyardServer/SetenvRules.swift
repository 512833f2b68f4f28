import SwitchyardConfig
import SwitchyardHTTP

/// lighttpd's mod_setenv for one request scope: headers added to (or set on) the request before
/// any handler sees it, variables for CGI/SCGI/uwsgi/FastCGI programs, and headers added to (or
/// set on) every response. `add-*` appends; `set-*` replaces what is there (an empty value
/// removes a request header), as lighttpd 1.4.46+ does.
struct SetenvRules: Sendable {
    var addRequestHeaders: [(String, String)] = []
    var setRequestHeaders: [(String, String)] = []
    var environment: [(String, String)] = []
    var responseHeaders: [(String, String)] = []

    var isEmpty: Bool {
        addRequestHeaders.isEmpty && setRequestHeaders.isEmpty && environment.isEmpty && responseHeaders.isEmpty
    }

    /// The request as handlers see it: the added and set headers applied.
    func apply(to head: HTTPRequestHead) -> HTTPRequestHead {
        guard !addRequestHeaders.isEmpty || !setRequestHeaders.isEmpty else { return head }
        var h = head
        for (name, value) in addRequestHeaders { h.headers.add(name: name, value: value) }
        for (name, value) in setRequestHeaders {
            h.headers.remove(name: name)
            if !value.isEmpty { h.headers.add(name: name, value: value) }
        }
        return h
    }

    static func parse(modules: [String], entry: (String) -> ConfigEntry?) throws -> SetenvRules {
        var rules = SetenvRules()
        guard modules.contains("mod_setenv") else { return rules }
        rules.addRequestHeaders = try pairs(entry, "setenv.add-request-header", header: true)
        rules.setRequestHeaders = try pairs(entry, "setenv.set-request-header", header: true)
        // Variables: set replaces an added one of the same name.
        var env = try pairs(entry, "setenv.add-environment", header: false)
        for (name, value) in try pairs(entry, "setenv.set-environment", header: false) {
            env.removeAll { $0.0 == name }
            env.append((name, value))
        }
        rules.environment = env
        var response = try pairs(entry, "setenv.add-response-header", header: true)
        for (name, value) in try pairs(entry, "setenv.set-response-header", header: true) {
            response.removeAll { $0.0.lowercased() == name.lowercased() }
            if !value.isEmpty { response.append((name, value)) }
        }
        rules.responseHeaders = response
        return rules
    }

    /// `( "Name" => "value", ... )`; header names and values must be safe to write on the wire.
    private static func pairs(_ entry: (String) -> ConfigEntry?, _ key: String, header: Bool) throws -> [(String, String)] {
        guard let e = entry(key) else { return [] }
        guard let elements = e.value.arrayElements else {
            throw ConfigError(location: e.location, message: "\(key) must be an array ( \"name\" => \"value\" )")
        }
        return try elements.map { el in
            guard let name = el.key, !name.isEmpty, let value = el.value.stringValue else {
                throw ConfigError(location: e.location, message: "\(key) entries are \"name\" => \"value\"")
            }
            let badName = name.utf8.contains { $0 <= 0x20 || $0 >= 0x7F || $0 == UInt8(ascii: ":") || (!header && $0 == UInt8(ascii: "=")) }
            let badValue = value.utf8.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0 }
            if badName || badValue {
                throw ConfigError(location: e.location, message: "\(key): \"\(name)\" is not a valid \(header ? "header" : "variable") name or its value holds CR, LF or NUL")
            }
            return (name, value)
        }
    }
}
