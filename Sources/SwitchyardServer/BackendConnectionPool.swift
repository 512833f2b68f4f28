import SwitchyardOS

/// What a backend connection offers the pool that keeps it between requests. A FastCGI connection
/// carries requests one after another (FCGI_KEEP_CONN) or several at once (FCGI_MPXS_CONNS); an
/// HTTP/1.1 connection to a proxied server carries one at a time. The pool does no I/O itself:
/// the connection reads its own socket, so it is the one that notices a backend closing it while
/// idle (EOF / EPOLLRDHUP) and must then tell the pool through `BackendConnectionPool.remove`.
protocol PooledBackendConnection: AnyObject {
    /// Closed by either side: never handed out again.
    var isClosed: Bool { get }
    /// Requests in flight on it.
    var activeCount: Int { get }
    /// It can take one more request now: idle, or multiplexing with room (its codec decides).
    var canTakeAnother: Bool { get }
    /// Closes it because the pool no longer wants it (idle too long, shutdown). It must not call
    /// back into the pool synchronously except through `remove`.
    func closeFromPool()
}

/// The connections one worker keeps to one backend host: checkout (an idle connection, one with
/// multiplex room, or a new one from the caller's factory), checkin when a request ends and the
/// codec allows reuse, a per-host connection limit, and idle eviction with one timer per pool
/// (never one per request: a busy pool goes idle after every request).
///
/// Loop-confined like everything else a worker owns. The pool holds its connections strongly; a
/// connection holds the pool only through the weak hooks its owner installs.
final class BackendConnectionPool<Connection: PooledBackendConnection> {
    /// What `checkout` found.
    enum Checkout {
        /// `reused`: the connection had served a request and waited idle in the pool - the one
        /// case where the backend may have closed it just before the request went out (the
        /// keep-alive race, see `StaleConnectionRetry`).
        case leased(Connection, reused: Bool)
        /// `maxConnections` are open and none can take the request: the caller refuses it (or
        /// tries another host); requests are not queued here, see README "max-connections".
        case full
    }

    private struct Entry {
        let connection: Connection
        /// Set while the connection waits idle in the pool (loop time it went idle).
        var idleSince: UInt64?
        var served = 0
    }

    let loop: EventLoop
    /// Connections beyond this many (0: no limit) are not opened; open ones are still shared.
    let maxConnections: Int
    /// How long a connection may wait idle before the pool closes it.
    let idleNanoseconds: UInt64
    private var entries: [Entry] = []
    private var timer: TimerID?
    /// Its host left the configuration (live reload): nothing is checked in any more.
    private(set) var isRetired = false

    init(loop: EventLoop, maxConnections: Int, idleSeconds: Double) {
        self.loop = loop
        self.maxConnections = max(0, maxConnections)
        self.idleNanoseconds = UInt64(max(0, idleSeconds) * 1e9)
    }

    /// Open connections (idle or busy).
    var count: Int { entries.reduce(0) { $0 + ($1.connection.isClosed ? 0 : 1) } }
    var idleCount: Int { entries.reduce(0) { $0 + ($1.idleSince != nil && !$1.connection.isClosed ? 1 : 0) } }
    var connections: [Connection] { entries.map(\.connection) }

    /// A connection for one more request. `fresh` skips every open connection (the retry after a
    /// stale one). `make` opens a new connection; what it throws is the caller's (connect) error.
    func checkout(fresh: Bool = false, make: () throws -> Connection) rethrows -> Checkout {
        entries.removeAll { $0.connection.isClosed }
        if !fresh {
            // The most recently used idle connection first: the surplus ones age out.
            var best: Int?
            for i in entries.indices where entries[i].idleSince != nil && entries[i].connection.canTakeAnother {
                if best == nil || entries[i].idleSince! > entries[best!].idleSince! { best = i }
            }
            if let i = best {
                entries[i].idleSince = nil
                return .leased(entries[i].connection, reused: entries[i].served > 0)
            }
            if let e = entries.first(where: { $0.connection.activeCount > 0 && $0.connection.canTakeAnother }) {
                return .leased(e.connection, reused: false)   // multiplex room: the connection is alive
            }
        }
        if maxConnections > 0 && entries.count >= maxConnections { return .full }
        let c = try make()
        entries.append(Entry(connection: c))
        return .leased(c, reused: false)
    }

    /// The connection's last request ended and its codec keeps it open: it waits for the next
    /// one, at most `idleNanoseconds`.
    func checkin(_ connection: Connection) {
        guard let i = index(of: connection), !connection.isClosed, connection.activeCount == 0 else { return }
        if isRetired {
            entries.remove(at: i)
            connection.closeFromPool()
            return
        }
        entries[i].idleSince = loop.now
        entries[i].served += 1
        if timer == nil { armTimer(afterNanoseconds: idleNanoseconds) }
    }

    /// The connection closed (either side); its owner calls this from its close hook.
    func remove(_ connection: Connection) {
        guard let i = index(of: connection) else { return }
        entries.remove(at: i)
        if let t = timer, !entries.contains(where: { $0.idleSince != nil }) {
            loop.cancel(t)
            timer = nil
        }
    }

    /// The host left the configuration: idle connections close now, busy ones at their checkin.
    func retire() {
        isRetired = true
        var idle: [Connection] = []
        entries.removeAll { e in
            guard e.idleSince != nil else { return false }
            idle.append(e.connection)
            return true
        }
        if let t = timer { loop.cancel(t); timer = nil }
        for c in idle where !c.isClosed { c.closeFromPool() }
    }

    /// Closes every connection (worker shutdown).
    func closeAll() {
        let all = entries.map(\.connection)
        entries.removeAll()
        if let t = timer { loop.cancel(t); timer = nil }
        for c in all where !c.isClosed { c.closeFromPool() }
    }

    private func index(of connection: Connection) -> Int? {
        entries.firstIndex { $0.connection === connection }
    }

    private func armTimer(afterNanoseconds delay: UInt64) {
        timer = loop.schedule(afterNanoseconds: delay) { [weak self] in self?.evictIdle() }
    }

    /// Closes the connections idle for `idleNanoseconds`, then re-arms for the oldest one left.
    private func evictIdle() {
        timer = nil
        let now = EventLoop.monotonicNanoseconds()
        var expired: [Connection] = []
        var oldestLeft: UInt64?
        entries.removeAll { e in
            guard let since = e.idleSince else { return false }
            if now &- since >= idleNanoseconds { expired.append(e.connection); return true }
            oldestLeft = min(oldestLeft ?? since, since)
            return false
        }
        if let since = oldestLeft { armTimer(afterNanoseconds: idleNanoseconds - (now &- since)) }
        for c in expired where !c.isClosed { c.closeFromPool() }
    }
}

/// The keep-alive race: a backend may close an idle connection at the moment a request goes out
/// on it; the request then fails (EOF, reset, write error) before any response byte. Such a
/// request never reached the application, so it is sent once more on a fresh connection -
/// provided it can be sent again (no request body bytes were handed over) and only once.
struct StaleConnectionRetry {
    private(set) var used = false

    /// Whether to retry now; records the retry.
    mutating func shouldRetry(after failure: BackendFailure, reused: Bool, responseStarted: Bool,
                              replayable: Bool) -> Bool {
        guard !used, reused, !responseStarted, replayable, case .ioError = failure else { return false }
        used = true
        return true
    }
}
