import Glibc
import SwitchyardOS
import SwitchyardHTTP
import SwitchyardGatewayCodecs
import SwitchyardWebSocket

/// One request handed to a backend program — CGI, SCGI, uwsgi or FastCGI alike. It streams the
/// request body to the backend, parses the CGI response head, streams the body back with
/// backpressure in both directions, and on `Status: 101` turns into a two-way relay.
///
/// The upgrade rule (lighttpd's, made stricter): only an HTTP/1.1 GET asking for `websocket` on a
/// route that enables upgrades may upgrade. On such a request the end of the (empty) request body
/// is held back until the backend's answer is known: after a 101 the stream stays open for relaying;
/// on any other status it is ended at once (FastCGI backends wait for the empty STDIN record).
final class GatewayExchange: RequestHandler, BackendStreamDelegate {
    enum Phase { case starting, awaitingHead, body, upgraded, done }

    /// The client side, held strongly while the exchange runs and released the moment it is over
    /// (`release()`): a callback that arrives later (a backend record, a timer) finds nil and does
    /// nothing, instead of reaching a connection the worker already dropped. The connection holds
    /// the exchange as its handler; each side lets go when the exchange ends, so no cycle outlives it.
    private(set) var connection: (any ClientExchange)?
    let worker: Worker
    /// The request's settings (its scope's `websocket.*` keys); not the whole request context,
    /// which holds the parsed head that an upgraded exchange no longer needs.
    let settings: RequestSettings
    let label: String
    private(set) var upgradeCandidate: Bool
    let localRedirect: Bool
    let nph: Bool
    private(set) var readTimeout: Int
    private(set) var writeTimeout: Int
    private(set) var connectTimeout = 0
    /// `proxy.debug`: > 0 logs what happens to each proxied request (`GatewayExchange+Debug`).
    var debug = 0
    /// A CONNECT the route allows (mod_proxy `proxy.header` connect): the backend speaks no HTTP;
    /// the exchange answers 200 itself once the connection is up (`openConnectTunnel`).
    var connectTunnel = false
    var stream: BackendStream?
    /// Called (with this exchange) when the stream could not even start, to try another host.
    var onConnectFailure: ((GatewayExchange, BackendFailure) -> Bool)?
    /// Called when the stream failed before the backend sent a byte, to send the request again on
    /// a fresh connection when a reused one was closed under it (`StaleConnectionRetry`).
    var onStaleConnection: ((GatewayExchange, BackendFailure) -> Bool)?
    /// Called once when the exchange is over; `clean` = the response was delivered completely
    /// (false: the client went away or the backend failed).
    var onFinish: ((_ clean: Bool) -> Void)?
    /// Called when the backend took the queued request body, instead of resuming the client's
    /// reading: set when the body comes from a spool (`SpooledBodyExchange`), not the client.
    var onRequestBodyWritable: (() -> Void)?

    var phase: Phase = .starting
    private var headParser: any ResponseHeadDecoder
    private var requestBodyComplete = false
    private var bodyEndSent = false
    /// The backend sent something (output or stderr) on the current stream.
    private var backendSpoke = false
    private var responseLength: Int?
    private var responseSent = 0
    private var stderrLines = LineSplitter()
    let errorLog: ErrorLog
    let relayMode: String
    /// A socket-to-socket upgrade (proxy, SCGI/uwsgi over TCP or a unix socket) starts relaying in
    /// user space and moves to splice(2) at its first bulk read, or once it has been quiet for two
    /// seconds: splicing between two sockets needs a pipe per direction, which costs more than it
    /// saves for short-lived or small-message WebSockets (see `GatewayExchange.bulkRead`), while
    /// an idle one holds less in the kernel relay than in user space.
    var spliceWhenBusy = false
    /// A bulk read asked for splice while a side still had a backlog: the next relayed bytes ask again.
    var spliceRequested = false
    private var lastClientWrite: UInt64 = 0
    /// `websocket.ping-interval` on an upgraded WebSocket: the frame tracking that places the
    /// gateway's PINGs and takes out their PONGs (then the relay stays in user space).
    var keepalive: KeepaliveState?
    /// Boxed: the tracking is ~180 bytes that every exchange would carry inline, and only an
    /// upgraded WebSocket on a route with a ping interval has it.
    final class KeepaliveState {
        var tracking: WebSocketRelayKeepalive
        init(_ tracking: WebSocketRelayKeepalive) { self.tracking = tracking }
    }

    init(connection: any ClientExchange, context: RequestContext, label: String, upgradeCandidate: Bool,
         localRedirect: Bool, nph: Bool, readTimeout: Int, writeTimeout: Int,
         headDecoder: (any ResponseHeadDecoder)? = nil) {
        self.connection = connection
        self.worker = connection.worker
        self.settings = context.settings
        self.label = label
        self.upgradeCandidate = upgradeCandidate
        self.localRedirect = localRedirect
        self.nph = nph
        self.readTimeout = readTimeout
        self.writeTimeout = writeTimeout
        self.errorLog = connection.worker.errorLog
        self.relayMode = connection.worker.server.upgradeRelay
        self.headParser = headDecoder ?? CGIResponseHeaderParser(maxHeaderBytes: 64 * 1024, nph: nph)
    }

    /// The options of the backend host actually chosen (a pool's hosts may differ), set before
    /// each `attach`.
    func configure(upgradeCandidate: Bool, readTimeout: Int, writeTimeout: Int, connectTimeout: Int) {
        self.upgradeCandidate = upgradeCandidate
        self.readTimeout = readTimeout
        self.writeTimeout = writeTimeout
        self.connectTimeout = connectTimeout
    }

    /// The head decoder for the next attempt (the proxy's depends on the host chosen: its Host
    /// and response mapping), replacing the CGI header parser the exchange starts with.
    func useHeadDecoder(_ decoder: any ResponseHeadDecoder) {
        headParser = decoder
    }

    /// Attaches the transport; the caller has encoded the request start.
    func attach(_ stream: BackendStream) {
        self.stream = stream
        stream.delegate = self
        phase = .awaitingHead
        backendSpoke = false
        if connectTunnel && !stream.isConnecting {
            // Connected at once: answer after the route has installed this exchange as the handler.
            // Strong: it runs at the end of this pass and checks the phase (a weak capture would give
            // the exchange a side table for its whole life).
            worker.loop.defer_ { self.openConnectTunnel() }
        }
        if bodyEndSent {
            // A retry (only ever without a request body): the new stream needs its end too.
            bodyEndSent = false
            requestBodyEnd()
        }
    }

    func start() {
        // The route already attached a started stream; nothing else to do until bytes flow.
        if stream == nil { fail(.spawnFailed("\(label): no backend stream")) }
    }

    // MARK: client -> backend

    func requestBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let stream, phase == .awaitingHead || phase == .body else { return true }
        return stream.send(bytes)
    }

    func requestBodyEnd() {
        requestBodyComplete = true
        if upgradeCandidate && phase == .awaitingHead { return }   // held until the answer is known
        sendBodyEnd(upgraded: false)
    }

    private func sendBodyEnd(upgraded: Bool) {
        guard !bodyEndSent else { return }
        bodyEndSent = true
        stream?.endBody(upgraded: upgraded)
    }

    func streamWritable() {
        if let feed = onRequestBodyWritable { feed() } else { connection?.resumeReading() }
    }

    /// Request body bytes still go to the backend (it has not ended, nor upgraded).
    var acceptsRequestBody: Bool { stream != nil && (phase == .awaitingHead || phase == .body) }

    func streamConnected() {
        if connectTunnel { openConnectTunnel() }
    }

    func upgradedData(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let stream, phase == .upgraded else { return true }
        if keepalive != nil { return relayToBackend(bytes, stream) }
        if spliceWhenBusy && (spliceRequested || bytes.count >= GatewayExchange.bulkRead) { spliceSoon() }
        return stream.send(bytes)
    }

    func upgradedClientEOF() {
        if let stream, phase == .upgraded, let k = keepalive {
            keepalive = nil
            k.tracking.clientEnded { _ = stream.send($0) }
            if phase == .upgraded { keepalive = k }
        }
        sendBodyEnd(upgraded: true)
    }

    // MARK: backend -> client

    func streamStdout(_ bytes: UnsafeRawBufferPointer) {
        backendSpoke = true
        if connectTunnel && phase == .awaitingHead { openConnectTunnel() }
        switch phase {
        case .awaitingHead:
            let parsed: (head: CGIResponseHead, bodyStartInInput: Int)?
            do {
                parsed = try headParser.feed(bytes)
            } catch {
                errorLog.error(label, "malformed response header block: \(error)")
                stream?.abort()
                fail(nil, status: 502)
                return
            }
            guard let (head, bodyStart) = parsed else { return }
            if headParser.yieldsInterimHeads && head.status >= 100 && head.status < 200 && head.status != 101 {
                relayInterim(head)
                if bodyStart < bytes.count && phase == .awaitingHead {
                    streamStdout(UnsafeRawBufferPointer(rebasing: bytes[bodyStart...]))
                }
                return
            }
            beginResponse(head)
            if bodyStart < bytes.count && phase != .done {
                streamStdout(UnsafeRawBufferPointer(rebasing: bytes[bodyStart...]))
            }
        case .body:
            guard let connection else { return }
            if let len = responseLength {
                let allowed = min(bytes.count, len - responseSent)
                if allowed <= 0 { return }
                responseSent += allowed
                let more = connection.sendBody(UnsafeRawBufferPointer(rebasing: bytes[..<allowed]))
                // Writing may have found the client gone: the connection then aborted this exchange.
                if phase == .done { return }
                if responseSent == len {
                    // The announced body is complete: answer now instead of waiting for the backend
                    // to close (a CGI may still be cleaning up, an SCGI app may linger).
                    completeEarly()
                } else if !more {
                    stream?.pauseReading()
                }
            } else {
                if !connection.sendBody(bytes) && phase != .done { stream?.pauseReading() }
            }
        case .upgraded:
            guard let connection else { return }
            if spliceWhenBusy && (spliceRequested || bytes.count >= GatewayExchange.bulkRead) { spliceSoon() }
            let more = keepalive != nil ? relayToClient(bytes, connection) : connection.sendRaw(bytes)
            if !more && phase != .done { stream?.pauseReading() }
        case .starting, .done:
            break
        }
    }

    private func beginResponse(_ cgi: CGIResponseHead) {
        // The head is in: its parser (boxed, with what it buffered) is not needed again, and a
        // WebSocket would otherwise keep it for its whole life.
        headParser = HeadAlreadyDecoded()
        guard let connection else { return }
        if cgi.status == 101 {
            if upgradeCandidate {
                startUpgrade(cgi)
                return
            }
            errorLog.error(label, "backend answered 101 on a request that may not upgrade: 502")
            stream?.abort()
            fail(nil, status: 502)
            return
        }
        if debug > 0 { logResponse(cgi) }
        if upgradeCandidate && requestBodyComplete { sendBodyEnd(upgraded: false) }
        if cgi.isLocalRedirect && localRedirect, let location = cgi.location {
            // lighttpd's cgi.local-redir: serve the target directly as if the client asked for it.
            stream?.abort()
            stream = nil
            finishExchange()
            connection.localRedirect(to: location)
            return
        }
        var head = HTTPResponseHead(status: cgi.status, reason: cgi.reason)
        for (name, value) in cgi.headers {
            let lower = name.lowercased()
            if lower == "status" || lower == "connection" || lower == "transfer-encoding" || lower == "keep-alive" { continue }
            head.headers.add(name: name, value: value)
        }
        if cgi.isLocalRedirect && !localRedirect && cgi.status == 200 {
            head.status = 302
        }
        phase = .body
        responseLength = cgi.contentLength
        let framing: BodyFraming = cgi.contentLength.map { .length($0) } ?? .chunked
        connection.sendHead(head, framing: framing)
        if connection.request?.method == "HEAD" { responseLength = 0 }
    }

    /// Finishes the client's response and lets the backend stream run out on its own, for a bounded
    /// time (`boundDrain`): it stays registered with the loop (which owns it) and closes at the
    /// backend's EOF or END_REQUEST, or when the grace is over.
    private func completeEarly() {
        stream?.resumeReading()
        stream?.delegate = nil
        if let stream { boundDrain(stream) }
        stream = nil
        let client = connection
        finishExchange()
        client?.finishResponse()
    }

    func streamStderr(_ bytes: UnsafeRawBufferPointer) {
        backendSpoke = true
        stderrLines.feed(bytes) { errorLog.stderrLine(label, $0) }
    }

    func outputDrained() {
        stream?.resumeReading()
    }

    func streamEnded(_ error: BackendFailure?, protocolStatus: UInt8?) {
        stderrLines.finish { errorLog.stderrLine(label, $0) }
        stream = nil
        switch phase {
        case .starting, .awaitingHead:
            if let error, case .connectFailed = error, let retry = onConnectFailure, retry(self, error) { return }
            if let error, !backendSpoke, let retry = onStaleConnection {
                onStaleConnection = nil
                if retry(self, error) { return }
            }
            if let ps = protocolStatus, ps != 0 {
                // FCGI_CANT_MPX_CONN / FCGI_OVERLOADED -> 503, FCGI_UNKNOWN_ROLE -> 500
                errorLog.error(label, "FastCGI application refused the request (protocol status \(ps))")
                fail(nil, status: ps == 3 ? 500 : 503)
                return
            }
            if let error {
                errorLog.error(label, error.description)
                fail(nil, status: error.status)
            } else {
                do {
                    try headParser.finish()
                    errorLog.error(label, "backend ended without a response header block: 502")
                } catch {
                    errorLog.error(label, "backend ended before completing its response headers (\(error)): 502")
                }
                fail(nil, status: 502)
            }
        case .body:
            let client = connection
            let short = responseLength.map { responseSent < $0 } ?? false
            finishExchange(clean: error == nil && !short)
            if let error {
                errorLog.error(label, "backend failed during the response body: \(error)")
                client?.abortResponse("\(label): \(error)")
            } else if short, let len = responseLength {
                errorLog.error(label, "backend sent \(responseSent) of \(len) announced body bytes")
                client?.abortResponse("\(label): short body")
            } else {
                client?.finishResponse()
            }
        case .upgraded:
            if let error { errorLog.info(label, "upgraded stream ended: \(error)") }
            let client = connection
            finishExchange(clean: error == nil)
            if case .timeout = error {
                client?.clientVanished()   // a client that does not read gets no flush to wait for
            } else {
                client?.finishUpgraded()
            }
        case .done:
            break
        }
    }

    private func fail(_ failure: BackendFailure?, status: Int) {
        if let failure { errorLog.error(label, failure.description) }
        stream?.abort()
        stream = nil
        let client = connection
        finishExchange(clean: false)
        client?.sendError(status)
    }

    func fail(_ failure: BackendFailure) {
        fail(failure, status: failure.status)
    }

    /// The exchange is over: runs `onFinish` once and lets go of everything it held.
    private func finishExchange(clean: Bool = true) {
        let f = onFinish
        onFinish = nil
        enterDone()
        f?(clean)
    }

    /// Phase `.done`, the client connection and the retry closure released (the closure captures
    /// this exchange: keeping it would be a cycle that leaks every exchange).
    func enterDone() {
        phase = .done
        // A response complete before the stream's end stops its records here: log the last line now.
        stderrLines.finish { errorLog.stderrLine(label, $0) }
        connection = nil
        onRequestBodyWritable = nil
        onConnectFailure = nil
        onStaleConnection = nil
    }

    func abort() {
        guard phase != .done else { return }
        stream?.abort()
        stream = nil
        finishExchange(clean: false)
    }
}
