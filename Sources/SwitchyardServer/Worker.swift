import Glibc
import SwitchyardOS
import Synchronization
import CSwitchyardShims
import SwitchyardHTTP
import SwitchyardConfig

/// One event loop on one thread with its own listeners, connections and caches. Nothing here is
/// shared with other workers except the read-only configuration and the logs.
final class Worker {
    let index: Int
    let loop: EventLoop
    unowned let serverInstance: Server
    /// This worker's configuration: replaced (`apply`) on this loop when a reload is handed over,
    /// so the requests routed after it use the new one and those routed before keep theirs.
    private(set) var config: ConfigSnapshot
    /// A copy of the server-wide settings: read on every request, and a stored copy costs no
    /// trip through the unowned `serverInstance` reference.
    private(set) var server: ServerSettings
    /// `Server: <tag>` with its CRLF, sanitised once; empty when `server.tag` is "".
    private(set) var serverTagLine: [UInt8]
    let errorLog: ErrorLog
    var dateCache = HTTPDateCache()
    /// Requests, connections and per-route counters; read by status pages on this loop.
    let stats = WorkerStats()
    let fileCache = StaticFileCache()
    /// Where static requests assemble the file-system path (one request at a time per worker).
    let staticPath = PathBuffer()
    private(set) var listeners: [Listener] = []
    private(set) var connections: [Int32: HTTP1Connection] = [:]
    /// Connections that switched to HTTP/2 (ALPN `h2`, or the h2c preface); they count as connections.
    private(set) var http2Connections: [Int32: HTTP2Connection] = [:]
    /// Upgraded streams handed to the kernel (splice); they count as connections.
    private(set) lazy var spliceRelays = SpliceRelays(worker: self)
    private var settingsCache: [[Int]: RequestSettings] = [:]
    /// The same, keyed by `ConfigDocument.matchingMask` (documents of at most 64 blocks), and the
    /// last one found.
    private var settingsByMask: [UInt64: RequestSettings] = [:]
    private var lastMaskSettings: (mask: UInt64, settings: RequestSettings)?
    /// The settings of every request when the configuration has no conditional blocks: then
    /// there is nothing to evaluate per request (see `Router`).
    private(set) var unconditionalSettings: RequestSettings?
    /// The server's access log (nil when none is configured), checked after every response.
    let accessLogFile: AccessLog?
    private var accessBuffer: [UInt8] = []
    private(set) var isStopping = false
    private var stopDeadline: UInt64 = 0
    var parserLimits: HTTPParserLimits
    /// The last HTTP/1 request head this loop's connections parsed, lent to each parser: a
    /// keep-alive client repeating its request gets the head back without a parse.
    var requestHeadMemo = HTTPRequestHeadMemo()
    /// The request body bytes of one HTTP/2 read (`HTTP2ServerSession.receive`'s `payloads`), shared
    /// by the loop's connections: taken by the one reading, given back emptied (see
    /// `HTTP2Connection.streamHasInput`).
    var http2Payloads: [UInt8] = []
    /// The buffered-stream tuning every client connection starts with (built once).
    private(set) var clientStreamOptions: BufferedStreamOptions
    lazy var router = Router(worker: self)
    lazy var backends = BackendRuntime(worker: self)
    lazy var cgiChildren = CGIChildren(loop: loop, errorLog: errorLog)
    /// The CGIs that were still running when this worker stopped (SIGTERMed; `Server` reaps them).
    private(set) var cgisAtStop: [pid_t] = []
    var onStopped: (() -> Void)?

    init(index: Int, server: Server) throws {
        self.index = index
        self.serverInstance = server
        self.loop = try EventLoop(name: "worker-\(index)", eventHandler: server.config.settings.eventHandler)
        self.errorLog = server.errorLog
        let config = server.config
        self.config = config
        self.server = config.settings
        self.serverTagLine = Worker.tagLine(config)
        self.unconditionalSettings = Worker.unconditional(config)
        self.accessLogFile = server.accessLog
        parserLimits = Worker.limits(config)
        clientStreamOptions = HTTP1Connection.streamOptions(config.settings)
    }

    /// A reload reached this loop: connections accepted and requests routed from now on use
    /// `snapshot`; running exchanges keep the settings they captured; backend hosts that left the
    /// configuration are retired (`BackendRuntime.reload`).
    func apply(_ snapshot: ConfigSnapshot) {
        guard snapshot.generation > config.generation else { return }
        config = snapshot
        server = snapshot.settings
        serverTagLine = Worker.tagLine(snapshot)
        dateLinesSecond = Int.min   // the cached Date/Server block carries the old tag
        unconditionalSettings = Worker.unconditional(snapshot)
        parserLimits = Worker.limits(snapshot)
        requestHeadMemo.forget()
        clientStreamOptions = HTTP1Connection.streamOptions(snapshot.settings)
        settingsCache.removeAll()
        settingsByMask.removeAll()
        lastMaskSettings = nil
        router.configurationChanged()
        backends.reload(tables: snapshot.gatewayTables)
    }

    private static func tagLine(_ c: ConfigSnapshot) -> [UInt8] {
        HeaderName.fieldLine("Server", c.settings.tag, omitIfEmpty: true)
    }

    private static func unconditional(_ c: ConfigSnapshot) -> RequestSettings? {
        c.document.contexts.isEmpty ? c.globalSettings : nil
    }

    private static func limits(_ c: ConfigSnapshot) -> HTTPParserLimits {
        var limits = HTTPParserLimits()
        limits.maxHeaderBlockSize = c.settings.maxRequestFieldSize
        limits.maxRequestLineLength = max(c.settings.maxRequestFieldSize, 8192)
        limits.maxBodySize = c.globalSettings.maxRequestSize
        return limits
    }

    func addListener(fd: Int32, info: ListenerInfo) throws {
        let l = Listener(fd: fd, info: info, worker: self)
        try l.start()
        listeners.append(l)
    }

    func run() {
        scheduleTick()
        loop.run()
    }

    /// Loop callbacks capture the worker `unowned`: the worker owns its loop and outlives it. A weak
    /// capture would give the worker a side table and slow down every reference-count operation
    /// on it, which the request path does many times.
    private func scheduleTick() {
        loop.schedule(afterSeconds: 1 / Double(Worker.tickSlices)) { [unowned self] in
            self.tickSlice()
            self.scheduleTick()
        }
    }

    /// Every connection is looked at once a second (its timeouts, a quiet WebSocket's buffers), in
    /// `tickSlices` passes spread over the second, each taking the connections whose descriptor
    /// falls in its slice: at 20 000 connections one pass of all of them held the loop ~35 ms,
    /// which every message arriving meanwhile waited for (the p99 tail of a held-connections run).
    static let tickSlices: Int32 = 8
    private var tickPass: Int32 = 0
    /// The connections of the current slice (reused: no array of every connection per pass).
    private var tickBatch: [HTTP1Connection] = []
    private var tickBatch2: [HTTP2Connection] = []

    private func tickSlice() {
        let slice = tickPass
        tickPass = (tickPass + 1) % Worker.tickSlices
        let now = loop.now
        // Collected first: a tick may close its connection, which removes it from the table.
        for (fd, c) in connections where fd % Worker.tickSlices == slice { tickBatch.append(c) }
        for c in tickBatch { c.tick(now: now) }
        tickBatch.removeAll(keepingCapacity: true)
        for (fd, c) in http2Connections where fd % Worker.tickSlices == slice { tickBatch2.append(c) }
        for c in tickBatch2 { c.tick(now: now) }
        tickBatch2.removeAll(keepingCapacity: true)
        if slice == 0 { tick(now: now) }
    }

    /// What the worker checks once a second besides its connections.
    private func tick(now: UInt64) {
        trimAfterBurst()
        if let (count, last) = tlsFailureLog.summary(now: now) {
            errorLog.info("tls", "\(count) more failed TLS handshakes in the last second, not logged one by one (the last: \(last))")
        }
        backends.tick(now: now)
        spliceRelays.tick(now: now)
        flushAccessLog()
        if isStopping {
            for c in Array(connections.values) where c.isIdleForShutdown { c.close() }
            for c in Array(http2Connections.values) where c.isIdleForShutdown { c.close() }
            if (connections.isEmpty && http2Connections.isEmpty && spliceRelays.isEmpty) || now >= stopDeadline { finishStop() }
        }
    }

    /// Failed and timed-out TLS handshakes: a few lines a second, the rest counted (see `logTLSFailure`).
    private var tlsFailureLog = LogRateLimiter(burst: Worker.tlsFailureLinesPerSecond)
    static let tlsFailureLinesPerSecond = 5

    /// A TLS handshake failed or timed out: logged unless a flood of them is under way, whose
    /// count then goes out as one line a second (a port scan or a thousand stalled ClientHellos
    /// must not write a thousand lines).
    func logTLSFailure(_ context: String, _ message: String) {
        if tlsFailureLog.admit("\(context): \(message)", now: loop.now) { errorLog.info(context, message) }
    }

    /// Most connections seen since the heap was last trimmed.
    private var connectionPeak = 0

    /// After a burst of connections has gone (at most half of the peak left), freed heap memory
    /// goes back to the kernel: RSS follows the load down instead of staying at its high mark.
    private func trimAfterBurst() {
        if idleBytesReleased >= Worker.trimReleasedBytes {
            // Quiet connections gave their burst buffers back (see `idleBytesReleased`).
            idleBytesReleased = 0
            _ = sy_malloc_trim()
            return
        }
        if relaysSettled() {
            _ = sy_malloc_trim()
            return
        }
        let open = connections.count + http2Connections.count + spliceRelays.count
        connectionPeak = max(connectionPeak, open)
        guard connectionPeak >= Worker.trimBurstSize, open <= connectionPeak / 2 else { return }
        connectionPeak = open
        _ = sy_malloc_trim()
    }
    static let trimBurstSize = 64

    /// A connection that moved into the kernel relay left its exchange, client connection and
    /// streams behind (~8 KB each, freed), and keeps nothing on the heap of its own: once relays
    /// stop starting for a second (or every `trimBurstSize * 4`), those pages can go back.
    private func relaysSettled() -> Bool {
        let started = spliceRelays.startedSinceTrim
        defer { relaysStartedAtLastTick = spliceRelays.startedSinceTrim }
        guard started > 0, started == relaysStartedAtLastTick || started >= Worker.trimBurstSize * 4 else { return false }
        spliceRelays.startedSinceTrim = 0
        return true
    }
    private var relaysStartedAtLastTick = 0

    /// Bytes quiet connections returned to the allocator since the heap was last trimmed. Freed
    /// buffers between live connections' small objects stay in RSS until trimmed: a thousand
    /// WebSockets that each grew a read buffer for their handshake would otherwise keep it.
    var idleBytesReleased = 0
    static let trimReleasedBytes = 1 << 20

    // MARK: connections

    var canAccept: Bool {
        !isStopping && (server.maxConnections == 0 || serverInstance.connectionCount.load() < server.maxConnections)
    }

    func accepted(fd: Int32, remote: SocketAddress?, listener: ListenerInfo) {
        if remote?.family != AF_UNIX { Socket.setNoDelay(fd) }
        let transport: ByteTransport
        if let slot = listener.tls {
            do { transport = try TLSTransport(fd: fd, context: slot.context) } catch {
                errorLog.error("tls", "\(remote?.description ?? "client"): \(error)")
                close(fd)
                return
            }
        } else {
            transport = SocketTransport(fd: fd)
        }
        let c = HTTP1Connection(transport: transport, worker: self, remote: remote, listener: listener)
        do {
            try c.start()
        } catch {
            c.close()   // not in the table yet: this only closes its stream
            return
        }
        connections[fd] = c
        stats.acceptedConnections += 1
        if connections.count > connectionPeak { connectionPeak = connections.count }
        serverInstance.connectionCount.add(1)
    }

    func connectionClosed(_ c: HTTP1Connection) {
        forget(c)
    }

    /// The connection's socket moved to a splice relay; the count moves with it (see relayClosed).
    func connectionDetached(_ c: HTTP1Connection) {
        if connections[c.fd] === c { connections[c.fd] = nil }
    }

    /// The HTTP/1.1 connection handed its stream to HTTP/2: the count moves with it.
    func connectionSwitchedToHTTP2(_ old: HTTP1Connection, _ new: HTTP2Connection) {
        if connections[old.fd] === old { connections[old.fd] = nil }
        http2Connections[new.fd] = new
    }

    func http2ConnectionClosed(_ c: HTTP2Connection) {
        if http2Connections[c.fd] === c {
            http2Connections[c.fd] = nil
            released()
        }
    }

    /// A splice relay closed; its connection's count goes (see `connectionDetached`).
    func relayClosed() { released() }

    private func forget(_ c: HTTP1Connection) {
        if connections[c.fd] === c {
            connections[c.fd] = nil
            released()
        }
    }

    private func released() {
        serverInstance.connectionCount.add(-1)
        for l in listeners where l.paused && canAccept { l.resume() }
        if isStopping && connections.isEmpty && http2Connections.isEmpty && spliceRelays.isEmpty { loop.defer_ { [unowned self] in self.finishStop() } }
    }

    // MARK: response heads

    /// Appends "Date: <now>\r\n" and, unless the handler sent its own, the "Server:" line. Both
    /// are kept as one block rebuilt when the second changes: every response carries them.
    func appendDateAndServer(to out: ByteBuffer, includingServer: Bool) {
        let now = loop.wallSeconds
        if now != dateLinesSecond { rebuildDateLines(now) }
        dateLines.withUnsafeBytes { block in
            out.append(includingServer ? block : UnsafeRawBufferPointer(rebasing: block[..<dateLineLength]))
        }
    }

    private func rebuildDateLines(_ now: Int) {
        dateLinesSecond = now
        dateLinesGeneration &+= 1
        dateLines.removeAll(keepingCapacity: true)
        dateLines.append(contentsOf: HeaderName.datePrefix)
        dateLines.append(contentsOf: dateCache.bytes(at: now))
        dateLines.append(contentsOf: HeaderName.crlf)
        dateLineLength = dateLines.count
        dateLines.append(contentsOf: serverTagLine)
    }

    /// Makes `entry.http1Answer` current: the whole plain HTTP/1.1 keep-alive 200 with the entry's
    /// cached file (status line, its cached fields, Date and Server, Content-Length, the empty line,
    /// and the bytes of a small file). The answer is a function of the entry and this block, so the
    /// entry keeps it until the block is rebuilt (the next second, or a reload's new tag): a small
    /// file asked for again within the second costs one send of ready bytes instead of assembling
    /// five parts and copying the file behind them. False when the cache had no room to keep it.
    func prepareStaticAnswer(of entry: StaticFileEntry) -> Bool {
        let now = loop.wallSeconds
        if now != dateLinesSecond { rebuildDateLines(now) }
        if entry.http1AnswerGeneration == dateLinesGeneration { return true }
        guard let body = entry.body else { return false }
        let withBody = body.count <= StaticFileEntry.answerBodyLimit
        let answer = ByteBuffer(capacity: 512 + (withBody ? body.count : 0))
        answer.append(HeaderName.standardStatusLine(200)!)
        answer.append(entry.fields.full)
        dateLines.withUnsafeBytes { answer.append($0) }
        HeaderName.appendHeadEnd(contentLength: entry.validator.size, connectionLine: nil, to: answer)
        let headLength = answer.readableBytes
        if withBody { answer.append(body) }
        return fileCache.keepAnswer(Array(answer.readable), headLength: headLength, generation: dateLinesGeneration, for: entry)
    }
    private var dateLinesSecond = Int.min
    /// Counts rebuilds of `dateLines`: what a kept static answer (`prepareStaticAnswer`) was made from.
    private var dateLinesGeneration = 0
    private var dateLines: [UInt8] = []
    private var dateLineLength = 0

    // MARK: settings

    /// Settings for a request, cached per distinct set of matching conditionals. nil (and an error
    /// logged) when that combination of conditionals does not resolve: start-up validates each
    /// conditional on its own, so two blocks can still combine into an invalid set. The request
    /// then gets a 500; falling back to the global settings would silently drop what the
    /// conditionals meant to restrict.
    func settings(for input: ConditionInput) -> RequestSettings? {
        guard let mask = config.document.matchingMask(input) else { return settings(matching: config.document.matchingContexts(input)) }
        // Most requests of a keep-alive connection, or of a benchmark, fall in the same blocks.
        if let last = lastMaskSettings, last.mask == mask { return last.settings }
        let s = settingsByMask[mask] ?? settings(matching: ConfigDocument.contextIndices(of: mask))
        if let s {
            settingsByMask[mask] = s
            lastMaskSettings = (mask, s)
        }
        return s
    }

    private func settings(matching: [Int]) -> RequestSettings? {
        if let s = settingsCache[matching] { return s }
        do {
            let s = try config.resolver.resolve(matching: matching)
            settingsCache[matching] = s
            return s
        } catch {
            errorLog.error("config", "settings of the matching conditionals cannot be resolved: \(error): 500")
            return nil
        }
    }

    // MARK: logs

    /// One line in lighttpd's default format. `protocolName`: what the client spoke when it was not
    /// the request head's own HTTP/1.x ("HTTP/2.0" for a stream, as lighttpd logs it).
    func accessLog(remote: SocketAddress?, request: HTTPRequestHead, status: Int, bytes: Int, durationNs: UInt64,
                   protocolName: String? = nil) {
        guard accessLogFile != nil else { return }
        func q(_ s: String?) -> String {
            guard let s, !s.isEmpty else { return "-" }
            return s.replacingAll("\"", with: "\\\"")
        }
        let line = "\(remote?.host ?? "-") \(request.host ?? "-") - \(AccessLog.clfTime(loop.wallSeconds)) \"\(request.method) \(request.target) \(protocolName ?? (request.version == .http1_0 ? "HTTP/1.0" : "HTTP/1.1"))\" \(status) \(bytes) \"\(q(request.headers.first("Referer")))\" \"\(q(request.headers.first("User-Agent")))\" \(durationNs / 1000)\n"
        accessBuffer.append(contentsOf: line.utf8)
        if accessBuffer.count > 8192 { flushAccessLog() }
    }

    func flushAccessLog() {
        guard !accessBuffer.isEmpty, let log = accessLogFile else { return }
        log.write(accessBuffer)
        accessBuffer.removeAll(keepingCapacity: true)
    }

    // MARK: shutdown

    /// Stop accepting, let in-flight requests finish, close idle keep-alive connections, and stop the
    /// loop when nothing is left or the grace period is over.
    func beginStop(grace: Int) {
        if isStopping {
            if grace == 0 { finishStop() }   // a second stop signal: now
            return
        }
        isStopping = true
        stopDeadline = Seconds.deadline(loop.now, plus: grace)
        for l in listeners { l.closeListener() }
        listeners.removeAll()
        for c in Array(connections.values) where c.isIdleForShutdown { c.close() }
        for c in Array(http2Connections.values) {
            if c.isIdleForShutdown { c.close() } else { c.beginStop() }
        }
        if connections.isEmpty && http2Connections.isEmpty && spliceRelays.isEmpty { finishStop(); return }
        // Upgraded streams never end by themselves: shortly before the deadline their backends see
        // the end of their input, so each program can send its own close before the client is cut.
        let backendFirst = max(0, Double(grace) - Worker.upgradedCloseLead)
        loop.schedule(afterSeconds: backendFirst) { [unowned self] in
            guard !self.stopped else { return }
            for c in Array(self.connections.values) { c.endUpgradedInput() }
            for c in Array(self.http2Connections.values) { c.endUpgradedInput() }
            self.spliceRelays.closeBackendInputs()
        }
    }

    /// How long before the stop deadline upgraded backends get EOF on their input.
    static let upgradedCloseLead = 2.0

    private var stopped = false
    private func finishStop() {
        guard !stopped else { return }
        stopped = true
        for c in Array(connections.values) { c.clientVanished() }
        for c in Array(http2Connections.values) { c.clientVanished() }
        spliceRelays.closeAll()
        cgisAtStop = cgiChildren.stopAll()
        backends.shutdown()
        flushAccessLog()
        loop.stop()
        onStopped?()
    }
}

extension String {
    func replacingAll(_ target: Character, with replacement: String) -> String {
        guard contains(target) else { return self }
        var out = ""
        for ch in self { if ch == target { out += replacement } else { out.append(ch) } }
        return out
    }
}

/// A counter shared between worker threads.
final class AtomicCounter: Sendable {
    private let value = Atomic<Int>(0)
    func add(_ d: Int) { value.add(d, ordering: .relaxed) }
    func load() -> Int { value.load(ordering: .relaxed) }
}
