import Glibc
import SwitchyardOS
import SwitchyardGatewayCodecs

/// Puts one request on one of its route's hosts: picks a host by the balance policy, maps the
/// request as that host sees it, connects, and on a connection that fails before any request body
/// was handed over tries the next host (lighttpd's gw_backend retry).
///
/// The exchange keeps this object (its retry closures) until it ends and hands itself to them, so
/// this object holds neither the exchange nor the client: no cycle, and no weak reference (a weak
/// reference would give both a side table, and every reference-count operation on them while they
/// relay a WebSocket would take the runtime's slow path).
final class BackendDispatch {
    private let runtime: BackendRuntime
    private let table: GatewayRouteTable
    private let route: GatewayRouteTable.Route
    private let routeIndex: Int
    /// Where SCRIPT_NAME ends inside the path (an extension route with PATH_INFO), if it does.
    private let scriptEnd: Int?
    private let context: RequestContext
    private let label: String
    private var tried = Set<Int>()
    private var stale = StaleConnectionRetry()

    init(runtime: BackendRuntime, table: GatewayRouteTable, route: GatewayRouteTable.Route, routeIndex: Int, scriptEnd: Int?,
         context: RequestContext, label: String) {
        self.runtime = runtime
        self.table = table
        self.route = route
        self.routeIndex = routeIndex
        self.scriptEnd = scriptEnd
        self.context = context
        self.label = label
    }

    /// Retrying is safe only while no request body has gone to a host.
    private var retryable: Bool { (context.head.contentLength ?? 0) == 0 && !context.head.isChunked }

    /// Connects to one host and attaches the stream; on failure returns why. A connection that
    /// fails later (asynchronously) comes back through the exchange's `onConnectFailure`.
    func attempt(_ exchange: GatewayExchange) -> BackendFailure? {
        guard exchange.connection != nil else { return .connectFailed("\(label): client gone") }
        guard let hostIndex = runtime.pick(table: table, route: route, routeIndex: routeIndex, context: context, exclude: tried) else {
            return .connectFailed("\(label): no backend host available (all disabled or failed)")
        }
        tried.insert(hostIndex)
        let hostConfig = route.hosts[hostIndex]
        if hostConfig.binPath != nil,
           let why = runtime.worker.serverInstance.backendAvailability.unavailableReason(hostConfig.addressDescription) {
            // Spawned backend in its restart backoff: 503 now (or another host), not a wait in its backlog.
            let failure = BackendFailure.connectFailed("\(label) \(hostConfig.addressDescription): \(why)")
            return tried.count < route.hosts.count ? attempt(exchange) : failure
        }
        return connect(exchange, hostIndex: hostIndex, fresh: false)
    }

    /// Puts the request on host `hostIndex` (`fresh`: on a new connection, never a pooled one)
    /// with that host's own options.
    private func connect(_ exchange: GatewayExchange, hostIndex: Int, fresh: Bool) -> BackendFailure? {
        guard let connection = exchange.connection else { return .connectFailed("\(label): client gone") }
        let hostConfig = route.hosts[hostIndex]
        let hs = runtime.hostState(hostConfig, table: table, routeIndex: routeIndex, hostIndex: hostIndex,
                                   generation: context.settings.generation)
        guard let address = hs.address else {
            return .connectFailed("\(label): cannot resolve \(hostConfig.addressDescription)")
        }
        guard let request = runtime.backendRequest(for: hostConfig, route: route, scriptEnd: scriptEnd, context: context, connection: connection) else {
            return .notFound("\(label): no such file under \(hostConfig.docroot ?? context.settings.documentRoot) (check-local)")
        }
        let hostLabel = hs.label(label)
        // A CONNECT (routed here only with proxy.header connect) holds its body end back until the tunnel opens, like an upgrade.
        let upgrade = (hostConfig.upgrade && CGIRequestInfo.wantsWebSocket(context.head)) || context.head.method == "CONNECT"
        exchange.configure(upgradeCandidate: upgrade,
                           readTimeout: hostConfig.readTimeout, writeTimeout: hostConfig.writeTimeout,
                           connectTimeout: hostConfig.connectTimeout)
        let opened: BackendRuntime.OpenedStream
        do {
            switch try runtime.openStream(request, wire: table.wireProtocol, host: hs, address: address, label: hostLabel,
                                          debug: table.debug, exchange: exchange, fresh: fresh,
                                          proxyHeader: table.proxyHeader) {
            case .success(let s): opened = s
            case .failure(let failure):
                // At its max-connections: another host may have room (not a fault: no disable-time).
                if case .hostBusy = failure, tried.count < route.hosts.count { return attempt(exchange) }
                return failure
            }
        } catch {
            // Out of descriptors is the gateway's own trouble, not the host's: no disable-time.
            if let e = error as? SystemError, e.errno == EMFILE || e.errno == ENFILE {
                return .connectFailed("\(hostLabel): \(error)")
            }
            runtime.disable(hs, reason: "\(error)")
            return .connectFailed("\(hostLabel): \(error)")
        }
        hs.active += 1
        exchange.attach(opened.stream)
        exchange.onConnectFailure = { [weak runtime, weak hs, self] exchange, failure in
            guard let runtime else { return false }
            if let hs { runtime.disable(hs, reason: failure.description) }
            guard self.retryable else { return false }
            self.releaseHost(exchange)
            if let next = self.attempt(exchange) { exchange.fail(next) }
            return true
        }
        exchange.onStaleConnection = opened.reused ? { [self] exchange, failure in
            self.retryStale(exchange, failure, hostIndex: hostIndex, hostLabel: hostLabel)
        } : nil
        return nil
    }

    /// The keep-alive race: the reused connection failed before the backend said anything.
    private func retryStale(_ exchange: GatewayExchange, _ failure: BackendFailure, hostIndex: Int, hostLabel: String) -> Bool {
        guard stale.shouldRetry(after: failure, reused: true, responseStarted: false, replayable: retryable) else { return false }
        runtime.worker.errorLog.info(hostLabel, "reused connection closed before any response (\(failure)): sending the request once more on a fresh connection")
        releaseHost(exchange)
        if let next = connect(exchange, hostIndex: hostIndex, fresh: true) { exchange.fail(next) }
        return true
    }

    /// Gives back the failed attempt's place in its host's load count (a pooled stream counts
    /// until the exchange finishes; a dedicated one until its connection closes).
    private func releaseHost(_ exchange: GatewayExchange) {
        let release = exchange.onFinish
        exchange.onFinish = nil
        release?(false)
    }
}
