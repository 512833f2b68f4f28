import Glibc
import SwitchyardOS
import SwitchyardHTTP

/// One HTTP/1.1 client connection: a `BufferedStream` over the client's transport, the sans-I/O
/// request parser, and the exchange (`HTTP1Exchange`) currently being served. Requests are served one at a time: while an exchange
/// runs, the parser is not asked for the next head, so pipelined responses leave in order and a
/// pipelining client cannot make the gateway buffer answers. Keep-alive, when to pause reading,
/// when to close and the protocol's deadlines live here; the stream moves the bytes and keeps the
/// I/O timers; everything about one request lives in the exchange. Handlers never see this class.
final class HTTP1Connection {
    enum State {
        case awaitingHead   // between requests: waiting for (more of) a request head
        case exchange       // `exchange` is running (reading its body or producing its answer)
        case upgraded       // after 101: raw relay between the client and `exchange`'s handler
        case closing        // the last response is queued; the stream flushes, lingers, closes
        case closed
    }

    /// The client's descriptor: the worker's key for this connection (and its addresses).
    /// Bytes never move on it directly: they go through `stream` and its transport.
    let fd: Int32
    /// Reading, writing (file regions included), backpressure, half-close, the lingering close
    /// and the idle/write-progress timers. Its `owner` is this connection (strong, cut in `close`).
    let stream: BufferedStream
    var transport: ByteTransport { stream.transport }
    /// Strong: the worker keeps its connections in a table and drops them when they close, so
    /// this makes no lasting cycle, and it spares the atomic check an `unowned` reference costs
    /// on each of the many accesses per request.
    let worker: Worker
    let peer: ClientPeer
    /// Who answers each request (the worker's `Router`; a test can put its own handlers here).
    let routing: any ExchangeRouting
    /// `routing` is the worker's `Router`, so its static route memo speaks for it.
    private let routesWithWorkerRouter: Bool
    /// Set only here and in the I/O region (`HTTP1Connection+IO.swift`).
    var state: State = .awaitingHead
    /// The request being served (also while upgraded); nil between requests.
    private(set) var exchange: HTTP1Exchange?
    /// The exchange served last, kept for `makeExchange` to reuse.
    private var previousExchange: HTTP1Exchange?

    /// The stream's buffers, held here too so the hot path needs no trip through `stream`.
    let input: ByteBuffer
    let output: OutputQueue
    private var parser: HTTPRequestParser
    private(set) var requestCount = 0
    /// Inside `process()`: a response finished there continues the loop instead of deferring.
    var inProcess = false

    // Timeout bookkeeping (monotonic ns).
    private var headStarted: UInt64
    var lastRead: UInt64
    /// The route whose open-upgraded gauge this connection holds (and whose bytes it counts).
    private(set) var upgradedStats: RouteStats?
    /// When the client's FIN arrived on an upgraded connection (0: not yet).
    var upgradedEOFAt: UInt64 = 0

    static let highWatermark = 256 * 1024
    static let lowWatermark = 64 * 1024
    /// Seconds a closing connection keeps draining the client's input after our FIN.
    static let lingerSeconds = 2.0

    init(transport: ByteTransport, worker: Worker, remote: SocketAddress?, listener: ListenerInfo,
         routing: (any ExchangeRouting)? = nil) {
        self.fd = transport.descriptor
        self.stream = BufferedStream(transport: transport, loop: worker.loop, options: worker.clientStreamOptions)
        self.input = stream.input
        self.output = stream.output
        self.worker = worker
        self.peer = ClientPeer(fd: transport.descriptor, remote: remote, listener: listener, tls: transport as? TLSTransport)
        self.routing = routing ?? worker.router
        self.routesWithWorkerRouter = routing == nil
        self.parser = HTTPRequestParser(limits: worker.parserLimits)
        let now = worker.loop.now
        headStarted = now
        lastRead = now
        stream.owner = self
    }

    /// Joins the loop; on failure the caller closes the connection (`close()`).
    func start() throws {
        try stream.start()
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
                if input.isEmpty { return }
                if requestCount == 0 {
                    switch http2Choice() {
                    case .http1: break
                    case .wait: return
                    case .http2: switchToHTTP2(); return
                    }
                }
                if output.hasFile || output.backlog > HTTP1Connection.highWatermark {
                    // The client is behind: the next head waits until the answers are out.
                    stream.requestDrainNotice()
                    return
                }
            case .exchange:
                guard let ex = exchange, ex.phase == .readingBody, !readPaused else { return }
            case .upgraded, .closing, .closed:
                return
            }
            let readable = input.readable
            switch parser.parseStep(readable, memo: &worker.requestHeadMemo) {
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
                    if case .end(let used) = parser.parseStep(input.readable, memo: &worker.requestHeadMemo) { input.consume(used) }
                }
                if head.upgrade != nil && upgradeToH2C(head, hasBody: hasBody) { return }
                beginExchange(head, hasBody: hasBody)
            case .body(let range, let consumed):
                guard let ex = exchange else { input.consume(consumed); continue }
                let more = ex.receiveBody(UnsafeRawBufferPointer(rebasing: readable[range]))
                // The body may have ended the connection (413 past a scope's max-request-size):
                // its input was discarded then, and there is nothing left to consume.
                if state == .closing || state == .closed { return }
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
        worker.stats.requests += 1
        worker.stats.bytesSent += output.bytesWritten   // what the previous request wrote
        output.resetCounter()
        let keepAlive = head.keepAlive && requestCount < worker.server.maxKeepAliveRequests && !worker.isStopping
        if keepAlive && !hasBody && answerRepeatedStaticRequest(head) { return }
        let ex = makeExchange(head, hasBody: hasBody, keepAlive: keepAlive)
        exchange = ex
        state = .exchange
        ex.start(hasBody: hasBody)
    }

    /// A keep-alive HTTP/1.1 request that the router's static route memo would send to a cached
    /// file whose plain 200 is the whole answer (`StaticFileHandler.wholeCachedAnswer`): the
    /// file's kept head and bytes go out from here, without an exchange, a route and a handler —
    /// the bytes, counters and timers the exchange would give. Not with an access log (every
    /// request then takes the exchange, which writes the line).
    private func answerRepeatedStaticRequest(_ head: HTTPRequestHead) -> Bool {
        guard routesWithWorkerRouter, head.version == .http1_1, worker.accessLogFile == nil,
              let context = worker.router.repeatedStaticContext(for: head, peer: peer),
              let entry = StaticFileHandler.wholeCachedAnswer(for: context, worker: worker),
              let body = entry.body, worker.prepareStaticAnswer(of: entry) else { return false }
        headStarted = worker.loop.now
        sendStaticAnswer(entry, body: body, isHead: context.plainMethod == .head)
        return true
    }

    /// Sends `entry`'s kept answer (`Worker.prepareStaticAnswer`, current): its head alone for a
    /// HEAD, else the head with the file's bytes — from the entry in one send when they are part of
    /// it, else with the body queued behind the head (by reference when large).
    func sendStaticAnswer(_ entry: StaticFileEntry, body: [UInt8], isHead: Bool) {
        if isHead {
            entry.http1Answer.withUnsafeBytes { writeOutput(UnsafeRawBufferPointer(rebasing: $0[..<entry.http1HeadLength])) }
        } else if entry.answerHasBody {
            entry.http1Answer.withUnsafeBytes { writeOutput($0) }
        } else {
            entry.http1Answer.withUnsafeBytes { output.bytes.append($0) }
            output.appendBytes(of: body, offset: 0, count: body.count)
            flushOutput()
        }
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
        guard state == .awaitingHead, !inProcess else { return }
        if !output.hasFile {
            worker.loop.defer_ { self.resumeAfterResponse() }
        } else if !input.isEmpty {
            stream.requestDrainNotice()   // pipelined input waits for the file region to go
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
    func exchangeUpgraded(stats: RouteStats?) {
        state = .upgraded
        upgradedStats = stats
        // Reads into 4 KiB until one fills the buffer (see `streamHasInput`).
        stream.options.readSize = HTTP1Connection.upgradedQuietRead
        flushOutput()
        // The handshake's buffers (a KiB each way) go back at once, not after two quiet seconds:
        // a burst of upgrades otherwise leaves each connection's long-lived objects interleaved
        // with freed KiB holes, pages the allocator cannot give back.
        worker.idleBytesReleased += stream.shrinkIdleBuffers(to: 0)
        if !input.isEmpty { worker.loop.defer_ { self.deliverUpgraded() } }
    }

    func deliverUpgraded() {
        guard state == .upgraded, let ex = exchange, !input.isEmpty else { return }
        upgradedStats?.bytesFromClients += input.readableBytes
        let more = ex.upgradedData(input.readable)
        input.consume(input.readableBytes)
        if !more { pauseReading() }
    }

    /// No further request on this connection: send what is queued, half-close, drain what the
    /// client still sends for a moment (so its unread data does not turn into a reset that eats
    /// our response), then close. An upgraded stream or a client that already sent its FIN closes
    /// as soon as the output is out.
    func closeAfterFlush() {
        guard state != .closed else { return }
        if state == .exchange || state == .awaitingHead { state = .closing }
        let linger = state == .upgraded || stream.isInputClosed ? 0 : HTTP1Connection.lingerSeconds
        stream.closeAfterFlush(linger: linger)
        if stream.isClosed { close() }
    }

    /// A splice relay could take the client over: the transport has a kernel path and nothing
    /// but plain bytes is queued for the client.
    var canDetachForRelay: Bool {
        state == .upgraded && !output.hasFile && !stream.isClosed && transport.kernelPath?.canDetachDescriptor == true
    }

    /// Lets a splice relay take the socket over (the stream's `detach`): no more reads or writes here.
    func detachForRelay() -> (fd: Int32, pendingInput: ByteBuffer, pendingOutput: ByteBuffer)? {
        guard canDetachForRelay, let fds = stream.detach() else { return nil }
        state = .closed
        upgradedStats = nil   // the relay holds the gauge now (`SpliceRelay.stats`)
        worker.stats.bytesSent += output.bytesWritten
        output.resetCounter()
        stream.owner = nil
        releaseExchange()?.detach()
        worker.connectionDetached(self)
        return (fds.input, input, output.bytes)
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

    /// Ends at once: the handler is stopped, queued output dropped, the stream closed (if it has
    /// not closed itself), and the link from the stream back here cut.
    func close() {
        guard state != .closed else { return }
        state = .closed
        if let stats = upgradedStats {
            stats.openUpgraded -= 1
            stats.bytesToClients -= output.backlog   // counted when queued; dropped unsent now
            upgradedStats = nil
        }
        releaseExchange()?.connectionClosing()
        worker.stats.bytesSent += output.bytesWritten
        output.resetCounter()
        stream.owner = nil
        stream.close()
        output.discard()   // also what a handler queued after the stream closed itself
        worker.connectionClosed(self)
    }

    /// Called once a second by the worker: the protocol's own deadlines (a request head that
    /// does not complete, an upgraded stream's end) and the handler's. Idleness and write
    /// progress are the stream's timers (`streamIsIdle`, `streamDidClose`).
    func tick(now: UInt64) {
        switch state {
        case .awaitingHead:
            // An idle connection does not keep its last request (head and all) for reuse.
            previousExchange = nil
            if requestCount == 0 && handshakeTimedOut(now: now) { return }
            // A head trickling in (slowloris) counts from when it was awaited, not from its last byte.
            if !(input.isEmpty && parser.isIdle) && headTimedOut(idleFor: now - headStarted) { return }
        case .upgraded:
            if upgradedTick(now: now) { return }
        case .exchange, .closing, .closed:
            break
        }
        exchange?.tick(now: now)
    }

    /// Between requests: closes an idle connection, or answers 408 to a head that did not
    /// complete in time. True when the limit was reached.
    func headTimedOut(idleFor elapsed: UInt64) -> Bool {
        let server = worker.server
        let limit = requestCount == 0 || !input.isEmpty ? server.maxReadIdle : server.maxKeepAliveIdle
        guard output.isEmpty, elapsed > Seconds.nanoseconds(limit) else { return false }
        if input.isEmpty && parser.isIdle {
            close()
        } else {
            worker.errorLog.info(peer.description, "request head not complete after \(limit) s (server.max-read-idle): 408")
            headlessExchange().sendError(408, close: true)
        }
        return true
    }

    /// A TLS handshake gets `handshakeSeconds` (at most server.max-read-idle) from the accept: a
    /// client that sends half a ClientHello, or nothing, and stalls is closed then. True when closed.
    func handshakeTimedOut(now: UInt64) -> Bool {
        guard let tls = peer.tls, !tls.isHandshakeComplete else { return false }
        let limit = min(HTTP1Connection.handshakeSeconds, worker.server.maxReadIdle)
        guard now &- headStarted > Seconds.nanoseconds(limit) else { return false }
        worker.logTLSFailure(peer.description, "TLS handshake not complete after \(limit) s: closing")
        close()
        return true
    }
    static let handshakeSeconds = 10

    /// The upgraded stream's timers; true when the connection was closed.
    private func upgradedTick(now: UInt64) -> Bool {
        if upgradedEOFAt > 0 && now - upgradedEOFAt > SpliceRelay.clientGoneGrace {
            worker.errorLog.info(peer.description, "the client closed its upgraded stream and the backend did not finish within \(SpliceRelay.clientGoneGrace / 1_000_000_000) s: aborting it")
            clientVanished()
            return true
        }
        // A quiet WebSocket gives its buffers back (a thousand idle connections stay small);
        // the next message grows them again, from 4 KiB reads up.
        if now - lastRead > 2_000_000_000 {
            worker.idleBytesReleased += stream.shrinkIdleBuffers(to: 0)
            stream.options.readSize = HTTP1Connection.upgradedQuietRead
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
