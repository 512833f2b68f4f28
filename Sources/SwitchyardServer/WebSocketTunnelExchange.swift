import Glibc
import SwitchyardOS
import SwitchyardHTTP
import SwitchyardWebSocket

/// lighttpd's mod_wstunnel: Switchyard is the RFC 6455 server and the backend a plain socket
/// program. Client messages go to the backend as their payload bytes (base64-decoded under the
/// `base64` subprotocol); what the backend writes goes to the client as frames of
/// `wstunnel.frame-type` (text: valid UTF-8 only, see `UTF8TextChunker`).
///
/// The 101 is sent once the backend connection is up, so a backend that refuses gets the client a
/// 503 (after trying the route's other hosts), not an open WebSocket that closes at once.
///
/// Endings: client CLOSE -> CLOSE echoed, backend half-closed; backend EOF -> CLOSE 1001; backend
/// error -> 1011; client protocol error -> its close code (1002, 1007, 1009); graceful server stop
/// -> 1001; no PONG to a ping-interval PING in time -> the client is dropped.
///
/// Backpressure, both ways: a backend that does not read stops the reading of the client (bound:
/// the backend stream's 256 KiB write watermark plus one incomplete client frame of at most
/// `maxMessageSize`, plus one assembled message); a client that does not read stops the reading
/// of the backend (bound: the client connection's output watermark plus one backend read).
final class WebSocketTunnelExchange: RequestHandler, BackendStreamDelegate {
    enum Phase { case connecting, open, done }

    private(set) var connection: (any ClientExchange)?
    let worker: Worker
    let settings: WStunnelSettings
    /// The handshake's answer; its 101 fields go once sent (only the subprotocol is read later).
    private(set) var acceptance: WebSocketServerHandshake.Acceptance
    let label: String
    var phase = Phase.connecting
    var stream: FDBackendStream?
    /// Tries the route's next host; false when none is left (set by the route).
    var connectNext: ((WebSocketTunnelExchange) -> Bool)?
    private var onHostFailure: ((String) -> Void)?

    // Client -> backend.
    var decoder: WebSocketFrameDecoder
    var assembler: WebSocketMessageAssembler
    var base64In = Base64StreamDecoder()
    /// Client bytes not yet decoded: at most one incomplete frame plus one read.
    var inbound: [UInt8] = []
    /// Client frames wait: the backend is behind (its write queue over the watermark) ...
    var waitingForBackend = false
    /// ... or the client itself is (PONGs it does not read: a PING flood must not grow the queue).
    var waitingForClient = false
    var inboundPaused: Bool { waitingForBackend || waitingForClient }
    // Backend -> client.
    var textChunker = UTF8TextChunker()
    var base64Out = Base64StreamEncoder()
    var replacedBytesLogged = false
    var scratch: [UInt8] = []
    var frameBuffer: [UInt8] = []
    var keepalive: WebSocketKeepalive
    /// The connection's permessage-deflate state when negotiated (backend bytes compressed per frame).
    let deflate: PerMessageDeflateCodec?

    init(connection: any ClientExchange, settings: WStunnelSettings, acceptance: WebSocketServerHandshake.Acceptance, label: String,
         deflate: PerMessageDeflateCodec? = nil) {
        self.deflate = deflate
        self.connection = connection
        self.worker = connection.worker
        self.settings = settings
        self.acceptance = acceptance
        self.label = label
        decoder = WebSocketFrameDecoder(role: .server, maxPayload: settings.maxMessageSize)
        assembler = WebSocketMessageAssembler(maxMessageSize: settings.maxMessageSize, compression: deflate)
        if deflate != nil { decoder.allowedReservedBits = 0b100 }
        let interval = UInt64(settings.pingInterval) * 1_000_000_000
        keepalive = WebSocketKeepalive(interval: interval, pongTimeout: interval, now: connection.worker.loop.now)
    }

    /// How backend bytes are framed: the subprotocol decides when one was chosen.
    var outgoingOpcode: WebSocketOpcode {
        switch acceptance.subprotocol {
        case "binary": return .binary
        case "base64": return .text
        default: return settings.frameType == .binary ? .binary : .text
        }
    }

    /// The chosen host's `connect-timeout` (s): a connect still pending then counts as refused.
    private var connectTimeout = 0

    func attach(_ stream: FDBackendStream, connectTimeout: Int, onFailure: @escaping (String) -> Void) {
        self.stream = stream
        self.connectTimeout = connectTimeout
        stream.delegate = self
        onHostFailure = onFailure
    }

    func start() {
        guard let stream else { return }
        if !stream.isConnecting { open() }
    }

    func streamConnected() {
        if phase == .connecting { open() }
    }

    /// The backend is reachable: answer 101 and start relaying.
    private func open() {
        guard let connection else { return }
        phase = .open
        connectNext = nil
        var head = HTTPResponseHead(status: 101, reason: "Switching Protocols")
        for (name, value) in acceptance.responseHeaders { head.headers.add(name: name, value: value) }
        acceptance.responseHeaders = []
        acceptance.accept = ""
        connection.switchToUpgraded(head)
        if settings.debug > 0 { worker.errorLog.info(label, "WebSocket open (subprotocol \(acceptance.subprotocol ?? "none"))") }
    }

    // MARK: backend -> client

    func streamStdout(_ bytes: UnsafeRawBufferPointer) {
        guard phase == .open, let connection else { return }
        scratch.removeAll(keepingCapacity: true)
        let opcode = outgoingOpcode
        if acceptance.subprotocol == "base64" {
            // Each frame is a complete base64 text, decodable on its own.
            base64Out.encode(bytes, into: &scratch)
            base64Out.finish(into: &scratch)
        } else if opcode == .text {
            let replaced = textChunker.feed(bytes, into: &scratch)
            if replaced > 0 && !replacedBytesLogged {
                replacedBytesLogged = true
                worker.errorLog.info(label, "backend sent bytes that are not UTF-8: replaced by U+FFFD in text frames "
                                     + "(wstunnel.frame-type = \"binary\" carries them unchanged)")
            }
            if scratch.isEmpty { return }   // only part of a character so far
        } else {
            scratch.append(contentsOf: bytes)
        }
        frameBuffer.removeAll(keepingCapacity: true)
        if let deflate {
            do {
                let compressed = try deflate.compress(scratch)
                WebSocketFrameEncoder.encode(WebSocketFrame(rsv: 0b100, opcode: opcode, payload: compressed), into: &frameBuffer)
            } catch {
                worker.errorLog.error(label, "permessage-deflate: \(error)")
                close(code: 1011, reason: "compression failed")
                return
            }
        } else {
            scratch.withUnsafeBytes { WebSocketFrameEncoder.encode(opcode: opcode, payload: $0, into: &frameBuffer) }
        }
        let more = frameBuffer.withUnsafeBytes { connection.sendRaw($0) }
        if !more && phase == .open { stream?.pauseReading() }
        if frameBuffer.count > 64 * 1024 { frameBuffer = [] }
    }

    func streamStderr(_ bytes: UnsafeRawBufferPointer) {}

    func outputDrained() {
        stream?.resumeReading()
        if phase == .open && waitingForClient {
            waitingForClient = false
            resumeInbound()
        }
    }

    func streamWritable() {
        guard phase == .open, waitingForBackend else { return }
        waitingForBackend = false
        resumeInbound()
    }

    /// Decodes what waited, then lets the client send more unless something is behind again.
    private func resumeInbound() {
        guard !inboundPaused else { return }
        processInbound()
        if phase == .open && !inboundPaused { connection?.resumeReading() }
    }

    func streamEnded(_ error: BackendFailure?, protocolStatus: UInt8?) {
        stream = nil
        switch phase {
        case .connecting:
            let why = error?.description ?? "backend closed before the tunnel opened"
            worker.errorLog.error(label, why)
            onHostFailure?(why)
            if let next = connectNext, next(self) { return }
            let client = connection
            finish()
            client?.sendError(503)
        case .open:
            if let error {
                worker.errorLog.error(label, "backend failed: \(error)")
                close(code: 1011, reason: "backend failed")
            } else {
                var tail: [UInt8] = []
                if textChunker.finish(into: &tail) > 0, let connection {
                    frameBuffer.removeAll(keepingCapacity: true)
                    WebSocketFrameEncoder.encode(opcode: .text, payload: tail, into: &frameBuffer)
                    frameBuffer.withUnsafeBytes { _ = connection.sendRaw($0) }
                }
                close(code: 1001, reason: "backend closed")
            }
        case .done:
            break
        }
    }

    // MARK: endings

    /// Sends CLOSE with `code`, lets the client connection flush and close, and drops the backend
    /// (`endBackendGracefully`: it keeps its write side, which it may still be using).
    func close(code: UInt16, reason: String) {
        guard phase == .open, let connection else { finish(); return }
        frameBuffer.removeAll(keepingCapacity: true)
        WebSocketFrameEncoder.encode(opcode: .close, payload: WebSocketFrameEncoder.closePayload(code: code, reason: reason),
                                     into: &frameBuffer)
        frameBuffer.withUnsafeBytes { _ = connection.sendRaw($0) }
        if settings.debug > 0 { worker.errorLog.info(label, "CLOSE \(code) \(reason)") }
        endBackend()
        finish()
        connection.finishUpgraded()
    }

    /// Half-closes the backend and lets it run out for a bounded time (`GatewayExchange.drainGrace`),
    /// no longer attached to this exchange: nothing it writes reaches the client after a CLOSE.
    func endBackend() {
        guard let stream else { return }
        self.stream = nil
        stream.delegate = nil
        stream.resumeReading()
        stream.endBody(upgraded: true)
        let loop = worker.loop
        loop.schedule(afterSeconds: GatewayExchange.drainGrace) { [weak stream] in
            if let stream, !stream.isFinished { stream.abort() }
        }
    }

    func finish() {
        phase = .done
        connection = nil
        connectNext = nil
        onHostFailure = nil
    }

    func abort() {
        guard phase != .done else { return }
        stream?.abort()
        stream = nil
        finish()
    }

    /// A quiet tunnel gives its scratch space back, so a thousand idle WebSockets stay small:
    /// all of it (the next message allocates again), since even a small buffer kept is an object
    /// that keeps a page of freed handshake memory resident.
    private func releaseIdleBuffers(_ stream: FDBackendStream) {
        worker.idleBytesReleased += stream.shrinkIdleBuffers() + scratch.capacity + frameBuffer.capacity
        if scratch.capacity > 0 { scratch = [] }
        if frameBuffer.capacity > 0 { frameBuffer = [] }
        if inbound.isEmpty && inbound.capacity > 0 {
            worker.idleBytesReleased += inbound.capacity
            inbound = []
        }
    }

    /// Once a second: connect-timeout, idle buffers, the ping-interval schedule and the pong timeout.
    func tick(now: UInt64) {
        if phase == .connecting, let stream, stream.isConnecting, connectTimeout > 0,
           now - stream.lastActivity >= UInt64(connectTimeout) * 1_000_000_000 {
            stream.abort()
            streamEnded(.connectFailed("\(label): connect did not complete within \(connectTimeout) s (connect-timeout)"),
                        protocolStatus: nil)
            return
        }
        guard phase == .open else { return }
        if let stream, now &- stream.lastActivity >= 2_000_000_000 { releaseIdleBuffers(stream) }
        guard settings.pingInterval > 0, let connection else { return }
        switch keepalive.next(now: now) {
        case .wait: break
        case .sendPing(let payload):
            frameBuffer.removeAll(keepingCapacity: true)
            WebSocketFrameEncoder.encode(opcode: .ping, payload: payload, into: &frameBuffer)
            frameBuffer.withUnsafeBytes { _ = connection.sendRaw($0) }
        case .peerUnresponsive:
            worker.errorLog.info(label, "no PONG within \(settings.pingInterval) s of a PING (wstunnel.ping-interval): closing")
            stream?.abort()
            stream = nil
            finish()
            connection.clientVanished()
        }
    }
}
