import Glibc
import SwitchyardOS
import SwitchyardHTTP

/// One HTTP/1.1 client connection: the transport, the sans-I/O request parser, and the exchange
/// (`HTTP1Exchange`) currently being served. Requests are served one at a time: while an exchange
/// runs, the parser is not asked for the next head, so pipelined responses leave in order and a
/// pipelining client cannot make the gateway buffer answers. Keep-alive, read pause/resume, the
/// lingering close, the timers and the teardown live here; everything about one request lives in
/// the exchange. Handlers never see this class.
final class HTTP1Connection: EventHandler {
    enum State {
        case awaitingHead   // between requests: waiting for (more of) a request head
        case exchange       // `exchange` is running (reading its body or producing its answer)
        case upgraded       // after 101: raw relay between the client and `exchange`'s handler
        case closing        // the last response is queued; close (lingering) once it is flushed
        case lingering      // last response sent, draining input before close
        case closed
    }

    /// The client's descriptor: the event loop's key for this connection (readiness, addresses).
    /// Bytes never move on it directly: they go through `transport`.
    let fd: Int32
    let transport: ByteTransport
    /// Strong: the worker keeps its connections in a table and drops them when they close, so
    /// this makes no lasting cycle, and it spares the atomic check an `unowned` reference costs
    /// on each of the many accesses per request.
    let worker: Worker
    let peer: ClientPeer
    /// Who answers each request (the worker's `Router`; a test can put its own handlers here).
    let routing: any ExchangeRouting
    /// Set only here and in the I/O region (`HTTP1Connection+IO.swift`).
    var state: State = .awaitingHead
    /// The request being served (also while upgraded); nil between requests.
    private(set) var exchange: HTTP1Exchange?
    /// The exchange served last, kept for `makeExchange` to reuse.
    private var previousExchange: HTTP1Exchange?

    let input = ByteBuffer(capacity: 4096)
    let output = OutputQueue()
    private var parser: HTTPRequestParser
    private var requestCount = 0
    var closeWhenFlushed = false
    var readPaused = false
    var clientEOF = false
    /// Inside `process()`: a response finished there continues the loop instead of deferring.
    var inProcess = false

    // Timeout bookkeeping (monotonic ns).
    private var headStarted: UInt64
    var lastRead: UInt64
    var lastWriteProgress: UInt64
    var lingerDeadline: UInt64 = 0
    /// When the client's FIN arrived on an upgraded connection (0: not yet).
    var upgradedEOFAt: UInt64 = 0
    var upgradedReadFilled = false
    var wantOutput = false
    var wantInput = true

    static let highWatermark = 256 * 1024
    static let lowWatermark = 64 * 1024

    init(transport: ByteTransport, worker: Worker, remote: SocketAddress?, listener: ListenerInfo,
         routing: (any ExchangeRouting)? = nil) {
        self.fd = transport.descriptor
        self.transport = transport
        self.worker = worker
        self.peer = ClientPeer(fd: transport.descriptor, remote: remote, listener: listener)
        self.routing = routing ?? worker.router
        self.parser = HTTPRequestParser(limits: worker.parserLimits)
        let now = worker.loop.now
        headStarted = now
        lastRead = now
        lastWriteProgress = now
    }

    func start() throws {
        try worker.loop.register(fd: fd, events: .input, handler: self)
    }

    var isOpen: Bool { state != .closed }

    // MARK: request parsing

    /// Parses as much buffered input as the current state allows: a new head only between
    /// exchanges (and while the client is keeping up with its answers), body bytes for the
    /// running exchange until it pauses.
    func process() {
        inProcess = true
        defer { inProcess = false }
        while true {
            switch state {
            case .awaitingHead:
                if input.isEmpty || output.hasFile || output.backlog > HTTP1Connection.highWatermark { return }
            case .exchange:
                guard let ex = exchange, ex.phase == .readingBody, !readPaused else { return }
            case .upgraded, .closing, .lingering, .closed:
                return
            }
            let readable = input.readable
            switch parser.parseStep(readable) {
            case .failure(let error):
                requestFailed(error)
                return
            case .needMoreData(let consumed):
                input.consume(consumed)
                if consumed == 0 || input.isEmpty { return }
            case .head(let head, let consumed):
                input.consume(consumed)
                let hasBody = (head.contentLength ?? 0) > 0 || head.isChunked
                if !hasBody {
                    // A body-less message ends right after its head; take that event now so the
                    // parser is ready for the next pipelined request.
                    if case .end(let used) = parser.parseStep(input.readable) { input.consume(used) }
                }
                beginExchange(head, hasBody: hasBody)
            case .body(let range, let consumed):
                guard let ex = exchange else { input.consume(consumed); continue }
                let more = ex.receiveBody(UnsafeRawBufferPointer(rebasing: readable[range]))
                input.consume(consumed)
                if !more && exchange === ex { pauseReading() }
            case .end(let consumed):
                input.consume(consumed)
                exchange?.bodyEnded()
            }
        }
    }

    private func beginExchange(_ head: HTTPRequestHead, hasBody: Bool) {
        requestCount += 1
        output.resetCounter()
        let keepAlive = head.keepAlive && requestCount < worker.server.maxKeepAliveRequests && !worker.isStopping
        let ex = makeExchange(head, hasBody: hasBody, keepAlive: keepAlive)
        exchange = ex
        state = .exchange
        ex.start(hasBody: hasBody)
    }

    /// A new exchange, or the previous one when nothing but this connection references it any
    /// more (then no handler can reach it): a keep-alive client's requests, static ones above
    /// all, then cost no allocation and no deinit each.
    private func makeExchange(_ head: HTTPRequestHead, hasBody: Bool, keepAlive: Bool) -> HTTP1Exchange {
        if var ex = previousExchange {
            previousExchange = nil
            if isKnownUniquelyReferenced(&ex) {
                ex.reuse(connection: self, head: head, hasBody: hasBody, keepAlive: keepAlive)
                return ex
            }
        }
        return HTTP1Exchange(connection: self, head: head, hasBody: hasBody, keepAlive: keepAlive)
    }

    /// The parser rejected the input: the running exchange fails, or, between requests, an
    /// exchange without a request head carries the error answer.
    private func requestFailed(_ error: HTTPParseError) {
        (exchange ?? headlessExchange()).fail(error)
    }

    /// An exchange for an answer that has no request (a head that never completed or parsed).
    private func headlessExchange() -> HTTP1Exchange {
        let ex = HTTP1Exchange(connection: self, head: nil, hasBody: false, keepAlive: false)
        exchange = ex
        state = .exchange
        return ex
    }

    // MARK: told by the exchange

    /// The exchange is over (answered, aborted, or failed): the next request may start, or the
    /// connection closes once the answer is out.
    func exchangeEnded(_ ex: HTTP1Exchange) {
        guard ex === exchange else { return }
        if state == .upgraded { closeAfterFlush(); return }
        guard state == .exchange else { return }
        _ = releaseExchange()
        if !ex.keepAlive {
            closeAfterFlush()
            return
        }
        state = .awaitingHead
        headStarted = worker.loop.now
        flushOutput()
        if state == .awaitingHead && !output.hasFile && !inProcess {
            worker.loop.defer_ { self.resumeAfterResponse() }
        }
    }

    /// Runs deferred to the end of the loop iteration. Those deferred calls capture the connection
    /// strongly: they run soon, they check the state first, and a weak capture would give the
    /// connection a side table, slowing every later reference-count operation on it.
    func resumeAfterResponse() {
        guard state == .awaitingHead, exchange == nil else { return }
        if readPaused { resumeReading() }
        process()
    }

    /// The 101 head is queued: the connection becomes a raw relay for the exchange. Bytes the
    /// client sent after the request head (already buffered) go to the handler right away.
    func exchangeUpgraded() {
        state = .upgraded
        flushOutput()
        if !input.isEmpty { worker.loop.defer_ { self.deliverUpgraded() } }
    }

    func deliverUpgraded() {
        guard state == .upgraded, let ex = exchange, !input.isEmpty else { return }
        let more = ex.upgradedData(input.readable)
        input.consume(input.readableBytes)
        if !more { pauseReading() }
    }

    /// No further request on this connection: send what is queued, then close.
    func closeAfterFlush() {
        if state == .exchange || state == .awaitingHead { state = .closing }
        closeWhenFlushed = true
        flushOutput()
    }

    /// A splice relay could take the client over: the transport has a kernel path and nothing
    /// but plain bytes is queued for the client.
    var canDetachForRelay: Bool {
        state == .upgraded && !output.hasFile && transport.kernelPath != nil
    }

    /// Lets a splice relay take the socket over: no more reads or writes here.
    func detachForRelay() -> (fd: Int32, pendingInput: ByteBuffer, pendingOutput: ByteBuffer)? {
        guard canDetachForRelay, let kernel = transport.kernelPath else { return nil }
        worker.loop.unregister(fd: fd)
        state = .closed
        releaseExchange()?.detach()
        worker.connectionDetached(self)
        return (kernel.detachDescriptor(), input, output.bytes)
    }

    /// Lets go of the current exchange and cuts its link back here. The only place `exchange`
    /// is cleared, so no exchange keeps its connection (and itself) alive past its request.
    private func releaseExchange() -> HTTP1Exchange? {
        let ex = exchange
        exchange = nil
        ex?.connection = nil
        previousExchange = ex
        return ex
    }

    // MARK: teardown

    func clientVanished() {
        if state == .closed { return }
        close()
    }

    func close() {
        guard state != .closed else { return }
        state = .closed
        releaseExchange()?.connectionClosing()
        output.discard()
        worker.loop.unregister(fd: fd)
        transport.close()
        worker.connectionClosed(self)
    }

    /// Called once a second by the worker.
    func tick(now: UInt64) {
        let server = worker.server
        switch state {
        case .awaitingHead:
            // An idle connection does not keep its last request (head and all) for reuse.
            previousExchange = nil
            let idleLimit = Seconds.nanoseconds(requestCount == 0 || !input.isEmpty ? server.maxReadIdle : server.maxKeepAliveIdle)
            if output.isEmpty && now - headStarted > idleLimit {
                if input.isEmpty && parser.isIdle {
                    close()
                } else {
                    worker.errorLog.info(peer.description, "request head not complete after \(server.maxReadIdle) s (server.max-read-idle): 408")
                    headlessExchange().sendError(408, close: true)
                }
                return
            }
        case .exchange:
            if exchange?.phase == .readingBody && !readPaused && now - lastRead > Seconds.nanoseconds(server.maxReadIdle) {
                worker.errorLog.info(peer.description, "request body stalled for \(server.maxReadIdle) s (server.max-read-idle)")
                exchange?.bodyTimedOut()
                return
            }
        case .lingering:
            if now > lingerDeadline { close(); return }
        case .upgraded:
            if upgradedTick(now: now) { return }
        case .closing, .closed:
            break
        }
        if !output.isEmpty && now - lastWriteProgress > Seconds.nanoseconds(server.maxWriteIdle) {
            worker.errorLog.info(peer.description, "client did not read for \(server.maxWriteIdle) s (server.max-write-idle): closing")
            clientVanished()
            return
        }
        exchange?.tick(now: now)
    }

    /// The upgraded stream's timers; true when the connection was closed.
    private func upgradedTick(now: UInt64) -> Bool {
        if upgradedEOFAt > 0 && now - upgradedEOFAt > SpliceRelay.clientGoneGrace {
            worker.errorLog.info(peer.description, "the client closed its upgraded stream and the backend did not finish within \(SpliceRelay.clientGoneGrace / 1_000_000_000) s: aborting it")
            clientVanished()
            return true
        }
        // A quiet WebSocket gives its buffers back (a thousand idle connections stay small);
        // the next message grows them again, from 1 KiB up.
        if now - lastRead > 2_000_000_000 {
            if input.isEmpty { input.shrinkIfIdle(to: 64) }
            if output.isEmpty { output.bytes.shrinkIfIdle(to: 64) }
        }
        return false
    }

    /// Graceful stop, first step for an upgraded stream: the backend sees the end of its input and
    /// may still send its own closing bytes (a WebSocket CLOSE frame) before the client is closed.
    func endUpgradedInput() {
        guard state == .upgraded, upgradedEOFAt == 0 else { return }
        upgradedEOFAt = worker.loop.now
        exchange?.upgradedClientEOF()
    }

    var isIdleForShutdown: Bool {
        state == .awaitingHead && exchange == nil && output.isEmpty && input.isEmpty
    }
}
