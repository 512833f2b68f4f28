import Glibc
import SwitchyardConfig
import SwitchyardGatewayCodecs

/// Which wire protocol a long-running backend speaks. CGI is not here: it has no host, only a program.
public enum BackendWireProtocol: String, Sendable {
    case scgi, uwsgi, fastcgi
    /// mod_wstunnel: no request encoding at all, the WebSocket payload as plain bytes (`RawTunnelCodec`).
    case wstunnel
    /// HTTP/1.1 to a proxied server (mod_proxy, `ProxyHTTPCodec`).
    case proxy
}

/// One `( "host" => ..., "port" => ... )` / `( "socket" => ..., "bin-path" => ... )` entry of
/// `scgi.server` / `fastcgi.server`, validated, with the config position for error messages.
public struct BackendHostConfig: Sendable {
    public var name: String
    public var host: String? { didSet { addressDescription = Self.address(host: host, port: port, socket: socket) } }
    public var port: Int? { didSet { addressDescription = Self.address(host: host, port: port, socket: socket) } }
    public var socket: String? { didSet { addressDescription = Self.address(host: host, port: port, socket: socket) } }
    public var binPath: String?
    public var binEnvironment: [(String, String)] = []
    public var binCopyEnvironment: [String] = []
    public var minProcs = 1
    public var maxProcs = 1
    public var maxLoadPerProc = 1
    public var killSignal: Int32 = SIGTERM
    public var listenBacklog: Int32 = 1024
    public var checkLocal = true
    public var docroot: String?
    public var stripRequestURI: String?
    public var fixRootScriptname = false
    public var upgrade = false
    public var connectTimeout = 8
    public var readTimeout = 0
    public var writeTimeout = 0
    public var disableTime = 1
    public var tcpFinPropagate = false
    /// FastCGI: keep connections open with FCGI_KEEP_CONN and reuse them even when the app does not
    /// multiplex (Switchyard extension). Off by default: a single-threaded app (libfcgi's accept
    /// loop) blocks on an idle kept connection and never accepts another one.
    public var connectionPool = false
    /// FastCGI: share one connection between concurrent requests when the app says FCGI_MPXS_CONNS=1.
    public var multiplex = true
    /// Connections one worker may hold open to this host at once (0: no limit; Switchyard
    /// extension). Beyond it a request goes to another host of the route, or is answered 503:
    /// it is not queued (lighttpd has no such limit and leaves waiting to the backend's listen
    /// backlog; a queue here would only hide an overloaded host behind a growing wait).
    public var maxConnections = 0
    public var location: ConfigSourceLocation

    /// Where the gateway connects: the unix socket, or host:port. Kept up to date as the address
    /// is set (it names the host in every backend request's log label and availability lookup).
    public private(set) var addressDescription = BackendHostConfig.address(host: nil, port: nil, socket: nil)

    /// The only initialiser: the address is set through `host`/`port`/`socket`, so that
    /// `addressDescription` follows (a memberwise initialiser would bypass that).
    public init(name: String, location: ConfigSourceLocation) {
        self.name = name
        self.location = location
    }

    private static func address(host: String?, port: Int?, socket: String?) -> String {
        if let socket { return socket }
        return "\(host ?? "127.0.0.1"):\(port ?? 0)"
    }
}

/// `scgi.server` / `fastcgi.server`: prefixes or extensions mapped to host lists, plus the
/// module-level options that go with them.
public final class GatewayRouteTable: Sendable {
    public struct Route: Sendable {
        public var match: String              // "/ws/" prefix, ".php" extension, or "" for everything
        public var hosts: [BackendHostConfig]
    }
    public let wireProtocol: BackendWireProtocol
    public let routes: [Route]
    public let balance: BalancePolicy
    public let debug: Int
    public let mapExtensions: [(String, String)]
    public let key: String                   // "fastcgi.server@file:line" identity for pools
    /// `proxy.header` / `proxy.forwarded` / `proxy.replace-http-host` for a `.proxy` table.
    public let proxyHeader: ProxyHeaderOptions?
    /// `StatusRouteRegistry` ids of `routes`, in order (the status counters' keys).
    let statsIDs: [Int]

    init(wireProtocol: BackendWireProtocol, routes: [Route], balance: BalancePolicy, debug: Int, mapExtensions: [(String, String)], key: String,
         proxyHeader: ProxyHeaderOptions? = nil) {
        self.wireProtocol = wireProtocol
        self.proxyHeader = proxyHeader
        self.routes = routes
        self.balance = balance
        self.debug = debug
        self.mapExtensions = mapExtensions
        self.key = key
        let module = StatusRouteRegistry.module(wireProtocol)
        self.statsIDs = routes.map { StatusRouteRegistry.id(module: module, match: $0.match) }
    }

    /// A route chosen for a request path.
    struct Match {
        let route: Route
        let index: Int
        /// For a URL-prefix route, the prefix's length.
        let prefixLength: Int?
        /// For an extension route matched inside the path (`/index.php/users/7`), where the
        /// script name ends and PATH_INFO begins (UTF-8 offset); nil when the path ends with it.
        let scriptEnd: Int?
    }

    /// lighttpd's rule: an entry starting with "/" is a URL prefix, otherwise a suffix of the path
    /// ("" matches everything). An extension also matches at the end of an inner path segment —
    /// `/index.php/users/7` runs `/index.php` with PATH_INFO `/users/7`, the first such segment
    /// winning (what PHP front controllers need; nginx's `fastcgi_split_path_info` does the same).
    func route(forPath path: String) -> Match? {
        var mapped = path
        for (from, to) in mapExtensions where path.hasSuffix(from) {
            mapped = String(path.dropLast(from.count)) + to
        }
        for (i, route) in routes.enumerated() {
            if route.match.hasPrefix("/") {
                if path.hasPrefix(route.match) { return Match(route: route, index: i, prefixLength: route.match.utf8.count, scriptEnd: nil) }
            } else if route.match.isEmpty || mapped.hasSuffix(route.match) {
                return Match(route: route, index: i, prefixLength: nil, scriptEnd: nil)
            }
        }
        var best: (end: Int, match: Match)? = nil
        for (i, route) in routes.enumerated() where !route.match.isEmpty && !route.match.hasPrefix("/") {
            let extensions = [route.match] + mapExtensions.filter { $0.1 == route.match }.map { $0.0 }
            for ext in extensions {
                guard let end = Self.segmentEnd(of: ext, in: path) else { continue }
                if best == nil || end < best!.end {
                    best = (end, Match(route: route, index: i, prefixLength: nil, scriptEnd: end))
                }
            }
        }
        return best?.match
    }

    /// The UTF-8 offset just past the first `ext` that is followed by "/" in `path`.
    static func segmentEnd(of ext: String, in path: String) -> Int? {
        let p = Array(path.utf8), e = Array(ext.utf8)
        guard !e.isEmpty, p.count > e.count + 1 else { return nil }
        var i = 1
        while i + e.count < p.count {
            if p[i + e.count] == UInt8(ascii: "/") && p[i..<(i + e.count)].elementsEqual(e) { return i + e.count }
            i += 1
        }
        return nil
    }

    static func parse(_ entry: ConfigEntry, key: String, wireProtocol: BackendWireProtocol, balance: BalancePolicy, debug: Int,
                      mapExtensions: [(String, String)]) throws -> GatewayRouteTable {
        guard let elements = entry.value.arrayElements else {
            throw ConfigError(location: entry.location, message: "\(key) must be an array ( \"prefix\" => ( ( options ) ) )")
        }
        var routes: [Route] = []
        for element in elements {
            guard let match = element.key else {
                throw ConfigError(location: entry.location, message: "\(key) entries need a key (URL prefix or extension)")
            }
            guard let hostList = element.value.arrayElements else {
                throw ConfigError(location: entry.location, message: "\(key)[\"\(match)\"] must be an array of host option arrays")
            }
            var hosts: [BackendHostConfig] = []
            if hostList.allSatisfy({ $0.value.arrayElements != nil }) {
                for (i, h) in hostList.enumerated() {
                    hosts.append(try parseHost(h.value, name: h.key ?? "\(match)#\(i)", location: entry.location, key: key))
                }
            } else {
                hosts.append(try parseHost(element.value, name: match, location: entry.location, key: key))
            }
            if hosts.isEmpty { throw ConfigError(location: entry.location, message: "\(key)[\"\(match)\"] has no hosts") }
            routes.append(Route(match: match, hosts: hosts))
        }
        return GatewayRouteTable(wireProtocol: wireProtocol, routes: routes, balance: balance, debug: debug,
                                 mapExtensions: mapExtensions, key: "\(key)@\(entry.location)")
    }

    private static let knownHostOptions: Set<String> = [
        "host", "port", "socket", "bin-path", "bin-environment", "bin-copy-environment", "min-procs", "max-procs",
        "max-load-per-proc", "kill-signal", "listen-backlog", "check-local", "docroot", "strip-request-uri",
        "fix-root-scriptname", "mode", "upgrade", "connect-timeout", "read-timeout", "write-timeout", "disable-time",
        "tcp-fin-propagate", "connection-pool", "multiplex", "max-connections", "idle-timeout", "x-sendfile", "allow-x-send-file", "broken-scriptfilename",
    ]

    static func parseHost(_ value: ConfigValue, name: String, location: ConfigSourceLocation, key: String) throws -> BackendHostConfig {
        var h = BackendHostConfig(name: name, location: location)
        let ctx = "\(key) host \"\(name)\""
        guard let options = value.arrayElements else { throw ConfigError(location: location, message: "\(ctx): options must be an array") }
        func int(_ v: ConfigValue, _ opt: String) throws -> Int {
            guard let i = v.intValue else { throw ConfigError(location: location, message: "\(ctx): \"\(opt)\" must be an integer") }
            guard let range = ConfigLimits.hostOptions[opt] else { preconditionFailure("no range for \(opt)") }
            return try ConfigLimits.check(i, key: "\(key) host \"\(name)\": \"\(opt)\"", range: range, at: location)
        }
        func bool(_ v: ConfigValue, _ opt: String) throws -> Bool {
            guard let b = v.boolValue else { throw ConfigError(location: location, message: "\(ctx): \"\(opt)\" must be enable/disable") }
            return b
        }
        func str(_ v: ConfigValue, _ opt: String) throws -> String {
            if let s = v.stringValue { return s }
            if let i = v.intValue { return String(i) }
            throw ConfigError(location: location, message: "\(ctx): \"\(opt)\" must be a string")
        }
        for option in options {
            guard let k = option.key else { throw ConfigError(location: location, message: "\(ctx): option without a name") }
            let v = option.value
            switch k {
            case "host": h.host = try str(v, k)
            case "port": h.port = try int(v, k)
            case "socket": h.socket = try str(v, k)
            case "bin-path": h.binPath = try str(v, k)
            case "bin-environment":
                for e in v.arrayElements ?? [] { if let ek = e.key { h.binEnvironment.append((ek, try str(e.value, k))) } }
            case "bin-copy-environment": h.binCopyEnvironment = v.stringList ?? []
            case "min-procs": h.minProcs = try int(v, k)
            case "max-procs": h.maxProcs = try int(v, k)
            case "max-load-per-proc": h.maxLoadPerProc = try int(v, k)
            case "kill-signal": h.killSignal = Int32(try int(v, k))
            case "listen-backlog": h.listenBacklog = Int32(try int(v, k))
            case "check-local": h.checkLocal = try bool(v, k)
            case "docroot": h.docroot = try str(v, k)
            case "strip-request-uri": h.stripRequestURI = try str(v, k)
            case "fix-root-scriptname": h.fixRootScriptname = try bool(v, k)
            case "mode":
                let m = try str(v, k)
                guard m == "responder" else { throw ConfigError(location: location, message: "\(ctx): mode \"\(m)\" is not supported (only \"responder\")") }
            case "upgrade": h.upgrade = try bool(v, k)
            case "connect-timeout": h.connectTimeout = try int(v, k)
            case "read-timeout": h.readTimeout = try int(v, k)
            case "write-timeout": h.writeTimeout = try int(v, k)
            case "disable-time": h.disableTime = try int(v, k)
            case "tcp-fin-propagate": h.tcpFinPropagate = try bool(v, k)
            case "connection-pool": h.connectionPool = try bool(v, k)
            case "multiplex": h.multiplex = try bool(v, k)
            case "max-connections": h.maxConnections = try int(v, k)
            default:
                if !knownHostOptions.contains(k) { throw ConfigError(location: location, message: "\(ctx): unknown option \"\(k)\"") }
            }
        }
        if h.socket == nil && h.port == nil {
            throw ConfigError(location: location, message: "\(ctx): needs \"socket\" or \"host\" + \"port\"")
        }
        if h.binPath != nil && h.socket == nil && h.host == nil { h.host = "127.0.0.1" }
        if h.maxProcs < h.minProcs { h.maxProcs = h.minProcs }
        if h.minProcs < 1 && h.binPath != nil { h.minProcs = 1 }
        return h
    }
}

/// How a request picks a host among several.
public enum BalancePolicy: String, Sendable {
    case fair, leastConnection = "least-connection", roundRobin = "round-robin", hash, sticky

    static func parse(_ entry: ConfigEntry?) throws -> BalancePolicy {
        guard let entry else { return .fair }
        guard let s = entry.value.stringValue, let p = BalancePolicy(rawValue: s) else {
            throw ConfigError(location: entry.location, message: "balance must be one of fair, least-connection, round-robin, hash, sticky")
        }
        return p
    }
}
