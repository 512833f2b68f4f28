/// `proxy.header`, `proxy.forwarded` and `proxy.replace-http-host` as the proxy codecs use them:
/// plain values, no config types, so the rules are unit-tested on their own.
public struct ProxyHeaderOptions: Sendable, Equatable {
    /// `"upgrade" => "enable"`: forward `Upgrade: websocket` (and only that token) to the backend.
    public var upgrade: Bool
    /// `"connect" => "enable"` (alias `connect-method`): the gateway answers a CONNECT itself and
    /// tunnels raw bytes to the route's host (lighttpd's mod_proxy); without it CONNECT is 405.
    public var connectMethod: Bool
    /// `"map-host-request"`: client authority -> backend authority, first match wins. Key `-` stands for
    /// the client's Host; value `-` keeps the client's Host; an empty value keeps the authority and stops.
    public var mapHostRequest: [(String, String)]
    /// `"map-host-response"`: backend authority -> client authority in response headers. Key `-` stands
    /// for the authority sent to the backend; value `-` is the client's Host.
    public var mapHostResponse: [(String, String)]
    /// `"map-urlpath"`: client URL-path prefix -> backend prefix (longest match first); reversed on
    /// the response's Location, Content-Location and Set-Cookie path.
    public var mapURLPath: [(String, String)]
    /// `"https-remap"`: for a client on https, `https://` in mapped request URIs becomes `http://`
    /// and `http://` in mapped response URIs becomes `https://`.
    public var httpsRemap: Bool
    /// `proxy.forwarded`: which RFC 7239 parameters to send.
    public var forwarded: ForwardedParameters
    /// `proxy.replace-http-host`: send the backend's configured host as Host.
    public var replaceHTTPHost: Bool

    public struct ForwardedParameters: OptionSet, Sendable, Hashable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let `for` = ForwardedParameters(rawValue: 1)
        public static let proto = ForwardedParameters(rawValue: 2)
        public static let host = ForwardedParameters(rawValue: 4)
        public static let by = ForwardedParameters(rawValue: 8)
        public static let remoteUser = ForwardedParameters(rawValue: 16)
    }

    public init(upgrade: Bool = false, connectMethod: Bool = false, mapHostRequest: [(String, String)] = [],
                mapHostResponse: [(String, String)] = [], mapURLPath: [(String, String)] = [], httpsRemap: Bool = false,
                forwarded: ForwardedParameters = [], replaceHTTPHost: Bool = false) {
        self.upgrade = upgrade
        self.connectMethod = connectMethod
        self.mapHostRequest = mapHostRequest
        self.mapHostResponse = mapHostResponse
        self.mapURLPath = mapURLPath
        self.httpsRemap = httpsRemap
        self.forwarded = forwarded
        self.replaceHTTPHost = replaceHTTPHost
    }

    public static func == (a: Self, b: Self) -> Bool {
        func same(_ x: [(String, String)], _ y: [(String, String)]) -> Bool { x.elementsEqual(y) { $0 == $1 } }
        return a.upgrade == b.upgrade && a.connectMethod == b.connectMethod && same(a.mapHostRequest, b.mapHostRequest)
            && same(a.mapHostResponse, b.mapHostResponse) && same(a.mapURLPath, b.mapURLPath) && a.httpsRemap == b.httpsRemap
            && a.forwarded == b.forwarded && a.replaceHTTPHost == b.replaceHTTPHost
    }
}

/// The mapping rules shared by the request encoder and the response mapper.
enum ProxyMapping {
    /// lighttpd's host match: first entry whose key (or, for `-`, `dashKey`) equals `authority`
    /// ignoring case. Returns the replacement, or nil to leave the authority as it is.
    static func host(_ authority: String, in map: [(String, String)], dashKey: String?, dashValue: String?) -> String? {
        for (key, value) in map {
            let k = key == "-" ? dashKey : key
            guard let k, equalsIgnoringCase(k, authority) else { continue }
            if value == "-" { return dashValue }
            return value.isEmpty ? nil : value
        }
        return nil
    }

    /// Longest prefix of `path` among the keys (request) or values (`reversed`, response) of `map`,
    /// replaced by its counterpart. nil when nothing matches.
    static func urlPath(_ path: String, in map: [(String, String)], reversed: Bool) -> String? {
        var best: (from: String, to: String)?
        for (key, value) in map {
            let (from, to) = reversed ? (value, key) : (key, value)
            guard !from.isEmpty, path.utf8.starts(with: from.utf8) else { continue }
            if best == nil || from.utf8.count > best!.from.utf8.count { best = (from, to) }
        }
        guard let best else { return nil }
        return best.to + String(decoding: path.utf8.dropFirst(best.from.utf8.count), as: UTF8.self)
    }

    static func equalsIgnoringCase(_ a: String, _ b: String) -> Bool {
        a.utf8.count == b.utf8.count && zip(a.utf8, b.utf8).allSatisfy { ASCII.lower($0) == ASCII.lower($1) }
    }

    /// Splits `scheme://authority/rest` into its parts; nil for anything that is not absolute http(s).
    static func splitAbsolute(_ uri: String) -> (scheme: String, authority: String, rest: String)? {
        let u = Array(uri.utf8)
        for scheme in ["http", "https"] {
            let prefix = Array((scheme + "://").utf8)
            guard u.count >= prefix.count, zip(u, prefix).allSatisfy({ ASCII.lower($0) == $1 }) else { continue }
            let afterScheme = u[prefix.count...]
            let end = afterScheme.firstIndex { $0 == ASCII.slash || $0 == ASCII.question || $0 == 0x23 } ?? u.count
            return (scheme, String(decoding: u[prefix.count..<end], as: UTF8.self), String(decoding: u[end...], as: UTF8.self))
        }
        return nil
    }
}
