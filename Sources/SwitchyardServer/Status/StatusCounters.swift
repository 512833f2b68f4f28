import Synchronization

/// Counters of one route (a `fastcgi.server`/`scgi.server`/`proxy.server`/`wstunnel.server` entry or
/// a `cgi.assign` suffix) in one worker. Plain integers: only the worker's loop writes them, and a
/// status page reads them by hopping onto that loop (`StatusGatherer`), so the request path pays an
/// add and takes no lock and no atomic.
final class RouteStats {
    var requests = 0
    var responses5xx = 0
    var upgrades = 0
    /// Upgraded streams open now: on a client connection or handed to a `SpliceRelay`.
    var openUpgraded = 0
    /// Bytes of upgraded streams read from clients (to the backend) and sent to clients.
    var bytesFromClients = 0
    var bytesToClients = 0

    var snapshot: RouteCounts {
        RouteCounts(requests: requests, responses5xx: responses5xx, upgrades: upgrades, openUpgraded: openUpgraded,
                    bytesFromClients: bytesFromClients, bytesToClients: bytesToClients)
    }
}

/// One worker's counters: server-wide totals and its `RouteStats` by route id. Loop-confined.
final class WorkerStats {
    var requests = 0
    var acceptedConnections = 0
    /// Bytes written to clients, added when a request's successor starts or the connection ends
    /// (and as splice relays move them): lighttpd's "Total kBytes".
    var bytesSent = 0
    private(set) var routes: [RouteStats?] = []

    /// The counters of route `id` (`StatusRouteRegistry`), made on first use.
    func route(_ id: Int) -> RouteStats {
        if id < routes.count, let r = routes[id] { return r }
        if id >= routes.count { routes.append(contentsOf: repeatElement(nil, count: id + 1 - routes.count)) }
        let r = RouteStats()
        routes[id] = r
        return r
    }
}

/// Names every route a stable small integer at configuration time, so the request path indexes an
/// array instead of hashing strings. Routes with the same module and match (the same prefix in two
/// conditionals) share one id: their counters are reported together, as one metric series.
enum StatusRouteRegistry {
    private static let ids = Mutex<(byKey: [String: Int], names: [RouteName])>(([:], []))

    static func id(module: String, match: String) -> Int {
        let key = module + "\u{0}" + match
        return ids.withLock { state in
            if let id = state.byKey[key] { return id }
            let id = state.names.count
            state.byKey[key] = id
            state.names.append(RouteName(module: module, match: match))
            return id
        }
    }

    static func name(_ id: Int) -> RouteName? {
        ids.withLock { id < $0.names.count ? $0.names[id] : nil }
    }

    /// The module name a route table's wire protocol is reported under (uwsgi is mod_scgi's).
    static func module(_ p: BackendWireProtocol) -> String {
        switch p {
        case .scgi, .uwsgi: return "scgi"
        case .fastcgi: return "fastcgi"
        case .proxy: return "proxy"
        case .wstunnel: return "wstunnel"
        }
    }
}

struct RouteName: Sendable, Hashable {
    let module: String
    let match: String
}
