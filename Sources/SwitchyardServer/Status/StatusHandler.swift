import Glibc
import SwitchyardOS
import SwitchyardHTTP

/// Answers a mod_status URL (or `status.metrics-url`). The counters live in each worker, touched
/// only by its own loop; this visits every worker's loop in turn (`EventLoop.execute`), takes its
/// share there, and answers on its own loop once all have replied. The request path never waits
/// on a lock for this: the cost is paid by whoever asks for the page.
final class StatusHandler: RequestHandler {
    let page: StatusURLs.Page
    let auto: Bool
    /// Weak: a client that left before all workers replied finds nil, not a freed exchange.
    weak var connection: (any ClientExchange)?
    let worker: Worker
    private var shares: [WorkerSnapshot] = []
    private var expected = 0

    init(page: StatusURLs.Page, auto: Bool, connection: any ClientExchange) {
        self.page = page
        self.auto = auto
        self.connection = connection
        self.worker = connection.worker
    }

    func start() {
        let targets = worker.serverInstance.statusTargets
        guard !targets.isEmpty else {
            // A worker outside `Server.run` (unit tests): its own share is all there is.
            shares = [worker.statusShare()]
            respond()
            return
        }
        expected = targets.count
        let home = worker.loop
        let me = LoopBound(self, on: home)
        for target in targets {
            let w = target.worker
            target.loop.execute {
                let share = w.value.statusShare()
                home.execute { me.value.received(share) }
            }
        }
    }

    private func received(_ share: WorkerSnapshot) {
        shares.append(share)
        if shares.count == expected { respond() }
    }

    private func respond() {
        guard let connection else { return }
        let server = worker.serverInstance
        var snapshot = StatusSnapshot(workers: shares, names: StatusRouteRegistry.name)
        snapshot.now = time(nil)
        snapshot.uptimeSeconds = max(0, snapshot.now - server.startedAt)
        snapshot.processes = server.backendAvailability.processList
        snapshot.modules = worker.server.modules
        let body: String, type: String
        switch page {
        case .status where auto:
            (body, type) = (StatusText.auto(snapshot), "text/plain; charset=utf-8")
        case .status:
            let host = connection.request?.host ?? connection.localHost
            (body, type) = (StatusText.html(snapshot, hostname: host), "text/html; charset=utf-8")
        case .statistics:
            (body, type) = (StatusText.statistics(snapshot), "text/plain; charset=utf-8")
        case .metrics:
            (body, type) = (StatusText.prometheus(snapshot), "text/plain; version=0.0.4; charset=utf-8")
        case .config:
            (body, type) = (StatusText.config(snapshot, settings: worker.server), "text/html; charset=utf-8")
        }
        let bytes = Array(body.utf8)
        var head = HTTPResponseHead(status: 200)
        head.headers.add(name: "Content-Type", value: type)
        head.headers.add(name: "Cache-Control", value: "no-store")
        connection.sendHead(head, framing: .length(bytes.count))
        if connection.request?.method != "HEAD" { bytes.withUnsafeBytes { _ = connection.sendBody($0) } }
        connection.finishResponse()
    }
}

extension Worker {
    /// This worker's counters and the state of each of its connections (run on its own loop).
    func statusShare() -> WorkerSnapshot {
        var share = WorkerSnapshot()
        share.requests = stats.requests
        share.acceptedConnections = stats.acceptedConnections
        share.bytesSent = stats.bytesSent
        share.phases.reserveCapacity(connections.count + spliceRelays.count)
        for c in connections.values { share.phases.append(c.statusPhase.letter) }
        share.phases.append(contentsOf: repeatElement(ConnectionPhase.upgraded.letter, count: spliceRelays.count))
        for (id, r) in stats.routes.enumerated() { if let r { share.routes[id] = r.snapshot } }
        share.hosts = backends.statusHosts(now: loop.now)
        return share
    }
}

extension HTTP1Connection {
    /// lighttpd's scoreboard states, as far as they exist here.
    var statusPhase: ConnectionPhase {
        switch state {
        case .awaitingHead:
            return requestCount > 0 && input.isEmpty ? .keepAlive : .readingHead
        case .exchange:
            guard let ex = exchange else { return .handling }
            if ex.phase == .readingBody { return .readingBody }
            return ex.responseStarted ? .writing : .handling
        case .upgraded: return .upgraded
        case .closing, .closed: return .closing
        }
    }
}
