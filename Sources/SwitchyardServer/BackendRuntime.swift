import Glibc
import SwitchyardOS
import SwitchyardHTTP
import SwitchyardGatewayCodecs

/// Per-worker state of the long-running backends (SCGI, uwsgi, FastCGI): which hosts are disabled
/// after a failure and until when, how loaded each is, and routing a request to one of them.
/// Spawning and supervising `bin-path` programs is process-wide (`BackendSupervisor`); this part
/// only connects.
final class BackendRuntime {
    /// Where a host sits in the configuration: its table (by the table's stable key), route and
    /// place. Looked up several times per request, so it is hashed as it is instead of being
    /// interpolated into a string first.
    struct HostKey: Hashable {
        let table: String
        let route: Int
        let host: Int
    }

    final class HostState {
        let config: BackendHostConfig
        /// `hosts` key: table key, route and host index.
        let key: HostKey
        /// The configuration generation whose requests use this state (`reload` moves an
        /// unchanged host's state to the new generation; a changed or vanished one is retired).
        var generation: Int
        var disabledUntil: UInt64 = 0
        var active = 0
        var address: SocketAddress?
        /// Open FastCGI connections to this host (pooled or multiplexed), in this worker.
        let fastcgi: BackendConnectionPool<FastCGIConnection>
        /// Idle HTTP/1.1 connections to this proxied host, in this worker.
        let proxy: BackendConnectionPool<FDBackendStream>
        var multiplexes: Bool? = nil
        /// The app's FCGI_MAX_REQS (capped at 1000), once a connection has asked; 64 until then.
        var maxRequestsPerConnection = 64
        /// Module and route match the status page reports this host under.
        var statusModule = ""
        var statusRoute = ""
        /// The last `label(_:)`, kept: a string per request (and per WebSocket, for its life) otherwise.
        private var labelPrefix = ""
        private var lastLabel = ""
        /// `prefix` and the host's address, as log lines and failures name a request's host.
        func label(_ prefix: String) -> String {
            if lastLabel.isEmpty || prefix != labelPrefix {
                labelPrefix = prefix
                lastLabel = "\(prefix) \(config.addressDescription)"
            }
            return lastLabel
        }
        init(config: BackendHostConfig, key: HostKey, generation: Int, loop: EventLoop) {
            self.config = config
            self.key = key
            self.generation = generation
            fastcgi = BackendConnectionPool(loop: loop, maxConnections: config.maxConnections,
                                            idleSeconds: Double(BackendRuntime.pooledIdleSeconds))
            proxy = BackendConnectionPool(loop: loop, maxConnections: config.maxConnections,
                                          idleSeconds: Double(BackendRuntime.pooledIdleSeconds))
            if let socket = config.socket { address = .unix(socket) }
            else { address = try? SocketAddress.resolve(host: config.host ?? "127.0.0.1", port: config.port ?? 0) }
        }
    }

    /// A stream carrying one request; `reused` = on a pooled connection that had been idle (the
    /// keep-alive race may have closed it under the request: `StaleConnectionRetry`).
    struct OpenedStream {
        let stream: BackendStream
        let reused: Bool
    }

    unowned let worker: Worker
    /// How long an idle pooled connection is kept (`BackendConnectionPool`).
    static let pooledIdleSeconds = 30
    /// The current configuration's host states.
    var hosts: [HostKey: HostState] = [:]
    /// Host states of earlier configurations that exchanges still use: their pools close each
    /// connection once idle; dropped once nothing uses them (`pruneRetired`).
    var retired: [HostState] = []
    var roundRobin: [HostKey: Int] = [:]
    private var requestIds: UInt16 = 0

    init(worker: Worker) { self.worker = worker }

    /// The state of one host of one route, for requests of configuration `generation`. A request
    /// routed before a reload (a retry, a tunnel's next host) finds its own generation's state,
    /// never the new configuration's host that happens to sit at the same place.
    private func state(_ host: BackendHostConfig, table: GatewayRouteTable, routeIndex: Int, hostIndex: Int, generation: Int) -> HostState {
        let key = HostKey(table: table.key, route: routeIndex, host: hostIndex)
        if let s = hosts[key], s.generation == generation { return s }
        let current = generation == worker.config.generation
        if !current, let s = retired.first(where: { $0.key == key && $0.generation == generation }) { return s }
        let s = HostState(config: host, key: key, generation: generation, loop: worker.loop)
        s.statusModule = StatusRouteRegistry.module(table.wireProtocol)
        s.statusRoute = table.routes[routeIndex].match
        if current {
            hosts[key] = s
        } else {
            s.retire()
            retired.append(s)
        }
        return s
    }

    /// The hosts this worker has used, for the status page: load and how long each stays disabled.
    func statusHosts(now: UInt64) -> [BackendHostCounts] {
        hosts.values.map { h in
            BackendHostCounts(module: h.statusModule, route: h.statusRoute, host: h.config.addressDescription, active: h.active,
                              disabledForSeconds: h.disabledUntil > now ? Double(h.disabledUntil - now) / 1e9 : 0)
        }
    }

    func route(table: GatewayRouteTable, context: RequestContext, connection: any ClientExchange) -> RoutedRequest? {
        guard let match = table.route(forPath: context.path) else { return nil }
        let route = match.route, routeIndex = match.index
        let label = "\(table.wireProtocol.rawValue) \(route.match)"
        let stats = worker.stats.route(table.statsIDs[routeIndex])
        func fixed(_ status: Int) -> RoutedRequest {
            var r = RoutedRequest(handler: FixedResponseHandler(status: status, connection: connection), wantsBody: false, bodyLimit: 0)
            r.stats = stats
            return r
        }
        if SpooledBodyExchange.needsSpool(context.head, wire: table.wireProtocol) {
            // SCGI/uwsgi announce CONTENT_LENGTH up front: a body of unknown length is collected
            // first (memory, then an unnamed temporary file) and sent once its length is known.
            let spooled = SpooledBodyExchange(connection: connection, context: context, directories: worker.server.uploadDirs) {
                [weak self, weak connection] known in
                guard let self, let connection else { return .failure(RefusedStatus(status: 503)) }
                return self.startExchange(table: table, match: match, label: label, context: known, connection: connection)
            }
            var routed = RoutedRequest(handler: spooled, wantsBody: true, bodyLimit: SpooledBodyExchange.bodyLimit(context.settings))
            routed.stats = stats
            return routed
        }
        if context.head.isChunked && (table.wireProtocol == .scgi || table.wireProtocol == .uwsgi) {
            // A chunked WebSocket upgrade request: nothing sensible to collect.
            return fixed(411)
        }
        if context.settings.websocket.checksOrigins, CGIRequestInfo.wantsWebSocket(context.head), route.hosts.contains(where: { $0.upgrade }),
           let status = context.settings.websocket.refusal(context.head, label: label, log: worker.errorLog) {
            // websocket.origins: refused before any host is picked or connected.
            return fixed(status)
        }
        switch startExchange(table: table, match: match, label: label, context: context, connection: connection) {
        case .failure(let refused):
            return fixed(refused.status)
        case .success(let exchange):
            var routed = RoutedRequest(handler: exchange, wantsBody: true, bodyLimit: context.settings.maxRequestSize)
            routed.stats = stats
            return routed
        }
    }

    /// Status of a request that could not be put on a backend host.
    struct RefusedStatus: Error { let status: Int }

    /// A gateway exchange for the request on one of the route's hosts, connected (or connecting),
    /// or the status to answer with when no host can take it.
    func startExchange(table: GatewayRouteTable, match: GatewayRouteTable.Match, label: String,
                       context: RequestContext, connection: any ClientExchange) -> Result<GatewayExchange, RefusedStatus> {
        let exchange = GatewayExchange(connection: connection, context: context, label: label,
                                       upgradeCandidate: false, localRedirect: false, nph: false,
                                       readTimeout: 0, writeTimeout: 0)
        let dispatch = BackendDispatch(runtime: self, table: table, route: match.route, routeIndex: match.index, scriptEnd: match.scriptEnd,
                                       context: context, label: label)
        if let failure = dispatch.attempt(exchange) {
            if case .notFound = failure {} else { worker.errorLog.error(label, failure.description) }
            return .failure(RefusedStatus(status: failure.status))
        }
        return .success(exchange)
    }

    /// The request as one host of the route sees it (its docroot, check-local, script-name rules,
    /// upgrade option); nil when check-local finds no such file under that host's docroot.
    func backendRequest(for host: BackendHostConfig, route: GatewayRouteTable.Route, scriptEnd: Int?, context: RequestContext,
                        connection: any ClientExchange) -> BackendRequest? {
        let docroot = host.docroot ?? context.settings.documentRoot
        var scriptName = context.path
        var pathInfo = ""
        if let end = scriptEnd {
            // An extension route matched inside the path: /index.php/users/7.
            let utf8 = context.path.utf8
            let split = utf8.index(utf8.startIndex, offsetBy: end)
            scriptName = String(context.path[..<split])
            pathInfo = String(context.path[split...])
        }
        var scriptFile = StaticFileHandler.join(docroot, scriptName)
        if host.checkLocal {
            guard let (url, file, info) = CGIRoute.locateScript(root: docroot, path: context.path) else { return nil }
            scriptName = url
            scriptFile = file
            pathInfo = info
        } else if host.fixRootScriptname && route.match == "/" {
            scriptName = ""
            pathInfo = context.path
            scriptFile = StaticFileHandler.join(docroot, "/")
        }
        let upgrade = host.upgrade && CGIRequestInfo.wantsWebSocket(context.head)
        var info = CGIRequestInfo.from(context: context, connection: connection, scriptName: scriptName,
                                       scriptFilename: scriptFile, pathInfo: pathInfo, documentRoot: docroot,
                                       allowUpgrade: upgrade)
        if let strip = host.stripRequestURI, info.requestURI.hasPrefix(strip) {
            info.requestURI = "/" + info.requestURI.dropFirst(strip.count).drop(while: { $0 == "/" })
        }
        return BackendRequest(info: info, bodyLength: context.head.isChunked ? nil : (context.head.contentLength ?? 0))
    }

    /// A stream to `hs` carrying `request`: on a pooled/multiplexed FastCGI connection, or on a
    /// connection of its own. `fresh`: never an open pooled connection (the stale-connection
    /// retry). Throws when the host cannot be reached; returns a failure when the request cannot
    /// be encoded or the host is at its `max-connections` (neither is the host's fault).
    func openStream(_ request: BackendRequest, wire: BackendWireProtocol, host hs: HostState, address: SocketAddress,
                    label: String, debug: Int, exchange: GatewayExchange, fresh: Bool = false,
                    proxyHeader: ProxyHeaderOptions? = nil) throws -> Result<OpenedStream, BackendFailure> {
        let config = hs.config
        if wire == .proxy {
            return try openProxyStream(request, options: proxyHeader ?? ProxyHeaderOptions(), host: hs, address: address, label: label,
                                       debug: debug, exchange: exchange, fresh: fresh)
        }
        if wire == .fastcgi && (config.connectionPool || config.multiplex) {
            let checkout = try hs.fastcgi.checkout(fresh: fresh) {
                try newFastCGIConnection(hs, address: address, label: label, debug: debug)
            }
            guard case .leased(let connection, let reused) = checkout else { return .failure(busy(hs, label)) }
            if debug > 0 && (reused || connection.activeCount > 0) {
                worker.errorLog.info(label, "fastcgi: reusing connection fd \(connection.fd) (\(connection.activeCount) active, multiplexing: \(connection.multiplexes.map { "\($0)" } ?? "unknown"))")
            }
            exchange.onFinish = { [weak hs] _ in hs?.active -= 1 }
            return .success(OpenedStream(stream: connection.openStream(request, label: label), reused: reused))
        }
        if config.maxConnections > 0 && hs.active >= config.maxConnections { return .failure(busy(hs, label)) }
        let fdStream = try dedicatedStream(wire, config, address: address, label: label)
        do { try fdStream.start(request) } catch {
            fdStream.closeUnregistered()
            return .failure(.encodeFailed("\(label): \(error)"))
        }
        fdStream.loadHost = hs
        return .success(OpenedStream(stream: fdStream, reused: false))
    }

    func busy(_ hs: HostState, _ label: String) -> BackendFailure {
        .hostBusy("\(label): all \(hs.config.maxConnections) connections this worker may open to the host are busy (max-connections)")
    }

    func hostState(_ host: BackendHostConfig, table: GatewayRouteTable, routeIndex: Int, hostIndex: Int, generation: Int) -> HostState {
        state(host, table: table, routeIndex: routeIndex, hostIndex: hostIndex, generation: generation)
    }

    /// One connection per request (SCGI, uwsgi, FastCGI without pooling), like lighttpd.
    private func dedicatedStream(_ proto: BackendWireProtocol, _ config: BackendHostConfig, address: SocketAddress, label: String) throws -> FDBackendStream {
        let codec: BackendCodec
        switch proto {
        case .scgi: codec = HeaderThenRawCodec(.scgi, finPropagate: config.tcpFinPropagate)
        case .uwsgi: codec = HeaderThenRawCodec(.uwsgi, finPropagate: config.tcpFinPropagate)
        case .fastcgi: codec = FastCGICodec(requestId: 1)
        case .wstunnel: codec = RawTunnelCodec()
        case .proxy: preconditionFailure("proxy streams are opened by openProxyStream")
        }
        return try connectedStream(codec, address: address, label: label)
    }

    /// A registered stream with `codec` on a new (possibly still connecting) socket to `address`.
    func connectedStream(_ codec: BackendCodec, address: SocketAddress, label: String) throws -> FDBackendStream {
        let fd: Int32
        let connecting: Bool
        switch try Socket.connect(address) {
        case .connected(let f): fd = f; connecting = false
        case .inProgress(let f): fd = f; connecting = true
        }
        if address.family != AF_UNIX { Socket.setNoDelay(fd) }
        let stream = FDBackendStream(loop: worker.loop, codec: codec, readFD: fd, writeFD: fd, connecting: connecting, label: label)
        do { try stream.register() } catch {
            close(fd)
            throw error
        }
        return stream
    }

    /// A new FastCGI connection for the pool (which first asks the app for its capabilities when
    /// the host may multiplex and has not said yet).
    private func newFastCGIConnection(_ hs: HostState, address: SocketAddress, label: String, debug: Int) throws -> FastCGIConnection {
        let config = hs.config
        let fd: Int32
        let connecting: Bool
        switch try Socket.connect(address) {
        case .connected(let f): fd = f; connecting = false
        case .inProgress(let f): fd = f; connecting = true
        }
        if address.family != AF_UNIX { Socket.setNoDelay(fd) }
        let c: FastCGIConnection
        do {
            c = try FastCGIConnection(fd: fd, loop: worker.loop, label: label, connecting: connecting,
                                      keepConnection: config.connectionPool || config.multiplex,
                                      askCapabilities: config.multiplex && hs.multiplexes == nil,
                                      abortGrace: config.readTimeout > 0 ? Double(config.readTimeout) : 10)
        } catch {
            close(fd)
            throw error
        }
        c.onCapabilities = { [weak hs] mux, maxRequests in
            hs?.multiplexes = mux
            hs?.maxRequestsPerConnection = maxRequests
        }
        let pool = hs.fastcgi
        c.onClose = { [weak pool] conn in pool?.remove(conn) }
        c.onIdle = { [weak pool] conn in
            // KEEP_CONN was asked for multiplexing; an app that does not multiplex keeps its
            // connection only when the host pools (see `connectionPool`).
            if !config.connectionPool && conn.multiplexes != true { conn.teardown(nil); return }
            pool?.checkin(conn)
        }
        if hs.multiplexes == true && config.multiplex { c.markMultiplexing(maxRequests: hs.maxRequestsPerConnection) }
        if debug > 0 {
            worker.errorLog.info(label, "fastcgi: new connection fd \(fd) (\(hs.fastcgi.count + 1) open to this host in this worker)")
        }
        return c
    }

    func disable(_ hs: HostState, reason: String) {
        let seconds = max(hs.config.disableTime, 1)
        if hs.disabledUntil < worker.loop.now {
            worker.errorLog.error("backend \(hs.config.addressDescription)", "\(reason); disabled for \(seconds) s (disable-time)")
        }
        hs.disabledUntil = Seconds.deadline(worker.loop.now, plus: seconds)
    }

    /// Chooses a host by the table's balance policy, skipping disabled hosts (unless all are).
    func pick(table: GatewayRouteTable, route: GatewayRouteTable.Route, routeIndex: Int, context: RequestContext, exclude: Set<Int>) -> Int? {
        let now = worker.loop.now
        let generation = context.settings.generation
        var candidates: [Int] = []
        for i in route.hosts.indices where !exclude.contains(i) {
            let hs = state(route.hosts[i], table: table, routeIndex: routeIndex, hostIndex: i, generation: generation)
            if hs.disabledUntil <= now { candidates.append(i) }
        }
        if candidates.isEmpty { return nil }
        switch table.balance {
        case .fair, .leastConnection:
            return candidates.min { a, b in
                state(route.hosts[a], table: table, routeIndex: routeIndex, hostIndex: a, generation: generation).active <
                state(route.hosts[b], table: table, routeIndex: routeIndex, hostIndex: b, generation: generation).active
            }
        case .roundRobin:
            let key = HostKey(table: table.key, route: routeIndex, host: -1)
            let n = (roundRobin[key] ?? 0) + 1
            roundRobin[key] = n
            return candidates[n % candidates.count]
        case .hash, .sticky:
            // hash: the same URL goes to the same host (lighttpd hashes the request path);
            // sticky: the same client address goes to the same host.
            var h: UInt32 = 2166136261
            let keyText = table.balance == .sticky ? context.remoteIP : context.host + context.path
            for b in keyText.utf8 { h = (h ^ UInt32(b)) &* 16777619 }
            return candidates[Int(h % UInt32(candidates.count))]
        }
    }

    func tick(now: UInt64) { pruneRetired() }

    func shutdown() {
        for hs in Array(hosts.values) + retired {
            hs.fastcgi.closeAll()
            hs.proxy.closeAll()
        }
    }
}
