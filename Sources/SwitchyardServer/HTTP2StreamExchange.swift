import Glibc
import SwitchyardOS
import SwitchyardHTTP
import SwitchyardHTTP2

/// One HTTP/2 stream as the `ClientExchange` handlers already talk to: static files, CGI, SCGI,
/// uwsgi, FastCGI, the proxy and the tunnel answer it exactly as they answer an `HTTP1Exchange`.
///
/// The request is the HTTP/1.1 view of the stream's head (`HTTP2RequestMapping`); its body comes
/// from DATA frames, and flow-control credit goes back to the client only for bytes a handler
/// really took: a handler that says "pause" (its backend is behind) stops the window, so a slow
/// stream holds at most one stream window here and never stalls its neighbours. The response
/// (`+Response`) becomes HEADERS and DATA within the send windows; after a backend's `101` the
/// stream carries the upgraded byte stream both ways, END_STREAM standing for the half-close.
final class HTTP2StreamExchange: ClientExchange {
    enum Phase { case readingBody, responding, upgraded, done }

    /// The connection while the stream runs; cut (`HTTP2Connection.forget`) when it ends, so a
    /// handler that outlives the stream reaches nothing.
    var connection: HTTP2Connection?
    let worker: Worker
    let peer: ClientPeer
    let streamID: UInt32
    private let routing: any ExchangeRouting
    private(set) var head: HTTPRequestHead?
    /// RFC 8441 extended CONNECT (or plain CONNECT): DATA is the tunnelled byte stream.
    let isTunnel: Bool
    var phase: Phase
    var handler: RequestHandler?
    var isHeadRequest: Bool
    var responseStatus = 0
    var responseStarted = false
    var responseFinished = false
    var extraResponseHeaders: [(String, String)] = []
    private(set) var routeStats: RouteStats?
    private var bodyLimit = 0
    private var bodyBytesReceived = 0
    private var redirectHops = 0
    let startedAt: UInt64
    var lastBodyAt: UInt64
    /// Request body wanted by nobody (answered already, or a route that ignores it): dropped.
    private var discardBody = false

    // Input held back: the handler paused, or a tunnel's bytes before its 200. One contiguous
    // buffer, at most a stream window: a client splitting its DATA into 1-byte frames must not
    // make the gateway hold an allocation per frame.
    private var held: [UInt8] = []
    private var heldBytes: Int { held.count }
    /// Bytes the handler took while asking to pause: credited to the client on `resumeReading`.
    private var owedCredit = 0
    private var readPaused = false
    /// The client's END_STREAM arrived (delivered once `held` is empty).
    private(set) var clientEnded = false
    private var clientEndDelivered = false

    // Output (see `+Response`): bytes queued for DATA frames, then at most one file or shared region.
    var pending: [UInt8] = []
    var pendingStart = 0
    var source: HTTP2BodySource?
    /// END_STREAM goes out once everything queued did.
    var ending = false
    /// The stream's send side is closed (END_STREAM written, or reset).
    var sendClosed = false
    /// A producer was told to stop (`sendBody`/`sendRaw` returned false): it hears `outputDrained`.
    var wantsDrain = false
    var bytesSent = 0
    /// In the connection's round-robin list of streams with output (`HTTP2Connection.pump`).
    var isReady = false
    /// This stream counts in its route's open-upgraded gauge.
    private var holdsUpgradeGauge = false

    init(connection: HTTP2Connection, streamID: UInt32, head: HTTPRequestHead?, isTunnel: Bool, hasBody: Bool) {
        self.connection = connection
        self.worker = connection.worker
        self.peer = connection.peer
        self.routing = connection.routing
        self.streamID = streamID
        self.head = head
        self.isTunnel = isTunnel
        self.phase = hasBody ? .readingBody : .responding
        self.isHeadRequest = head?.method == "HEAD"
        self.startedAt = connection.worker.loop.now
        self.lastBodyAt = startedAt
        if !hasBody { clientEnded = !isTunnel; clientEndDelivered = clientEnded }
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

    // MARK: driven by the connection

    /// Routes the request and hands it to its responder (as `HTTP1Exchange.start`).
    func start(hasBody: Bool) {
        guard let head else { return }
        let route = routing.handler(for: head, connection: self)
        extraResponseHeaders = route.responseHeaders
        bodyLimit = route.bodyLimit
        if let stats = route.stats { stats.requests += 1; routeStats = stats }
        if hasBody && !route.wantsBody { discardBody = true }
        if head.expectsContinue && hasBody && route.wantsBody {
            connection?.sendHeaders(streamID, HTTP2ResponseFields.make(status: 100, headers: []), endStream: false)
        }
        if let h = route.responder.begin(on: self, install: { handler = $0 }), !hasBody && handler === h && phase == .responding {
            h.requestBodyEnd()
        }
    }

    /// A DATA frame's bytes (request body, or the tunnel's stream).
    func receiveData(_ bytes: UnsafeRawBufferPointer, endStream: Bool) {
        lastBodyAt = worker.loop.now
        if endStream { clientEnded = true }
        if phase == .done || discardBody || (phase == .responding && !isTunnel) {
            connection?.credit(streamID, bytes.count)
            if endStream { bodyEnded() }
            return
        }
        if phase == .readingBody {
            bodyBytesReceived += bytes.count
            if bodyLimit > 0 && bodyBytesReceived > bodyLimit {
                connection?.credit(streamID, bytes.count)
                fail(HTTPParseError(status: 413, reason: "request body larger than server.max-request-size"))
                return
            }
        }
        if !bytes.isEmpty {
            if held.isEmpty && !readPaused && (phase == .readingBody || phase == .upgraded) {
                deliver(bytes)   // the usual case: straight to the handler, no copy
            } else {
                held.append(contentsOf: bytes)
            }
        }
        deliverHeld()
    }

    /// Trailers end the request body (their fields are not passed on, as with HTTP/1.1 chunked trailers).
    func receiveTrailers() {
        clientEnded = true
        deliverHeld()
    }

    /// Hands held bytes to the handler while it takes them; a tunnel's only once it is upgraded.
    private func deliverHeld() {
        if !readPaused, phase == .readingBody || phase == .upgraded, !held.isEmpty {
            var chunk: [UInt8] = []
            swap(&chunk, &held)
            chunk.withUnsafeBytes { deliver($0) }
        }
        guard held.isEmpty, clientEnded, !clientEndDelivered else { return }
        if phase == .readingBody { bodyEnded() }
        else if phase == .upgraded { clientEndDelivered = true; handler?.upgradedClientEOF() }
    }

    /// Bytes to the handler; credited at once when it takes more, owed until `resumeReading` when it pauses.
    private func deliver(_ bytes: UnsafeRawBufferPointer) {
        let c = connection   // the handler may end the stream inside its call (then `connection` is cut)
        let more = phase == .upgraded ? (handler?.upgradedData(bytes) ?? true) : (handler?.requestBody(bytes) ?? true)
        if more || phase == .done { c?.credit(streamID, bytes.count) } else {
            owedCredit += bytes.count
            readPaused = true
        }
    }

    private func bodyEnded() {
        guard phase == .readingBody else { return }
        clientEndDelivered = true
        phase = .responding
        handler?.requestBodyEnd()
    }

    func resumeReading() {
        guard readPaused, phase != .done else { return }
        readPaused = false
        let owed = owedCredit
        owedCredit = 0
        connection?.credit(streamID, owed)
        deliverHeld()
        connection?.writeSessionOutput()
    }

    /// Input nobody will take any more (held, or taken while paused) goes back to the client as
    /// window: the connection window must not shrink by what ended streams left behind.
    private func releaseInput() {
        let count = owedCredit + heldBytes
        owedCredit = 0
        held = []
        readPaused = false
        discardBody = true
        connection?.credit(streamID, count)
    }

    /// The client reset the stream (or the session did after a stream error): the handler stops.
    func streamReset() {
        sendClosed = true
        stop()
    }

    /// The connection is going away under this stream.
    func connectionClosing() {
        stop()
    }

    private func stop() {
        guard phase != .done else { return }
        releaseInput()
        phase = .done
        let h = handler
        handler = nil
        dropOutput()
        releaseUpgradeGauge()
        h?.abort()
        if responseStarted && !responseFinished { logAccess() }
        connection?.forget(self)
    }

    func tick(now: UInt64) {
        if phase == .readingBody && !readPaused && now &- lastBodyAt > Seconds.nanoseconds(worker.server.maxReadIdle) {
            worker.errorLog.info(peer.description, "HTTP/2 stream \(streamID): request body stalled for \(worker.server.maxReadIdle) s (server.max-read-idle)")
            if responseStarted { clientVanished() } else { handler = dropHandler(); sendError(408) }
            return
        }
        handler?.tick(now: now)
    }

    private func dropHandler() -> RequestHandler? {
        handler?.abort()
        return nil
    }

    /// A bad request or an oversized body: its status if nothing was sent yet, else a reset.
    func fail(_ error: HTTPParseError) {
        worker.errorLog.info(peer.description, "HTTP/2 stream \(streamID): bad request (\(error.status)): \(error.reason)")
        handler = dropHandler()
        discardBody = true
        held = []
        if responseStarted { abortResponse(error.reason); return }
        phase = .responding
        sendError(error.status)
    }

    // MARK: ClientExchange: ending

    func finishResponse() {
        guard !responseFinished, phase != .done else { return }
        responseFinished = true
        logAccess()
        handler = nil
        if phase == .readingBody { discardBody = true }
        ending = true
        if sendWholeBody() { return }
        endWhenFlushed()
    }

    /// END_STREAM after what is queued; at once when the HEADERS already ended the stream.
    private func endWhenFlushed() {
        if sendClosed { sendSideFinished() } else { connection?.pump(self) }
    }

    func abortResponse(_ reason: String) {
        guard phase != .done else { return }
        worker.errorLog.warning(peer.description, "HTTP/2 stream \(streamID): response aborted: \(reason)")
        if !responseFinished { logAccess() }
        responseFinished = true
        handler = nil
        resetStream(.internalError)
    }

    func clientVanished() {
        guard phase != .done else { return }
        handler = nil
        resetStream(.cancel)
    }

    /// RST_STREAM from our side; the exchange is over.
    private func resetStream(_ code: HTTP2ErrorCode) {
        let c = connection
        sendClosed = true
        stop()
        c?.resetStream(streamID, code: code)
    }

    /// Everything queued went out with END_STREAM: the response is complete.
    func sendSideFinished() {
        sendClosed = true
        guard phase != .done else { return }
        let wasUpgraded = phase == .upgraded
        releaseInput()
        phase = .done
        handler = nil
        let c = connection
        c?.forget(self)
        // RFC 9113 §8.1: a complete response may end a request the client is still sending. An
        // upgraded stream is only half-closed: the client ends its side when it is done.
        if !clientEnded && !wasUpgraded { c?.resetStream(streamID, code: .noError) }
    }

    func sendError(_ status: Int, close: Bool = false, extraHeaders: [(String, String)] = []) {
        guard phase != .done else { return }
        guard !responseStarted else { abortResponse("error \(status) after response start"); return }
        let (head, body) = ExchangeAnswers.errorPage(status, extraHeaders: extraHeaders)
        sendHead(head, framing: .length(body.count))
        if !isHeadRequest { body.withUnsafeBytes { _ = sendBody($0) } }
        finishResponse()
    }

    /// cgi.local-redir, as `HTTP1Exchange.localRedirect`.
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

    // MARK: ClientExchange: becoming a byte stream

    /// A backend's `101` (or a CONNECT's 200): `:status 200` without the HTTP/1.1 upgrade fields
    /// (RFC 8441 §5), then DATA both ways.
    func switchToUpgraded(_ head: HTTPResponseHead) {
        guard phase != .done, !responseStarted, connection != nil else { return }
        var ok = HTTPResponseHead(status: 200)
        for (name, value) in head.headers {
            let lower = name.lowercased()
            if lower == "sec-websocket-accept" || lower == "upgrade" || lower == "connection" { continue }
            ok.headers.add(name: name, value: value)
        }
        phase = .upgraded   // first: the 200 is the tunnel's, not a refusal (`writeHead`)
        sendHead(ok, framing: .untilClose)
        logAccess()
        // As in HTTP1Exchange: the logged WebSocket keeps its request line, not its fields.
        self.head = self.head.map { HTTPRequestHead(method: $0.method, target: $0.target, version: $0.version, host: $0.host) }
        if let stats = routeStats {
            stats.upgrades += 1
            stats.openUpgraded += 1
            holdsUpgradeGauge = true
        }
        // Bytes that came before the 200 go to the handler once it has installed itself. Strong
        // capture: a weak one gives the exchange a side table, and every retain and release of it
        // takes the slow path for the WebSocket's whole life (an ended stream delivers nothing).
        worker.loop.defer_ { self.deliverHeld() }
    }

    @discardableResult
    func sendRaw(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard phase == .upgraded else { return false }
        routeStats?.bytesToClients += bytes.count
        return queueBody(bytes)
    }

    /// The backend ended its side: END_STREAM once the queued bytes are out.
    func finishUpgraded() {
        guard phase == .upgraded else { return }
        handler = nil
        releaseUpgradeGauge()
        ending = true
        endWhenFlushed()
    }

    private func releaseUpgradeGauge() {
        guard holdsUpgradeGauge else { return }
        holdsUpgradeGauge = false
        routeStats?.openUpgraded -= 1
    }

    var canDetachForRelay: Bool { false }
    func detachForRelay() -> (fd: Int32, pendingInput: ByteBuffer, pendingOutput: ByteBuffer)? { nil }

    // MARK: access log

    func logAccess() {
        guard worker.accessLogFile != nil, let head else { return }
        worker.accessLog(remote: peer.remote, request: head, status: responseStatus, bytes: bytesSent,
                         durationNs: worker.loop.now - startedAt, protocolName: "HTTP/2.0")
    }
}
