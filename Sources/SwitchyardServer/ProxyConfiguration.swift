import SwitchyardConfig
import SwitchyardGatewayCodecs
import SwitchyardWebSocket

/// `proxy.server` with the other `proxy.*` keys (lighttpd's mod_proxy), validated into one
/// immutable value, served through the backend layer as a `.proxy` route table (`table`).
public struct ProxySettings: Sendable {
    public let routes: [GatewayRouteTable.Route]
    public let balance: BalancePolicy
    public let debug: Int
    public let mapExtensions: [(String, String)]
    /// `proxy.header`, `proxy.forwarded` and `proxy.replace-http-host` together, as the codecs take them.
    public let header: ProxyHeaderOptions
    /// `proxy.header` `"force-http10"`: accepted for lighttpd configs; Switchyard always speaks HTTP/1.1.
    public let forceHTTP10: Bool
    /// Where `proxy.server` was set (pool identity, error messages).
    public let location: ConfigSourceLocation
    /// The routes as the backend layer serves them (balance, disable-time, timeouts, pools shared
    /// with SCGI/FastCGI): every host with check-local off (nothing is local to a proxy) and
    /// `upgrade` as `proxy.header` says.
    public var table: GatewayRouteTable {
        let hosts = routes.map { route in
            GatewayRouteTable.Route(match: route.match, hosts: route.hosts.map { h in
                var h = h
                h.checkLocal = false
                h.upgrade = header.upgrade
                return h
            })
        }
        return GatewayRouteTable(wireProtocol: .proxy, routes: hosts, balance: balance, debug: debug,
                                 mapExtensions: mapExtensions, key: "proxy.server@\(location)", proxyHeader: header)
    }

    /// lighttpd's matching rule, shared with SCGI/FastCGI: URL prefix, extension, or "" for all.
    func route(forPath path: String) -> GatewayRouteTable.Route? {
        GatewayRoutes.match(path, routes: routes, mapExtensions: mapExtensions)?.0
    }
}

/// `wstunnel.server` with the other `wstunnel.*` keys (lighttpd's mod_wstunnel).
public struct WStunnelSettings: Sendable {
    public enum FrameType: String, Sendable {
        case text, binary
    }

    public let routes: [GatewayRouteTable.Route]
    public let balance: BalancePolicy
    public let debug: Int
    public let mapExtensions: [(String, String)]
    /// Frames carrying backend bytes when the client chose no subprotocol.
    public let frameType: FrameType
    /// 16 MiB unless `wstunnel.max-message-size` says otherwise: the bound on what one client
    /// message may hold in memory while it is reassembled (and inflated).
    public static let defaultMaxMessageSize = 16 << 20
    /// `wstunnel.origins`: empty admits every Origin (lighttpd's rule, see `WebSocketOriginPolicy`).
    public let origins: [String]
    /// Seconds between server PINGs; 0 = none. A peer that has not answered a PING when the
    /// next one is due is closed (`WebSocketKeepalive`).
    public let pingInterval: Int
    /// `wstunnel.max-message-size` (KiB): largest client message, reassembled; larger fails with 1009.
    public let maxMessageSize: Int
    /// `wstunnel.permessage-deflate`: RFC 7692 offered to clients with these bounds; nil = never.
    public let deflate: PerMessageDeflateConfig?
    public let location: ConfigSourceLocation
    /// The routes as a backend table (host state, balancing, bin-path supervision).
    let table: GatewayRouteTable

    func route(forPath path: String) -> GatewayRouteTable.Route? {
        GatewayRoutes.match(path, routes: routes, mapExtensions: mapExtensions)?.0
    }
}

/// Route parsing and matching shared by the proxy and the tunnel (same shape as `scgi.server`).
enum GatewayRoutes {
    static func parse(_ entry: ConfigEntry, key: String) throws -> [GatewayRouteTable.Route] {
        guard let elements = entry.value.arrayElements, !elements.isEmpty else {
            throw ConfigError(location: entry.location, message: "\(key) must be an array ( \"prefix\" => ( ( options ) ) )")
        }
        var routes: [GatewayRouteTable.Route] = []
        for element in elements {
            guard let match = element.key else {
                throw ConfigError(location: entry.location, message: "\(key) entries need a key (URL prefix or extension)")
            }
            guard let hostList = element.value.arrayElements, !hostList.isEmpty else {
                throw ConfigError(location: entry.location, message: "\(key)[\"\(match)\"] must be a non-empty array of host option arrays")
            }
            var hosts: [BackendHostConfig] = []
            if hostList.allSatisfy({ $0.value.arrayElements != nil }) {
                for (i, h) in hostList.enumerated() {
                    hosts.append(try GatewayRouteTable.parseHost(h.value, name: h.key ?? "\(match)#\(i)", location: entry.location, key: key))
                }
            } else {
                hosts.append(try GatewayRouteTable.parseHost(element.value, name: match, location: entry.location, key: key))
            }
            routes.append(GatewayRouteTable.Route(match: match, hosts: hosts))
        }
        return routes
    }

    static func match(_ path: String, routes: [GatewayRouteTable.Route], mapExtensions: [(String, String)]) -> (GatewayRouteTable.Route, Int?)? {
        var mapped = path
        for (from, to) in mapExtensions where path.hasSuffix(from) { mapped = String(path.dropLast(from.count)) + to }
        for route in routes {
            if route.match.hasPrefix("/") {
                if path.hasPrefix(route.match) { return (route, route.match.count) }
            } else if route.match.isEmpty || mapped.hasSuffix(route.match) {
                return (route, nil)
            }
        }
        return nil
    }

    /// `( ".ext" => ".other", ... )`, every entry a string pair.
    static func mapExtensions(_ entry: ConfigEntry?, key: String) throws -> [(String, String)] {
        guard let entry else { return [] }
        guard let elements = entry.value.arrayElements else { throw ConfigError(location: entry.location, message: "\(key) must be an array") }
        return try elements.map { el in
            guard let k = el.key, let v = el.value.stringValue else {
                throw ConfigError(location: entry.location, message: "\(key) entries are \".from\" => \".to\"")
            }
            return (k, v)
        }
    }

    static func debug(_ entry: ConfigEntry?, key: String) throws -> Int {
        guard let entry else { return 0 }
        if let b = entry.value.boolValue, entry.value.intValue == nil { return b ? 1 : 0 }
        return try ConfigLimits.int(entry, key: key, range: ConfigLimits.debugLevel)
    }

    static func bool(_ entry: ConfigEntry, _ key: String) throws -> Bool {
        guard let b = entry.value.boolValue else { throw ConfigError(location: entry.location, message: "\(key) must be \"enable\" or \"disable\"") }
        return b
    }
}
