/// The parts of a `ws://` or `wss://` URL a client needs to connect and to build its handshake.
///
/// `wss://` only sets `secure` (this package has no TLS: the client's transport does it); the
/// `Host` header always carries the port so gateways that route on it see exactly what the client dialled.
public struct WebSocketURL: Sendable, Equatable {
    /// Name or address for getaddrinfo (IPv6 literal without brackets).
    public var host: String
    public var port: UInt16
    /// Request target, at least "/", including any query.
    public var path: String
    /// `wss://`: the connection runs over TLS (default port 443).
    public var secure = false

    /// Parses "ws://host[:port][/path][?query]" (or wss://); host may be a bracketed IPv6 literal. nil if malformed.
    public init?(string: String) {
        let lower = string.lowercased()
        guard lower.hasPrefix("ws://") || lower.hasPrefix("wss://") else { return nil }
        secure = lower.hasPrefix("wss://")
        let rest = string.dropFirst(secure ? 6 : 5)
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        var target = String(rest[authorityEnd...])
        if let hash = target.firstIndex(of: "#") { target = String(target[..<hash]) }
        if target.isEmpty || target.first == "?" { target = "/" + target }
        guard !authority.contains("@") else { return nil }
        var hostPart: Substring
        var portPart: Substring? = nil
        if authority.first == "[" {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            hostPart = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.first == ":" else { return nil }
                portPart = after.dropFirst()
            }
        } else {
            if let colon = authority.lastIndex(of: ":") {
                hostPart = authority[..<colon]
                portPart = authority[authority.index(after: colon)...]
            } else {
                hostPart = authority
            }
            if hostPart.contains(":") { return nil }
        }
        guard !hostPart.isEmpty else { return nil }
        var port: UInt16 = secure ? 443 : 80
        if let p = portPart {
            guard let value = UInt16(p), value > 0 else { return nil }
            port = value
        }
        self.host = String(hostPart)
        self.port = port
        self.path = target
    }

    /// "host:port", with brackets around IPv6 literals.
    public var hostHeader: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
