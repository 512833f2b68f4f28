import Glibc
import SwitchyardOS
import SwitchyardHTTP

/// One request on an HTTP/1.1 connection, from its head to the end of its response (or, after a
/// `101`, the end of the two-way byte stream it became). It is the `ClientExchange` handlers talk
/// to: the request, body events, the response head and body, and the upgrade. The connection
/// (`HTTP1Connection`) keeps the bytes moving and decides when the next request may start.
///
/// The split follows lighttpd's `request_st` / connection and h2o's `h2o_req_t`: what belongs to a
/// request lives here, so an HTTP/2 stream can implement `ClientExchange` beside it, and a handler
/// that outlives its request (a backend callback after the client left) reaches a finished
/// exchange whose calls do nothing — never the next request on the same connection.
final class HTTP1Exchange: ClientExchange {
    enum Phase {
        case readingBody    // handler active, request body still arriving
        case responding     // body complete (or none), handler producing the response
        case upgraded       // after 101: raw bytes both ways
        case done           // response complete, aborted, or the connection closed
    }

    /// The connection while this exchange is its current one; the connection cuts this link
    /// itself (`HTTP1Connection.releaseExchange`) the moment it lets go of the exchange, so it
    /// never dangles and the two never keep each other alive past the request. After that every
    /// call here finds nil and does nothing: a handler that outlives its request cannot reach
    /// the next request on the connection. (Strong and cut by the owner rather than `weak`: a
    /// weak reference gives the connection a side table, and every reference-count operation on
    /// it then takes the slow path — measured with callgrind at about 10 % of a small GET.)
    var connection: HTTP1Connection?
    let worker: Worker
    let peer: ClientPeer
    /// The connection's output queue, shared: the response is serialised straight into it.
    let output: OutputQueue
    /// Who answers: the connection's router, held here so routing needs no trip through `connection`.
    private let routing: any ExchangeRouting
    /// nil only for the error answer to a request whose head could not be parsed.
    private(set) var head: HTTPRequestHead?
    private(set) var phase: Phase
    private var handler: RequestHandler?
    /// The connection may carry another request after this one (decided by the request, then
    /// by the response framing and by how the handler ends).
    var keepAlive: Bool
    var isHeadRequest: Bool
    private(set) var responseStatus = 0
    var responseFraming: BodyFraming = .none
    var responseStarted = false
    /// A `100 Continue` went out (the connection's own, or a backend's relayed): never twice.
    var continueSent = false
    private(set) var responseFinished = false
    private var bodyBytesReceived = 0
    private var bodyLimit = 0
    private var startedAt: UInt64
    private var redirectHops = 0
    /// `setenv.*-response-header` of the request's scope, written into every head it answers with.
    var extraResponseHeaders: [(String, String)] = []
    /// Scratch for status lines without a ready-made form (rare: custom reasons).
    var headScratch: [UInt8] = []
    /// The counters of the route answering this request (`RoutedRequest.stats`).
    private(set) var routeStats: RouteStats?

    init(connection: HTTP1Connection, head: HTTPRequestHead?, hasBody: Bool, keepAlive: Bool) {
        self.connection = connection
        self.worker = connection.worker
        self.peer = connection.peer
        self.output = connection.output
        self.routing = connection.routing
        self.head = head
        self.phase = hasBody ? .readingBody : .responding
        self.keepAlive = keepAlive
        self.isHeadRequest = head?.method == "HEAD"
        self.startedAt = connection.worker.loop.now
    }

    /// Makes a finished exchange that nothing else references the next request's exchange
    /// (`HTTP1Connection.makeExchange`): every per-request field starts over, as in `init`.
    /// No handler can hold it, so no stale call can reach the new request through it.
    func reuse(connection: HTTP1Connection, head: HTTPRequestHead, hasBody: Bool, keepAlive: Bool) {
        self.connection = connection
        self.head = head
        phase = hasBody ? .readingBody : .responding
        handler = nil
        self.keepAlive = keepAlive
        isHeadRequest = head.method == "HEAD"
        responseStatus = 0
        responseFraming = .none
        responseStarted = false
        continueSent = false
        responseFinished = false
        bodyBytesReceived = 0
        bodyLimit = 0
        startedAt = worker.loop.now
        redirectHops = 0
        extraResponseHeaders = []
        routeStats = nil
    }

    // MARK: ClientExchange: who and what

    var request: HTTPRequestHead? { head }
    var remote: SocketAddress? { peer.remote }
    var local: SocketAddress? { peer.local }
    var remoteHost: String { peer.remoteHost }
    var localHost: String { peer.localHost }
    var listener: ListenerInfo { peer.listener }
    var tls: TLSTransport? { peer.tls }
    func hostWithoutPort(_ rawHost: String) -> String { peer.hostWithoutPort(rawHost) }
    var httpVersion: HTTPVersion { head?.version ?? .http1_1 }
    /// This exchange is the one its connection is serving (not finished, not cut off).
    private var isCurrent: Bool { connection != nil }

    // MARK: driven by the connection

    /// Routes the request and hands it to its responder. A static file is answered before this returns.
    func start(hasBody: Bool) {
        guard let head else { return }
        let route = routing.handler(for: head, connection: self)
        extraResponseHeaders = route.responseHeaders
        bodyLimit = route.bodyLimit
        if let stats = route.stats { stats.requests += 1; routeStats = stats }
        if hasBody && !route.wantsBody {
            // The answer does not depend on the body; it is not read, so the connection cannot be reused.
            keepAlive = false
        }
        if head.expectsContinue && hasBody && route.wantsBody {
            output.bytes.append("HTTP/1.1 100 Continue\r\n\r\n")
            continueSent = true
            connection?.flushOutput()
        }
        if let h = route.responder.begin(on: self, install: { handler = $0 }), !hasBody && handler === h && phase == .responding {
            h.requestBodyEnd()
        }
    }

    /// A piece of the (de-chunked) request body. False: stop reading until `resumeReading`, or
    /// the body went over its limit and a 413 is on its way.
    func receiveBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bodyBytesReceived += bytes.count
        if bodyLimit > 0 && bodyBytesReceived > bodyLimit {
            fail(HTTPParseError(status: 413, reason: "request body larger than server.max-request-size"))
            return false
        }
        return handler?.requestBody(bytes) ?? true
    }

    func bodyEnded() {
        guard phase == .readingBody else { return }
        phase = .responding
        handler?.requestBodyEnd()
    }

    /// After a 101: bytes from the client. False: pause reading.
    func upgradedData(_ bytes: UnsafeRawBufferPointer) -> Bool { handler?.upgradedData(bytes) ?? true }
    func upgradedClientEOF() { handler?.upgradedClientEOF() }
    func outputDrained() { handler?.outputDrained() }
    func tick(now: UInt64) { handler?.tick(now: now) }

    /// A bad request or an oversized body: answer with its status if nothing was sent yet, else cut.
    func fail(_ error: HTTPParseError) {
        worker.errorLog.info(peer.description, "bad request (\(error.status)): \(error.reason)")
        dropHandler()?.abort()
        keepAlive = false
        if responseStarted {
            end()
            return
        }
        sendError(error.status, close: true)
    }

    /// The request body stalled: 408 if the response has not started, else the client is cut off.
    func bodyTimedOut() {
        if responseStarted { connection?.clientVanished(); return }
        dropHandler()?.abort()
        sendError(408, close: true)
    }

    /// The connection is going away under this exchange: the handler is stopped and a response
    /// that was started but not completed is logged as it stands.
    func connectionClosing() {
        guard phase != .done else { return }
        phase = .done
        dropHandler()?.abort()
        if responseStarted && !responseFinished { logAccess() }
    }

    /// Lets go of the handler without telling it (a splice relay took the stream over).
    func detach() {
        phase = .done
        handler = nil
    }

    private func dropHandler() -> RequestHandler? {
        let h = handler
        handler = nil
        return h
    }

    // MARK: ClientExchange: ending

    /// The response is complete: writes the chunked terminator, logs, and lets the connection
    /// move on to the next request (or close).
    func finishResponse() {
        guard !responseFinished, phase != .done else { return }
        responseFinished = true
        if case .chunked = responseFraming { output.bytes.append(ChunkedEncoding.terminator) }
        if case .untilClose = responseFraming { keepAlive = false }
        logAccess()
        handler = nil
        if phase == .readingBody {
            // Answered before the body arrived; the rest of the body would be parsed as a request.
            keepAlive = false
        }
        end()
    }

    /// Backend failed after the head went out: the only honest signal left is closing the
    /// connection without the chunked terminator, so the client sees an incomplete body.
    func abortResponse(_ reason: String) {
        guard phase != .done else { return }
        worker.errorLog.warning(peer.description, "response aborted: \(reason)")
        if !responseFinished { logAccess() }
        responseFinished = true
        handler = nil
        keepAlive = false
        end()
    }

    private func end() {
        phase = .done
        connection?.exchangeEnded(self)
    }

    /// A complete error response with a small HTML body.
    func sendError(_ status: Int, close: Bool = false, extraHeaders: [(String, String)] = []) {
        guard phase != .done else { return }
        guard !responseStarted else { abortResponse("error \(status) after response start"); return }
        if close { keepAlive = false }
        let (head, body) = ExchangeAnswers.errorPage(status, extraHeaders: extraHeaders)
        sendHead(head, framing: .length(body.count))
        if !isHeadRequest { body.withUnsafeBytes { _ = sendBody($0) } }
        finishResponse()
    }

    /// cgi.local-redir: the CGI answered `Location: /path` without a status; serve that path as a
    /// fresh GET in the same exchange, as if the client had asked for it (at most a few hops).
    func localRedirect(to location: String) {
        guard phase != .done else { return }
        guard let request = head, redirectHops < 10 else { sendError(500); return }
        redirectHops += 1
        let head = ExchangeAnswers.locallyRedirected(request, to: location)
        self.head = head
        let route = routing.handler(for: head, connection: self)
        extraResponseHeaders = route.responseHeaders
        if let stats = route.stats { stats.requests += 1; routeStats = stats }
        if let h = route.responder.begin(on: self, install: { handler = $0 }), handler === h && !responseFinished {
            h.requestBodyEnd()
        }
    }

    func resumeReading() {
        if isCurrent { connection?.resumeReading() }
    }

    func clientVanished() {
        if isCurrent { connection?.clientVanished() }
    }

    // MARK: ClientExchange: becoming a byte stream

    /// Sends the 101 head (or a CONNECT tunnel's 200); from now on the exchange is a two-way byte stream.
    func switchToUpgraded(_ head: HTTPResponseHead) {
        guard isCurrent else { return }
        // Before the head: a CONNECT's 200 says `Connection: close` (as lighttpd's does); a 101 never does.
        keepAlive = false
        sendHead(head, framing: .none)
        headScratch = []   // no more heads: an idle WebSocket keeps no scratch of its handshake
        logAccess()
        phase = .upgraded
        // The access log line is written; a WebSocket can stay open for days and needs no more
        // of its request than the line itself (the header fields are most of an idle one's heap).
        // Without an access log it needs nothing of it at all.
        self.head = worker.accessLogFile == nil ? nil
            : self.head.map { HTTPRequestHead(method: $0.method, target: $0.target, version: $0.version, host: $0.host) }
        if let stats = routeStats {
            stats.upgrades += 1
            stats.openUpgraded += 1
        }
        connection?.exchangeUpgraded(stats: routeStats)
    }

    /// Raw bytes to the client after the upgrade. Returns false above the high watermark.
    @discardableResult
    func sendRaw(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let connection, connection.isOpen else { return false }
        routeStats?.bytesToClients += bytes.count
        connection.writeOutput(bytes)
        return output.backlog < HTTP1Connection.highWatermark
    }

    /// The backend side of the upgraded stream ended: flush, then close.
    func finishUpgraded() {
        handler = nil
        phase = .done
        connection?.closeAfterFlush()
    }

    var outputBacklog: Int { output.backlog }
    var canDetachForRelay: Bool { phase == .upgraded && isCurrent && connection?.canDetachForRelay == true }

    func detachForRelay() -> (fd: Int32, pendingInput: ByteBuffer, pendingOutput: ByteBuffer)? {
        guard canDetachForRelay else { return nil }
        return connection?.detachForRelay()
    }

    // MARK: access log

    func logAccess() {
        guard worker.accessLogFile != nil, let head else { return }
        worker.accessLog(remote: peer.remote, request: head, status: responseStatus,
                         bytes: output.bytesWritten + output.backlog, durationNs: worker.loop.now - startedAt)
    }

    /// Records the status for the access log (`beginHead`).
    func noteResponseStatus(_ status: Int) {
        responseStatus = status
        if status >= 500, let stats = routeStats { stats.responses5xx += 1 }
    }
}
