import SwitchyardConfig
import SwitchyardHTTP

/// lighttpd's mod_extforward: behind a trusted reverse proxy or load balancer, the client's
/// address is the last untrusted one in `X-Forwarded-For` (or the configured headers), not the
/// proxy's. It then counts as the client address everywhere: `$HTTP["remoteip"]` conditionals,
/// REMOTE_ADDR for programs, the access and error logs' view of requests handled after routing.
///
///     extforward.forwarder = ( "10.0.0.1" => "trust", "192.168.0.0/16" => "trust" )   # or "all" => "trust"
///     extforward.headers   = ( "X-Forwarded-For" )                                  # the default, with "Forwarded-For"
///
/// Read from the global scope (the client address decides which conditionals match, so it must
/// be known before any of them is evaluated).
struct ExtForwardSettings: Sendable {
    let trustAll: Bool
    let trusted: [IPAddressMatcher]
    let headers: [String]

    /// The client address for a connection from `peer` carrying `head`; nil when `peer` is not a
    /// trusted forwarder or no header names an address.
    func clientAddress(peer: String, head: HTTPRequestHead) -> String? {
        guard isTrusted(peer) else { return nil }
        for name in headers {
            guard let value = head.headers.first(name) else { continue }
            // Right to left: the nearest hop first; every trusted proxy on the way is skipped.
            let hops = value.split(separator: ",").map { String($0.drop { $0 == " " || $0 == "\t" }).trimmingTrailingSpaces() }
            for hop in hops.reversed() where !hop.isEmpty {
                guard IPAddressMatcher(pattern: hop) != nil, !hop.contains("/") else { return nil }   // garbage: ignore the header
                if !isTrusted(hop) { return hop }
            }
            return hops.first { !$0.isEmpty }
        }
        return nil
    }

    private func isTrusted(_ address: String) -> Bool {
        trustAll || trusted.contains { $0.contains(address) }
    }

    static func parse(modules: [String], entry: (String) -> ConfigEntry?) throws -> ExtForwardSettings? {
        guard modules.contains("mod_extforward"), let e = entry("extforward.forwarder") else { return nil }
        guard let elements = e.value.arrayElements else {
            throw ConfigError(location: e.location, message: "extforward.forwarder must be an array ( \"address or CIDR\" => \"trust\" )")
        }
        var all = false
        var trusted: [IPAddressMatcher] = []
        for el in elements {
            guard let key = el.key, let v = el.value.stringValue else {
                throw ConfigError(location: e.location, message: "extforward.forwarder entries are \"address\" => \"trust\"")
            }
            guard v == "trust" || v == "untrusted" else {
                throw ConfigError(location: e.location, message: "extforward.forwarder[\"\(key)\"] must be \"trust\" or \"untrusted\"")
            }
            guard v == "trust" else { continue }
            if key == "all" { all = true; continue }
            guard let m = IPAddressMatcher(pattern: key) else {
                throw ConfigError(location: e.location, message: "extforward.forwarder: \"\(key)\" is not an IP address or CIDR block")
            }
            trusted.append(m)
        }
        var headers = ["X-Forwarded-For", "Forwarded-For"]
        if let h = entry("extforward.headers") {
            guard let list = h.value.stringList, !list.isEmpty else {
                throw ConfigError(location: h.location, message: "extforward.headers must be a list of header names")
            }
            headers = list
        }
        return ExtForwardSettings(trustAll: all, trusted: trusted, headers: headers)
    }
}

private extension String {
    func trimmingTrailingSpaces() -> String {
        var s = self
        while let last = s.last, last == " " || last == "\t" { s.removeLast() }
        return s
    }
}
