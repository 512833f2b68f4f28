/// What a status page reports, gathered from every worker (`StatusGatherer`) and the supervisor.
/// Plain values: they cross threads and the renderers (`StatusText`) test them without sockets.
struct RouteCounts: Sendable, Equatable {
    var requests = 0
    var responses5xx = 0
    var upgrades = 0
    var openUpgraded = 0
    var bytesFromClients = 0
    var bytesToClients = 0

    mutating func add(_ o: RouteCounts) {
        requests += o.requests
        responses5xx += o.responses5xx
        upgrades += o.upgrades
        openUpgraded += o.openUpgraded
        bytesFromClients += o.bytesFromClients
        bytesToClients += o.bytesToClients
    }
}

/// The state of one client connection, with lighttpd's scoreboard letter (`U`, upgraded, is ours).
enum ConnectionPhase: String, Sendable, CaseIterable {
    case readingHead = "r"
    case readingBody = "R"
    case handling = "h"
    case writing = "W"
    case keepAlive = "k"
    case upgraded = "U"
    case closing = "C"

    var name: String {
        switch self {
        case .readingHead: return "reading"
        case .readingBody: return "reading-body"
        case .handling: return "handling"
        case .writing: return "writing"
        case .keepAlive: return "keep-alive"
        case .upgraded: return "upgraded"
        case .closing: return "closing"
        }
    }
    var letter: Character { Character(rawValue) }
}

/// A backend host as one worker sees it: disabled after a failure until a monotonic deadline.
struct BackendHostCounts: Sendable {
    var module: String
    var route: String
    var host: String
    var active = 0
    /// Seconds left of the disable-time (0: enabled).
    var disabledForSeconds = 0.0
}

/// A `bin-path` process slot as the supervisor knows it.
struct BackendProcessInfo: Sendable, Equatable {
    var host: String            // the address it listens on
    var program: String
    var slot: Int
    var pid: Int32?             // nil: not running (restart pending)
    var restarts: Int
    /// "running", "restarting (exited: ...; next start in N s)" or "stopped".
    var state: String
}

/// One worker's share of the report.
struct WorkerSnapshot: Sendable {
    var requests = 0
    var acceptedConnections = 0
    var bytesSent = 0
    var phases: [Character] = []
    var routes: [Int: RouteCounts] = [:]
    var hosts: [BackendHostCounts] = []
}

/// The whole report: every worker's share added up.
struct StatusSnapshot: Sendable {
    var uptimeSeconds = 0
    /// Wall-clock seconds when gathered (for "disabled until" times).
    var now = 0
    var eventLoops = 0
    var requests = 0
    var acceptedConnections = 0
    var bytesSent = 0
    /// lighttpd's scoreboard: one letter per open connection.
    var scoreboard = ""
    var routes: [(name: RouteName, counts: RouteCounts)] = []
    var hosts: [BackendHostCounts] = []
    var processes: [BackendProcessInfo] = []
    var modules: [String] = []

    func count(_ phase: ConnectionPhase) -> Int { scoreboard.reduce(0) { $1 == phase.letter ? $0 + 1 : $0 } }
    var openConnections: Int { scoreboard.count }

    init() {}

    /// Adds the workers' shares; routes ordered by module and match so output is stable.
    init(workers: [WorkerSnapshot], names: (Int) -> RouteName?) {
        var byID: [Int: RouteCounts] = [:]
        for w in workers {
            requests += w.requests
            acceptedConnections += w.acceptedConnections
            bytesSent += w.bytesSent
            scoreboard.append(contentsOf: w.phases)
            for (id, c) in w.routes { byID[id, default: RouteCounts()].add(c) }
            hosts.append(contentsOf: w.hosts)
        }
        eventLoops = workers.count
        routes = byID.compactMap { id, c in names(id).map { ($0, c) } }
            .sorted { ($0.name.module, $0.name.match) < ($1.name.module, $1.name.match) }
        hosts = Self.mergeHosts(hosts)
    }

    /// One row per host: active requests added up, the longest disable left of any worker.
    private static func mergeHosts(_ all: [BackendHostCounts]) -> [BackendHostCounts] {
        var order: [String] = []
        var merged: [String: BackendHostCounts] = [:]
        for h in all {
            let key = h.module + "\u{0}" + h.route + "\u{0}" + h.host
            if var m = merged[key] {
                m.active += h.active
                m.disabledForSeconds = max(m.disabledForSeconds, h.disabledForSeconds)
                merged[key] = m
            } else {
                merged[key] = h
                order.append(key)
            }
        }
        return order.map { merged[$0]! }
    }
}
