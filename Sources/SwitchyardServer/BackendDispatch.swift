import Glibc
import SwitchyardOS
import SwitchyardGatewayCodecs

/// Puts one request on one of its route's hosts: picks a host by the balance policy, maps the
/// request as that host sees it, connects, and on a connection that fails before any request body
/// was handed over tries the next host (lighttpd's gw_backend retry).
///
/// The exchange keeps this object (its retry closure) until it ends; this object holds the
/// exchange weakly, so the pair is never a cycle.
final class BackendDispatch {
    private let runtime: BackendRuntime
    private let table: GatewayRouteTable
    private let route: GatewayRouteTable.Route
    private let routeIndex: Int
    /// Where SCRIPT_NAME ends inside the path (an extension route with PATH_INFO), if it does.
    private let scriptEnd: Int?
    private let context: RequestContext
    private weak var connection: (any ClientExchange)?
    private weak var exchange: GatewayExchange?
    private let label: String
    private var tried = Set<Int>()

    init(runtime: BackendRuntime, table: GatewayRouteTable, route: GatewayRouteTable.Route, routeIndex: Int, scriptEnd: Int?,
         context: RequestContext, connection: any ClientExchange, exchange: GatewayExchange, label: String) {
        self.runtime = runtime
        self.table = table
        self.route = route
        self.routeIndex = routeIndex
        self.scriptEnd = scriptEnd
        self.context = context
        self.connection = connection
        self.exchange = exchange
        self.label = label
    }

    /// Retrying is safe only while no request body has gone to a host.
    private var retryable: Bool { (context.head.contentLength ?? 0) == 0 && !context.head.isChunked }

    /// Connects to one host and attaches the stream; on failure returns why. A connection that
    /// fails later (asynchronously) comes back through the exchange's `onConnectFailure`.
    func attempt() -> BackendFailure? {
        guard let exchange, let connection else { return .connectFailed("\(label): client gone") }
        guard let hostIndex = runtime.pick(table: table, route: route, routeIndex: routeIndex, context: context, exclude: tried) else {
            return .connectFailed("\(label): no backend host available (all disabled or failed)")
        }
        tried.insert(hostIndex)
        let hostConfig = route.hosts[hostIndex]
        if hostConfig.binPath != nil,
           let why = runtime.worker.serverInstance.backendAvailability.unavailableReason(hostConfig.addressDescription) {
            // Spawned backend in its restart backoff: 503 now (or another host), not a wait in its backlog.
            let failure = BackendFailure.connectFailed("\(label) \(hostConfig.addressDescription): \(why)")
            return tried.count < route.hosts.count ? attempt() : failure
        }
        let hs = runtime.hostState(hostConfig, table: table, routeIndex: routeIndex, hostIndex: hostIndex)
        guard let address = hs.address else {
            return .connectFailed("\(label): cannot resolve \(hostConfig.addressDescription)")
        }
        guard let request = runtime.backendRequest(for: hostConfig, route: route, scriptEnd: scriptEnd, context: context, connection: connection) else {
            return .notFound("\(label): no such file under \(hostConfig.docroot ?? context.settings.documentRoot) (check-local)")
        }
        let hostLabel = "\(label) \(hostConfig.addressDescription)"
        exchange.configure(upgradeCandidate: hostConfig.upgrade && CGIRequestInfo.wantsWebSocket(context.head),
                           readTimeout: hostConfig.readTimeout, writeTimeout: hostConfig.writeTimeout,
                           connectTimeout: hostConfig.connectTimeout)
        let stream: BackendStream
        do {
            switch try runtime.openStream(request, wire: table.wireProtocol, host: hs, address: address, label: hostLabel,
                                          debug: table.debug, exchange: exchange) {
            case .success(let s): stream = s
            case .failure(let failure): return failure
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
        exchange.attach(stream)
        exchange.onConnectFailure = { [weak runtime, weak hs, self] failure in
            guard let runtime else { return false }
            if let hs { runtime.disable(hs, reason: failure.description) }
            guard self.retryable else { return false }
            if let next = self.attempt() { self.exchange?.fail(next) }
            return true
        }
        return nil
    }
}
