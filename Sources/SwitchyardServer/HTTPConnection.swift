import Glibc
import SwitchyardOS
import SwitchyardHTTP

/// One client connection: reads and parses requests, dispatches each to a handler, serializes the
/// response, and after a `101 Switching Protocols` relays raw bytes between the client and the
/// handler. Requests are handled one at a time, so pipelined responses leave in order.
final class HTTPConnection: EventHandler {
    enum State {
        case readingHead        // waiting for (more of) a request head
        case readingBody        // handler active, request body still arriving
        case responding         // body complete, handler still producing the response
        case upgraded           // raw relay after 101
        case lingering          // final response sent, draining input before close
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
    let remote: SocketAddress?
    /// getsockname(2) only when asked (SERVER_ADDR for gateways): static requests never need it.
    private(set) lazy var local: SocketAddress? = SocketAddress.local(of: fd)
    /// Text forms, computed once per connection (inet_ntop is not free).
    private(set) lazy var remoteHost: String = remote?.host ?? ""
    private(set) lazy var localHost: String = local?.host ?? ""
    let listener: ListenerInfo
    private(set) var state: State = .readingHead

    let input = ByteBuffer(capacity: 4096)
    let output = OutputQueue()
    private var parser: HTTPRequestParser
    private var handler: RequestHandler?
    private(set) var request: HTTPRequestHead?
    private var requestStart: UInt64 = 0
    private(set) var responseStatus = 0
    private var responseFraming: BodyFraming = .none
    private var responseStarted = false
    private var responseFinished = false
    private var keepAlive = true
    private var closeAfterFlush = false
    private var readPaused = false
    private var clientEOF = false
    private var requestCount = 0
    private var bodyBytesReceived = 0
    private var bodyLimit = 0
    private var isHeadRequest = false

    // Timeout bookkeeping (monotonic ns).
    private var headStarted: UInt64
    private var lastRead: UInt64
    private var lastWriteProgress: UInt64
    private var lingerDeadline: UInt64 = 0

    static let highWatermark = 256 * 1024
    static let lowWatermark = 64 * 1024

    init(transport: ByteTransport, worker: Worker, remote: SocketAddress?, listener: ListenerInfo) {
        self.fd = transport.descriptor
        self.transport = transport
        self.worker = worker
        self.remote = remote
        self.listener = listener
        self.parser = HTTPRequestParser(limits: worker.parserLimits)
        let now = worker.loop.now
        headStarted = now
        lastRead = now
        lastWriteProgress = now
    }

    func start() throws {
        try worker.loop.register(fd: fd, events: .input, handler: self)
    }

    // MARK: events

    func handleEvent(fd: Int32, events: IOEvents) {
        if events.contains(.output) || events.contains(.error) {
            flushOutput()
        }
        if state != .closed && (events.contains(.input) || events.contains(.hangup) || events.contains(.readHangup) || events.contains(.error)) {
            if !readPaused || state == .lingering { readAvailable() }
            else if events.contains(.hangup) || events.contains(.error) { clientVanished() }
        }
    }

    private var upgradedReadFilled = false
    /// When the client's FIN arrived on an upgraded connection (0: not yet).
    private var upgradedEOFAt: UInt64 = 0

    private func readAvailable() {
        var rounds = 0
        while state != .closed && !readPaused && rounds < 4 {
            rounds += 1
            // Upgraded streams read into what they have (4 KiB once quiet) and grow to 64 KiB
            // only after a read filled the buffer: a thousand idle WebSockets that each get a
            // small message now and then must not each hold a burst-sized buffer.
            let space = state != .upgraded ? 16 * 1024 : (upgradedReadFilled ? 64 * 1024 : 4 * 1024)
            let r = transport.receive(into: input, minimumSpace: space)
            switch r {
            case .bytes(let n):
                upgradedReadFilled = input.writableBytes == 0
                lastRead = worker.loop.now
                if state == .lingering { input.clear(); continue }
                if state == .upgraded {
                    deliverUpgraded()
                } else {
                    process()
                }
                if n < 16 * 1024 { return }
            case .wouldBlock:
                return
            case .eof:
                clientEOF = true
                handleEOF()
                return
            case .error:
                clientVanished()
                return
            }
        }
    }

    private func handleEOF() {
        switch state {
        case .upgraded:
            // Client FIN: stop reading; the handler half-closes the backend and we flush what is
            // left. A backend that does not finish within `clientGoneGrace` is aborted (tick).
            setReadInterest(false)
            upgradedEOFAt = worker.loop.now
            handler?.upgradedClientEOF()
        case .lingering, .closed:
            close()
        case .readingHead:
            if output.isEmpty && !responseInProgress { close() } else { keepAlive = false; setReadInterest(false) }
        case .readingBody:
            // Body cut short: the request cannot complete.
            worker.errorLog.info(peerDescription, "client closed the connection before sending the whole request body")
            clientVanished()
        case .responding:
            // The client is gone (a FIN cannot be told apart from a full close without writing):
            // abort the request so its CGI is stopped, as lighttpd does.
            worker.errorLog.info(peerDescription, "client closed the connection before the response was complete")
            clientVanished()
        }
    }

    private var responseInProgress: Bool { handler != nil }

    private var peerDescription: String { remote?.description ?? "client" }

    // MARK: request parsing

    /// Parses as much buffered input as the current state allows.
    private var inProcess = false

    func process() {
        inProcess = true
        defer { inProcess = false }
        while state == .readingHead || state == .readingBody {
            if state == .readingHead && (handler != nil || output.hasFile || output.backlog > HTTPConnection.highWatermark) { return }
            if readPaused && state == .readingBody { return }
            if input.isEmpty && state != .readingBody { return }
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
                beginRequest(head, hasBody: hasBody)
            case .body(let range, let consumed):
                bodyBytesReceived += range.count
                if bodyLimit > 0 && bodyBytesReceived > bodyLimit {
                    input.consume(consumed)
                    requestFailed(HTTPParseError(status: 413, reason: "request body larger than server.max-request-size"))
                    return
                }
                let slice = UnsafeRawBufferPointer(rebasing: readable[range])
                let more = handler?.requestBody(slice) ?? true
                input.consume(consumed)
                if !more { pauseReading() }
            case .end(let consumed):
                input.consume(consumed)
                if state == .readingBody {
                    state = .responding
                    handler?.requestBodyEnd()
                }
                // A finished static response may already have reset the state.
            }
        }
    }

    private func beginRequest(_ head: HTTPRequestHead, hasBody: Bool) {
        requestCount += 1
        requestStart = worker.loop.now
        request = head
        responseStarted = false
        responseFinished = false
        responseStatus = 0
        bodyBytesReceived = 0
        output.resetCounter()
        isHeadRequest = head.method == "HEAD"
        keepAlive = head.keepAlive && requestCount < worker.server.maxKeepAliveRequests && !worker.isStopping
        state = hasBody ? .readingBody : .responding
        let route = worker.router.handler(for: head, connection: self)
        bodyLimit = route.bodyLimit
        if hasBody && !route.wantsBody {
            // The answer does not depend on the body; it is not read, so the connection cannot be reused.
            keepAlive = false
        }
        if head.expectsContinue && hasBody && route.wantsBody {
            output.bytes.append("HTTP/1.1 100 Continue\r\n\r\n")
            flushOutput()
        }
        if let h = start(route.responder), !hasBody && handler === h && state == .responding {
            h.requestBodyEnd()
        }
    }

    /// Hands the request to its responder; returns the handler object if one now owns the exchange.
    private func start(_ responder: Responder) -> RequestHandler? {
        switch responder {
        case .staticFile(let context):
            StaticFileHandler(context: context, connection: self).respond()
            return nil
        case .handler(let h):
            handler = h
            h.start()
            return h
        }
    }

    private func requestFailed(_ error: HTTPParseError) {
        let ctx = peerDescription
        worker.errorLog.info(ctx, "bad request (\(error.status)): \(error.reason)")
        handler?.abort()
        handler = nil
        keepAlive = false
        if responseStarted {
            closeAfterFlush = true
            flushOutput()
            return
        }
        sendError(error.status, close: true)
    }

    /// `Router.stripPort` of a Host value, remembered for the connection: a keep-alive client
    /// sends the same Host on every request, and comparing is cheaper than building the string.
    func hostWithoutPort(_ rawHost: String) -> String {
        if rawHost != hostMemo.raw { hostMemo = (rawHost, Router.stripPort(rawHost)) }
        return hostMemo.stripped
    }
    private var hostMemo = (raw: "", stripped: "")

    // MARK: responses

    var httpVersion: HTTPVersion { request?.version ?? .http1_1 }

    /// Sends the status line and headers; adds Date, Server, framing and Connection headers. The
    /// head is serialised in one pass: headers the connection owns (Date, framing, Connection)
    /// are skipped from the handler's list instead of being searched for and removed.
    func sendHead(_ head: HTTPResponseHead, framing requested: BodyFraming) {
        let status = head.status
        let framing = beginHead(status: status, framing: requested)
        // Serialise straight into the output buffer: no intermediate array, bulk copies.
        let out = output.bytes
        if head.reason == nil, let line = HeaderName.standardStatusLine(status) {
            out.append(line)
        } else {
            appendStatusLine(head)
        }
        var hasServer = false
        for (name, value) in head.headers {
            switch HeaderName.classify(name) {
            case .date, .contentLength, .transferEncoding: continue
            case .connection: if status != 101 { continue }
            case .server: hasServer = true
            case .other: break
            }
            HeaderName.appendField(name, value, to: out)
        }
        appendConnectionFields(status: status, framing: framing, hasServer: hasServer)
    }

    /// `sendHead` for a handler whose fields are ready-made bytes (static files keep theirs per
    /// file): `fields` appends complete, sanitised "Name: value\r\n" lines to the buffer it is
    /// given, and none of the headers the connection owns (Date, Server, Content-Length,
    /// Transfer-Encoding, Connection).
    func sendHead(status: Int, framing requested: BodyFraming, fields: (ByteBuffer) -> Void) {
        let framing = beginHead(status: status, framing: requested)
        let out = output.bytes
        if let line = HeaderName.standardStatusLine(status) {
            out.append(line)
        } else {
            appendStatusLine(HTTPResponseHead(status: status))
        }
        fields(out)
        appendConnectionFields(status: status, framing: framing, hasServer: false)
    }

    /// Response bookkeeping shared by both `sendHead` forms; returns the framing actually used
    /// (none for HEAD, 1xx, 204, 304; until-close for chunked to an HTTP/1.0 client).
    private func beginHead(status: Int, framing requested: BodyFraming) -> BodyFraming {
        precondition(!responseStarted)
        responseStarted = true
        responseStatus = status
        var framing = requested
        if isHeadRequest || status == 204 || status == 304 || (status >= 100 && status < 200) {
            if case .length = framing, isHeadRequest {} else { framing = .none }
        }
        if case .chunked = framing, httpVersion == .http1_0 { framing = .untilClose }
        if case .untilClose = framing { keepAlive = false }
        responseFraming = isHeadRequest ? .none : framing
        if status != 101 && !(keepAlive && state != .readingBody) { keepAlive = false }
        return framing
    }

    /// "HTTP/1.1 <status> <reason>\r\n" (always 1.1, RFC 9110 2.5), formatted.
    private func appendStatusLine(_ head: HTTPResponseHead) {
        headScratch.removeAll(keepingCapacity: true)
        var line = head
        line.version = .http1_1
        line.writeStatusLine(into: &headScratch)
        headScratch.withUnsafeBytes { output.bytes.append($0) }
    }
    private var headScratch: [UInt8] = []

    /// The headers the connection owns, then the empty line: Date, Server (unless the handler
    /// sent one), the framing header and Connection.
    private func appendConnectionFields(status: Int, framing: BodyFraming, hasServer: Bool) {
        let out = output.bytes
        worker.appendDateAndServer(to: out, includingServer: !hasServer)
        var connectionLine: [UInt8]?
        if status != 101 {
            if !keepAlive { connectionLine = HeaderName.closeLine }
            else if httpVersion == .http1_0 { connectionLine = HeaderName.keepAliveLine }
        }
        switch framing {
        case .length(let n):
            HeaderName.appendHeadEnd(contentLength: n, connectionLine: connectionLine, to: out)
        case .chunked:
            out.append(HeaderName.chunkedLine)
            HeaderName.appendHeadEnd(contentLength: nil, connectionLine: connectionLine, to: out)
        case .none, .untilClose:
            HeaderName.appendHeadEnd(contentLength: nil, connectionLine: connectionLine, to: out)
        }
    }

    /// Body bytes, framed as the head announced. Returns false when the client backlog is above the
    /// high watermark: the caller should stop producing until `outputDrained()`.
    @discardableResult
    func sendBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count > 0, state != .closed else { return output.backlog < HTTPConnection.highWatermark }
        switch responseFraming {
        case .none:
            break
        case .chunked:
            var header: [UInt8] = []
            ChunkedEncoding.chunkHeader(bytes.count, into: &header)
            output.bytes.append(header)
            output.bytes.append(bytes)
            output.bytes.append(crlf)
        case .length, .untilClose:
            output.bytes.append(bytes)
        }
        flushOutput()
        return output.backlog < HTTPConnection.highWatermark
    }

    func sendFile(fd fileFD: Int32, offset: Int, count: Int) {
        if case .none = responseFraming { Glibc.close(fileFD); return }
        output.appendFile(fd: fileFD, offset: offset, count: count)
        flushOutput()
    }

    /// `sendFile` for a file whose bytes are cached (`StaticFileCache`): `count` bytes of
    /// `storage` from `offset`, shared with the cache rather than copied when large.
    func sendCachedFile(_ storage: [UInt8], offset: Int, count: Int) {
        if case .none = responseFraming { return }
        output.appendBytes(of: storage, offset: offset, count: count)
        flushOutput()
    }

    /// The response is complete: writes the chunked terminator, logs, and moves on to the next request.
    func finishResponse() {
        guard !responseFinished, state != .closed else { return }
        responseFinished = true
        if case .chunked = responseFraming { output.bytes.append(ChunkedEncoding.terminator) }
        if case .untilClose = responseFraming { keepAlive = false }
        logAccess()
        handler = nil
        if state == .readingBody {
            // Answered before the body arrived; the rest of the body would be parsed as a request.
            keepAlive = false
        }
        if !keepAlive {
            closeAfterFlush = true
            flushOutput()
            return
        }
        request = nil
        state = .readingHead
        headStarted = worker.loop.now
        flushOutput()
        if state == .readingHead && !output.hasFile && !inProcess {
            worker.loop.defer_ { self.resumeAfterResponse() }
        }
    }

    /// Runs deferred to the end of the loop iteration. Those deferred calls capture the connection
    /// strongly: they run soon, they check the state first, and a weak capture would give the
    /// connection a side table, slowing every later reference-count operation on it.
    private func resumeAfterResponse() {
        guard state == .readingHead, handler == nil else { return }
        if readPaused { resumeReading() }
        process()
    }

    /// Backend failed after the head went out: the only honest signal left is closing the connection.
    func abortResponse(_ reason: String) {
        worker.errorLog.warning(peerDescription, "response aborted: \(reason)")
        if !responseFinished { logAccess() }
        responseFinished = true
        handler = nil
        keepAlive = false
        if case .chunked = responseFraming {
            // Do not send the terminator: the client must see an incomplete body.
        }
        closeAfterFlush = true
        flushOutput()
    }

    /// A complete error response with a small HTML body.
    func sendError(_ status: Int, close: Bool = false, extraHeaders: [(String, String)] = []) {
        guard !responseStarted else { abortResponse("error \(status) after response start"); return }
        if close { keepAlive = false }
        var head = HTTPResponseHead(status: status)
        let reason = HTTPStatus.reasonPhrase(status)
        let body = Array("<!DOCTYPE html>\n<html><head><title>\(status) \(reason)</title></head><body><h1>\(status) \(reason)</h1></body></html>\n".utf8)
        head.headers.add(name: "Content-Type", value: "text/html; charset=utf-8")
        for (n, v) in extraHeaders { head.headers.add(name: n, value: v) }
        sendHead(head, framing: .length(body.count))
        if !isHeadRequest { body.withUnsafeBytes { _ = sendBody($0) } }
        finishResponse()
    }

    /// cgi.local-redir: the CGI answered `Location: /path` without a status; serve that path as a
    /// fresh GET on the same connection, as if the client had asked for it (at most a few hops).
    func localRedirect(to location: String) {
        guard var head = request, redirectHops < 10 else { sendError(500); return }
        redirectHops += 1
        let target = location
        let q = target.firstIndex(of: "?")
        head.method = "GET"
        head.target = target
        head.path = q.map { String(target[..<$0]) } ?? target
        head.query = q.map { String(target[target.index(after: $0)...]) }
        head.contentLength = nil
        head.isChunked = false
        head.headers.remove(name: "Content-Length")
        head.headers.remove(name: "Content-Type")
        request = head
        if let h = start(worker.router.handler(for: head, connection: self).responder), handler === h && !responseFinished {
            h.requestBodyEnd()
        }
    }
    private var redirectHops = 0

    // MARK: upgrade

    /// Sends the 101 head and switches the connection to raw relaying. Bytes the client sent after the
    /// request head (already buffered) are delivered to the handler right away.
    func switchToUpgraded(_ head: HTTPResponseHead) {
        sendHead(head, framing: .none)
        logAccess()
        state = .upgraded
        keepAlive = false
        flushOutput()
        if !input.isEmpty { worker.loop.defer_ { self.deliverUpgraded() } }
    }

    private func deliverUpgraded() {
        guard state == .upgraded, let handler, !input.isEmpty else { return }
        let more = handler.upgradedData(input.readable)
        input.consume(input.readableBytes)
        if !more { pauseReading() }
    }

    /// Raw bytes to the client after the upgrade. Returns false above the high watermark.
    @discardableResult
    func sendRaw(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard state != .closed else { return false }
        output.bytes.append(bytes)
        flushOutput()
        return output.backlog < HTTPConnection.highWatermark
    }

    /// The backend side of an upgraded stream ended: flush, then close.
    func finishUpgraded() {
        handler = nil
        closeAfterFlush = true
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
        handler = nil
        worker.connectionDetached(self)
        return (kernel.detachDescriptor(), input, output.bytes)
    }

    // MARK: flow control

    func pauseReading() {
        guard !readPaused else { return }
        readPaused = true
        updateInterest()
    }

    func resumeReading() {
        guard readPaused else { return }
        readPaused = false
        updateInterest()
        if !input.isEmpty {
            if state == .upgraded { deliverUpgraded() } else { process() }
        }
    }

    private var wantOutput = false
    private var wantInput = true

    private func setReadInterest(_ on: Bool) {
        wantInput = on
        updateInterest()
    }

    private func updateInterest() {
        guard state != .closed else { return }
        var ev: IOEvents = []
        if wantInput && !readPaused && !clientEOF { ev.insert(.input) }
        if wantOutput { ev.insert(.output) }
        worker.loop.setInterest(fd: fd, ev)
    }

    var outputBacklog: Int { output.backlog }

    func flushOutput() {
        guard state != .closed else { return }
        let before = output.backlog
        switch output.flush(to: transport) {
        case .wouldBlock:
            if output.backlog < before { lastWriteProgress = worker.loop.now }
            if !wantOutput { wantOutput = true; updateInterest() }
        case .error:
            clientVanished()
        case .bytes, .eof:
            lastWriteProgress = worker.loop.now
            if wantOutput { wantOutput = false; updateInterest() }
            if closeAfterFlush {
                startLingeringClose()
                return
            }
            if state == .readingHead && handler == nil && !input.isEmpty && !inProcess {
                worker.loop.defer_ { self.resumeAfterResponse() }
            }
        }
        if output.backlog < HTTPConnection.lowWatermark && before >= HTTPConnection.lowWatermark {
            handler?.outputDrained()
        } else if output.backlog == 0 {
            handler?.outputDrained()
        }
    }

    /// After a final response on a connection we will not reuse: half-close and drain what the
    /// client still sends for a moment, so its unread data does not turn into a reset that eats
    /// our response.
    private func startLingeringClose() {
        if clientEOF || state == .upgraded { close(); return }
        state = .lingering
        transport.shutdownOutput()
        lingerDeadline = worker.loop.now + 2_000_000_000
        readPaused = false
        wantInput = true
        wantOutput = false
        updateInterest()
    }

    // MARK: teardown

    func clientVanished() {
        if state == .closed { return }
        if let h = handler {
            handler = nil
            h.abort()
        }
        if responseStarted && !responseFinished { logAccess() }
        close()
    }

    func close() {
        guard state != .closed else { return }
        state = .closed
        if let h = handler { handler = nil; h.abort() }
        output.discard()
        worker.loop.unregister(fd: fd)
        transport.close()
        worker.connectionClosed(self)
    }

    /// Called once a second by the worker.
    func tick(now: UInt64) {
        let server = worker.server
        switch state {
        case .readingHead:
            let idleLimit = Seconds.nanoseconds(requestCount == 0 || !input.isEmpty ? server.maxReadIdle : server.maxKeepAliveIdle)
            if handler == nil && output.isEmpty && now - headStarted > idleLimit {
                if input.isEmpty && parser.isIdle {
                    close()
                } else {
                    worker.errorLog.info(peerDescription, "request head not complete after \(server.maxReadIdle) s (server.max-read-idle): 408")
                    sendError(408, close: true)
                }
                return
            }
        case .readingBody:
            if !readPaused && now - lastRead > Seconds.nanoseconds(server.maxReadIdle) {
                worker.errorLog.info(peerDescription, "request body stalled for \(server.maxReadIdle) s (server.max-read-idle)")
                if responseStarted { clientVanished() } else { handler?.abort(); handler = nil; sendError(408, close: true) }
                return
            }
        case .lingering:
            if now > lingerDeadline { close(); return }
        case .upgraded:
            if upgradedEOFAt > 0 && now - upgradedEOFAt > SpliceRelay.clientGoneGrace {
                worker.errorLog.info(peerDescription, "the client closed its upgraded stream and the backend did not finish within \(SpliceRelay.clientGoneGrace / 1_000_000_000) s: aborting it")
                clientVanished()
                return
            }
            // A quiet WebSocket gives its buffers back (a thousand idle connections stay small);
            // the next message grows them again, from 1 KiB up.
            if now - lastRead > 2_000_000_000 {
                if input.isEmpty { input.shrinkIfIdle(to: 64) }
                if output.isEmpty { output.bytes.shrinkIfIdle(to: 64) }
            }
        case .responding, .closed:
            break
        }
        if !output.isEmpty && now - lastWriteProgress > Seconds.nanoseconds(server.maxWriteIdle) {
            worker.errorLog.info(peerDescription, "client did not read for \(server.maxWriteIdle) s (server.max-write-idle): closing")
            clientVanished()
            return
        }
        handler?.tick(now: now)
    }

    /// Graceful stop, first step for an upgraded stream: the backend sees the end of its input and
    /// may still send its own closing bytes (a WebSocket CLOSE frame) before the client is closed.
    func endUpgradedInput() {
        guard state == .upgraded, upgradedEOFAt == 0 else { return }
        upgradedEOFAt = worker.loop.now
        handler?.upgradedClientEOF()
    }

    var isIdleForShutdown: Bool {
        state == .readingHead && handler == nil && output.isEmpty && input.isEmpty
    }

    // MARK: access log

    private func logAccess() {
        guard worker.accessLogFile != nil, let req = request else { return }
        worker.accessLog(connection: self, request: req, status: responseStatus, bytes: output.bytesWritten + output.backlog,
                         durationNs: worker.loop.now - requestStart)
    }
}

private let crlf: [UInt8] = [13, 10]

/// What a listener is: how requests arriving on it look to conditionals and CGI variables.
struct ListenerInfo {
    var scheme: String
    var serverSocket: String      // "ip:port" as configured / bound
    var port: Int
}
