/// Rewrites a proxied server's response header fields for the client (lighttpd's `proxy.header`
/// response side): hop-by-hop fields removed (Connection and what it names, Keep-Alive,
/// Proxy-Connection, TE, Trailer, Transfer-Encoding, and Upgrade except on a 101); the authority
/// of `Location` / `Content-Location` through map-host-response and their path through
/// map-urlpath reversed; `Set-Cookie` `Domain=` and `Path=` likewise; with https-remap, a
/// mapped `http://` URI becomes `https://` for a client on https.
public struct ProxyResponseHeaderMapper: Sendable {
    public var options: ProxyHeaderOptions
    /// The client's Host (value `-` of map-host-response).
    public var clientHost: String?
    /// The Host the request was sent to the backend with (key `-` of map-host-response).
    public var backendHost: String?
    public var clientIsHTTPS: Bool

    public init(options: ProxyHeaderOptions, clientHost: String?, backendHost: String?, clientIsHTTPS: Bool) {
        self.options = options
        self.clientHost = clientHost
        self.backendHost = backendHost
        self.clientIsHTTPS = clientIsHTTPS
    }

    static let hopByHop: [StaticString] = ["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"]

    /// The fields to relay, in order. `status` 101 keeps `Upgrade` (the client needs it).
    public func map(_ fields: [(name: String, value: String)], status: Int) -> [(name: String, value: String)] {
        var connectionValues: [String] = []
        for (name, value) in fields where HTTPFieldTokens.name(name, is: "connection") { connectionValues.append(value) }
        var out: [(name: String, value: String)] = []
        out.reserveCapacity(fields.count)
        for (name, value) in fields {
            if status == 101 && HTTPFieldTokens.name(name, is: "upgrade") { out.append((name, value)); continue }
            if Self.hopByHop.contains(where: { HTTPFieldTokens.name(name, is: $0) }) || HTTPFieldTokens.lists(connectionValues, name: name) {
                continue
            }
            if HTTPFieldTokens.name(name, is: "location") || HTTPFieldTokens.name(name, is: "content-location") {
                out.append((name, mapURI(value)))
            } else if HTTPFieldTokens.name(name, is: "set-cookie") {
                out.append((name, mapCookie(value)))
            } else {
                out.append((name, value))
            }
        }
        if status == 101 { out.append(("Connection", "Upgrade")) }
        return out
    }

    /// Whether a backend's 101 may turn the connection into a raw tunnel: only when the gateway asked
    /// for the WebSocket upgrade (`ProxyRequestHead.isUpgrade`) and the backend switched to
    /// `websocket`. Anything else (a 101 to a plain request, or to another protocol) is a 502: a
    /// backend must not be able to take the client connection out of HTTP on its own.
    public static func acceptsSwitch(requestIsUpgrade: Bool, fields: [(name: String, value: String)]) -> Bool {
        guard requestIsUpgrade else { return false }
        var upgrade = false, connection = false
        for (name, value) in fields {
            if HTTPFieldTokens.name(name, is: "upgrade") { upgrade = upgrade || HTTPFieldTokens.list(value, isOnly: "websocket") }
            if HTTPFieldTokens.name(name, is: "connection") { connection = connection || HTTPFieldTokens.list(value, contains: "upgrade") }
        }
        return upgrade && connection
    }

    func mapHost(_ authority: String) -> String? {
        ProxyMapping.host(authority, in: options.mapHostResponse, dashKey: backendHost, dashValue: clientHost)
    }

    /// An absolute or path-absolute URI as the client must see it.
    public func mapURI(_ uri: String) -> String {
        if let (scheme, authority, rest) = ProxyMapping.splitAbsolute(uri) {
            // lighttpd's rule: the path of an absolute URI is only mapped when its authority was.
            guard let mapped = mapHost(authority) else { return uri }
            let path = ProxyMapping.urlPath(rest, in: options.mapURLPath, reversed: true) ?? rest
            let newScheme = options.httpsRemap && clientIsHTTPS && scheme == "http" ? "https" : scheme
            return "\(newScheme)://\(mapped)\(path)"
        }
        if uri.hasPrefix("/") { return ProxyMapping.urlPath(uri, in: options.mapURLPath, reversed: true) ?? uri }
        return uri
    }

    /// `Set-Cookie: name=value; Path=/x; Domain=backend` with Path and Domain mapped, the rest untouched.
    public func mapCookie(_ cookie: String) -> String {
        guard !options.mapURLPath.isEmpty || !options.mapHostResponse.isEmpty else { return cookie }
        let parts = cookie.split(separator: ";", omittingEmptySubsequences: false).map(String.init)
        var out: [String] = []
        for (i, part) in parts.enumerated() {
            guard i > 0, let eq = part.firstIndex(of: "=") else { out.append(part); continue }
            let key = String(part[..<eq]).trimmingOWS()
            let value = String(part[part.index(after: eq)...]).trimmingOWS()
            let leading = part.prefix { $0 == " " || $0 == "\t" }
            if ProxyMapping.equalsIgnoringCase(key, "path"), let mapped = ProxyMapping.urlPath(value, in: options.mapURLPath, reversed: true) {
                out.append("\(leading)\(key)=\(mapped)")
            } else if ProxyMapping.equalsIgnoringCase(key, "domain") {
                // A leading dot is legacy syntax for the same domain (RFC 6265 5.2.3).
                let dot = value.hasPrefix(".")
                let bare = dot ? String(value.dropFirst()) : value
                if let mapped = mapHost(bare) { out.append("\(leading)\(key)=\(dot ? "." : "")\(mapped)") } else { out.append(part) }
            } else {
                out.append(part)
            }
        }
        return out.joined(separator: ";")
    }
}
