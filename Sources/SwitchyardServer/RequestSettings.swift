import Glibc
import SwitchyardConfig
import Synchronization

/// mod_cgi settings in effect for a request.
public struct CGISettings: Sendable {
    public var assign: [(suffix: String, interpreter: String)]
    public var executeXOnly = false
    public var upgrade = false
    public var readTimeout = 0
    public var writeTimeout = 0
    public var localRedirect = false
    /// `cgi.script-directories`: directories outside the document root whose scripts may be run
    /// through a symlink in the document root (`CGIScriptGuard`).
    public var scriptDirectories: [String] = []
    /// `StatusRouteRegistry` ids of the `assign` entries, in order.
    var statsIDs: [Int] = []

    /// lighttpd's cgi.assign rule: the first suffix that ends the physical path ("" matches all).
    func interpreter(for path: String) -> String? {
        assignment(for: path)?.interpreter
    }

    /// The interpreter and the status route id of the first matching `assign` entry.
    func assignment(for path: String) -> (interpreter: String, statsID: Int)? {
        for (i, (suffix, interp)) in assign.enumerated() where suffix.isEmpty || path.hasSuffix(suffix) {
            return (interp, i < statsIDs.count ? statsIDs[i] : -1)
        }
        return nil
    }
}

/// Everything that a `$HTTP[...]` conditional may change for one request, resolved once per distinct
/// set of matching conditionals and then cached by the worker. Immutable, so one value can be
/// shared by every event loop: `Values` is the draft the resolver fills in.
public final class RequestSettings: Sendable {
    public struct Values: Sendable {
        public var documentRoot = "."
        public var indexFiles = ["index.html", "index.htm"]
        public var mimeTypes = MimeTypes.builtin
        public var staticExcludeExtensions: [String] = []
        public var maxRequestSize = 0            // bytes, 0 = unlimited
        /// `server.follow-symlink` (lighttpd's default: enabled). Disabled, a static file or CGI
        /// script reached through a symlink below the document root answers 403 (`SymlinkPolicy`).
        public var followSymlinks = true
        public var cgi: CGISettings?
        public var fastcgi: GatewayRouteTable?
        public var scgi: GatewayRouteTable?
        /// mod_proxy (served as `proxyTable`) and mod_wstunnel (served: `WebSocketTunnelExchange`).
        public var proxy: ProxySettings?
        public var wstunnel: WStunnelSettings?
        /// `websocket.origins` / `websocket.ping-interval` for relayed upgrades (CGI, SCGI, uwsgi, FastCGI, proxy).
        public var websocket = WebSocketPolicySettings()
        public var moduleOrder: [String] = []
        /// mod_redirect, mod_rewrite, mod_access.
        var urlRules = URLRules()
        /// mod_setenv.
        var setenv = SetenvRules()
        /// mod_expire.
        var expire = ExpireRules()
        /// mod_alias.
        var aliases = AliasMap()
        /// mod_auth (htpasswd backend).
        var auth: AuthSettings?
        /// mod_extforward (used from the global scope).
        var extforward: ExtForwardSettings?
        /// mod_status (and `status.metrics-url`).
        var status = StatusURLs()
        /// The configuration generation these settings belong to (`ConfigSnapshot.generation`).
        var generation = 0
        public init() {}
    }

    public let documentRoot: String
    public let indexFiles: [String]
    public let mimeTypes: MimeTypes
    public let staticExcludeExtensions: [String]
    public let maxRequestSize: Int
    public let followSymlinks: Bool
    public let cgi: CGISettings?
    public let fastcgi: GatewayRouteTable?
    public let scgi: GatewayRouteTable?
    public let proxy: ProxySettings?
    /// `proxy` as the backend layer serves it, built once per settings value.
    let proxyTable: GatewayRouteTable?
    public let wstunnel: WStunnelSettings?
    public let websocket: WebSocketPolicySettings
    public let moduleOrder: [String]
    let urlRules: URLRules
    let setenv: SetenvRules
    let expire: ExpireRules
    let aliases: AliasMap
    let auth: AuthSettings?
    let extforward: ExtForwardSettings?
    let status: StatusURLs
    /// The configuration generation: an exchange routed before a reload keeps its backend host
    /// states apart from the new configuration's (`BackendRuntime.state`).
    let generation: Int
    let hasStatusURLs: Bool
    /// Flags the router tests on every request, so it does not copy the rule values (and retain
    /// their arrays) just to find them empty.
    let hasURLRules: Bool
    let hasRequestHeaderRules: Bool
    let hasAliases: Bool
    /// `setenv.*-response-header`, ready for every head of the scope.
    let responseHeaders: [(String, String)]
    let hasResponseHeaders: Bool
    /// The request-handling modules of `moduleOrder`, in order: the router tries them for every
    /// request, so the names are matched once here.
    let gatewayModules: [GatewayModule]

    public init(_ v: Values = Values()) {
        documentRoot = v.documentRoot
        indexFiles = v.indexFiles
        mimeTypes = v.mimeTypes
        staticExcludeExtensions = v.staticExcludeExtensions
        maxRequestSize = v.maxRequestSize
        followSymlinks = v.followSymlinks
        cgi = v.cgi
        fastcgi = v.fastcgi
        scgi = v.scgi
        proxy = v.proxy
        proxyTable = v.proxy?.table
        wstunnel = v.wstunnel
        websocket = v.websocket
        moduleOrder = v.moduleOrder
        urlRules = v.urlRules
        setenv = v.setenv
        expire = v.expire
        aliases = v.aliases
        auth = v.auth
        extforward = v.extforward
        status = v.status
        generation = v.generation
        hasStatusURLs = !v.status.isEmpty
        hasURLRules = !v.urlRules.isEmpty
        hasRequestHeaderRules = !v.setenv.addRequestHeaders.isEmpty || !v.setenv.setRequestHeaders.isEmpty
        hasAliases = !v.aliases.isEmpty
        responseHeaders = v.setenv.responseHeaders
        hasResponseHeaders = !v.setenv.responseHeaders.isEmpty
        gatewayModules = v.moduleOrder.compactMap(GatewayModule.init(moduleName:))
    }
}

/// The modules that can claim a request before static files, in `server.modules` order.
enum GatewayModule: Sendable {
    case fastcgi, scgi, cgi, wstunnel, proxy

    init?(moduleName: String) {
        switch moduleName {
        case "mod_wstunnel": self = .wstunnel
        case "mod_fastcgi": self = .fastcgi
        case "mod_scgi": self = .scgi
        case "mod_cgi": self = .cgi
        case "mod_proxy": self = .proxy
        default: return nil
        }
    }
}

/// Turns the configuration document into `RequestSettings` for a set of matching conditionals.
public final class SettingsResolver: Sendable {
    public let document: ConfigDocument
    public let server: ServerSettings
    /// Stamped on every `RequestSettings` this resolver makes.
    let generation: Int
    /// Route tables by identity, so every conditional combination shares one table (and its pools' keys).
    private let tables = Mutex<[String: GatewayRouteTable]>([:])

    init(document: ConfigDocument, server: ServerSettings, generation: Int = 0) {
        self.document = document
        self.server = server
        self.generation = generation
    }

    /// Validates every conditional scope at start-up so a bad value is reported by `-t`, not by the first request.
    func validateAll() throws -> [GatewayRouteTable] {
        _ = try resolve(matching: [])
        for ctx in document.contexts {
            var chain: [Int] = []
            var p: Int? = ctx.index
            while let i = p { chain.insert(i, at: 0); p = document.contexts[i].parent }
            _ = try resolve(matching: chain)
        }
        return tables.withLock { Array($0.values) }
    }

    func resolve(matching: [Int]) throws -> RequestSettings {
        func entry(_ key: String) -> ConfigEntry? { document.value(key, matching: matching) }
        var s = RequestSettings.Values()
        s.generation = generation
        let modules = entry("server.modules")?.value.stringList ?? []
        s.moduleOrder = modules
        if let e = entry("server.document-root") {
            guard let v = e.value.stringValue else { throw ConfigError(location: e.location, message: "server.document-root must be a string") }
            s.documentRoot = v
        }
        if let e = entry("index-file.names") ?? entry("server.indexfiles") {
            s.indexFiles = e.value.stringList ?? []
        }
        if let e = entry("mimetype.assign") {
            guard let elements = e.value.arrayElements else { throw ConfigError(location: e.location, message: "mimetype.assign must be an array") }
            var table: [(String, String)] = []
            for el in elements {
                guard let k = el.key, let v = el.value.stringValue else { throw ConfigError(location: e.location, message: "mimetype.assign entries are \".ext\" => \"type\"") }
                table.append((k, v))
            }
            s.mimeTypes = MimeTypes(table)
        }
        if let e = entry("static-file.exclude-extensions") { s.staticExcludeExtensions = e.value.stringList ?? [] }
        if let e = entry("server.max-request-size") {
            s.maxRequestSize = try ConfigLimits.int(e, key: "server.max-request-size", range: ConfigLimits.maxRequestSizeKiB, unit: "KiB") * 1024
        }
        if let e = entry("server.follow-symlink") { s.followSymlinks = try boolValue(e, "server.follow-symlink") }
        if modules.contains("mod_cgi"), let e = entry("cgi.assign") {
            guard let elements = e.value.arrayElements else { throw ConfigError(location: e.location, message: "cgi.assign must be an array") }
            var cgi = CGISettings(assign: [])
            for el in elements {
                guard let k = el.key, let v = el.value.stringValue else { throw ConfigError(location: e.location, message: "cgi.assign entries are \".ext\" => \"/path/to/interpreter\"") }
                cgi.assign.append((k, v))
                cgi.statsIDs.append(StatusRouteRegistry.id(module: "cgi", match: k))
            }
            if let x = entry("cgi.script-directories") {
                guard let dirs = x.value.stringList, dirs.allSatisfy({ $0.hasPrefix("/") }) else {
                    throw ConfigError(location: x.location, message: "cgi.script-directories must be a list of absolute directory paths")
                }
                cgi.scriptDirectories = dirs
            }
            if let x = entry("cgi.execute-x-only") { cgi.executeXOnly = try boolValue(x, "cgi.execute-x-only") }
            if let x = entry("cgi.upgrade") { cgi.upgrade = try boolValue(x, "cgi.upgrade") }
            if let x = entry("cgi.local-redir") { cgi.localRedirect = try boolValue(x, "cgi.local-redir") }
            if let x = entry("cgi.limits") {
                for el in x.value.arrayElements ?? [] {
                    let name = el.key ?? ""
                    switch name {
                    case "read-timeout", "write-timeout":
                        let limit = ConfigEntry(value: el.value, location: x.location)
                        let v = try ConfigLimits.int(limit, key: "cgi.limits \"\(name)\"", range: ConfigLimits.cgiTimeout, unit: "s")
                        if name == "read-timeout" { cgi.readTimeout = v } else { cgi.writeTimeout = v }
                    case "tcp-nodelay":
                        // lighttpd sets TCP_NODELAY on the socket it gives an upgraded CGI; a CGI here
                        // always has pipes, where Nagle does not exist. Checked, then nothing to do.
                        _ = try boolValue(ConfigEntry(value: el.value, location: x.location), "cgi.limits \"tcp-nodelay\"")
                    default: throw ConfigError(location: x.location, message: "cgi.limits: unknown limit \"\(name)\"")
                    }
                }
            }
            s.cgi = cgi
        }
        if modules.contains("mod_fastcgi"), let e = entry("fastcgi.server") {
            s.fastcgi = try table(e, key: "fastcgi.server", proto: .fastcgi, balanceKey: "fastcgi.balance",
                                  debugKey: "fastcgi.debug", mapKey: "fastcgi.map-extensions", matching: matching)
        }
        if modules.contains("mod_scgi"), let e = entry("scgi.server") {
            var proto = BackendWireProtocol.scgi
            if let p = entry("scgi.protocol") {
                guard let v = p.value.stringValue, v == "scgi" || v == "uwsgi" else {
                    throw ConfigError(location: p.location, message: "scgi.protocol must be \"scgi\" or \"uwsgi\"")
                }
                proto = v == "uwsgi" ? .uwsgi : .scgi
            }
            s.scgi = try table(e, key: "scgi.server", proto: proto, balanceKey: "scgi.balance",
                               debugKey: "scgi.debug", mapKey: "scgi.map-extensions", matching: matching)
        }
        s.websocket = try WebSocketPolicySettings.parse(entry: entry)
        s.urlRules = try URLRules.parse(modules: modules, entry: entry, regexContext: { regexContext(of: $0, matching: matching) })
        s.setenv = try SetenvRules.parse(modules: modules, entry: entry)
        s.expire = try ExpireRules.parse(modules: modules, entry: entry)
        s.aliases = try AliasMap.parse(modules: modules, entry: entry)
        s.auth = try AuthSettings.parse(modules: modules, entry: entry)
        s.extforward = try ExtForwardSettings.parse(modules: modules, entry: entry)
        s.status = try StatusURLs.parse(modules: modules, entry: entry)
        if modules.contains("mod_proxy"), let e = entry("proxy.server") {
            s.proxy = try ProxySettings.parse(server: e, entry: entry)
        }
        if modules.contains("mod_wstunnel"), let e = entry("wstunnel.server") {
            let tunnel = try WStunnelSettings.parse(server: e, entry: entry)
            // Registered with the other tables so the supervisor spawns its bin-path programs.
            tables.withLock { if $0[tunnel.table.key] == nil { $0[tunnel.table.key] = tunnel.table } }
            s.wstunnel = tunnel
        }
        return RequestSettings(s)
    }

    private func boolValue(_ e: ConfigEntry, _ key: String) throws -> Bool {
        guard let b = e.value.boolValue else { throw ConfigError(location: e.location, message: "\(key) must be \"enable\" or \"disable\"") }
        return b
    }

    /// The `=~` conditional whose captures `%N` in `key`'s value name: the last matching block
    /// that sets `key`, or its nearest enclosing regex block (a plain `else` has no captures).
    func regexContext(of key: String, matching: [Int]) -> Int? {
        var block = matching.last { document.contexts[$0].settings[key] != nil }
        while let i = block {
            let context = document.contexts[i]
            if !context.isElse && context.condition.op == .regex { return i }
            block = context.parent
        }
        return nil
    }

    private func table(_ e: ConfigEntry, key: String, proto: BackendWireProtocol, balanceKey: String, debugKey: String,
                       mapKey: String, matching: [Int]) throws -> GatewayRouteTable {
        let identity = "\(key)@\(e.location)/\(proto.rawValue)"
        if let t = tables.withLock({ $0[identity] }) { return t }
        let balance = try BalancePolicy.parse(document.value(balanceKey, matching: matching))
        var debug = 0
        if let d = document.value(debugKey, matching: matching) {
            debug = try ConfigLimits.int(d, key: debugKey, range: ConfigLimits.debugLevel)
        }
        var map: [(String, String)] = []
        for el in document.value(mapKey, matching: matching)?.value.arrayElements ?? [] {
            if let k = el.key, let v = el.value.stringValue { map.append((k, v)) }
        }
        let t = try GatewayRouteTable.parse(e, key: key, wireProtocol: proto, balance: balance, debug: debug, mapExtensions: map)
        return tables.withLock { tables in
            if let existing = tables[identity] { return existing }
            tables[identity] = t
            return t
        }
    }
}
