import Glibc
import SwitchyardOS
import SwitchyardHTTP
import SwitchyardGatewayCodecs
import SwitchyardWebSocket

/// The long-lived end of an exchange: switching to a two-way byte stream after `101` (handing both
/// descriptors to a kernel splice relay when both sides can), bounding how long a backend may keep
/// its connection after a complete response, and the backend timeouts (connect, read, write)
/// checked on the worker's once-a-second tick.
extension GatewayExchange {
    /// After a `101` from the backend, or (`connectTunnel`) once a CONNECT's backend connection is up.
    func startUpgrade(_ cgi: CGIResponseHead) {
        guard let connection else { return }
        var head: HTTPResponseHead
        if connectTunnel {
            // lighttpd's answer exactly: `200 OK` with Date, Server and `Connection: close` (the
            // connection ends with the tunnel), no framing fields.
            head = HTTPResponseHead(status: 200, reason: "OK")
        } else {
            head = HTTPResponseHead(status: 101, reason: "Switching Protocols")
            for (name, value) in cgi.headers where !HTTPFieldTokens.name(name, is: "status") {
                head.headers.add(name: name, value: value)
            }
            if !head.headers.contains("Connection") { head.headers.add(name: "Connection", value: "Upgrade") }
            if !head.headers.contains("Upgrade") { head.headers.add(name: "Upgrade", value: "websocket") }
        }
        phase = .upgraded
        // No retry can follow a switched stream: let go of the dispatch (route, host choice,
        // request description) that the retry closures hold, for the WebSocket's whole life.
        onConnectFailure = nil
        onStaleConnection = nil
        let interval = settings.websocket.pingInterval
        if interval > 0 && Self.isWebSocket(head) {
            // The PINGs need the frame boundaries of both directions: no kernel splice here.
            var random = FastRandom()
            keepalive = KeepaliveState(WebSocketRelayKeepalive(interval: Seconds.nanoseconds(interval), now: worker.loop.now,
                                                               tokenSeed: random.next()))
        }
        connection.switchToUpgraded(head)
        if debug > 0 {
            errorLog.info(label, connectTunnel ? "proxy debug: connected to the backend: 200 to the client, switched to a two-way byte stream (relay: \(relayMode))"
                                               : "proxy debug: \(cgi.status) from the backend: switched to a two-way byte stream (relay: \(relayMode))")
        }
        if keepalive == nil, relayMode == "splice", let fdStream = stream as? FDBackendStream, fdStream.codec.isTransparent {
            if fdStream.isSocket {
                spliceWhenBusy = true
            } else {
                // Defer so bytes already buffered on either side are delivered first. Strong: it runs
                // at the end of this pass and checks the phase (a weak capture would give the
                // exchange a side table, slowing every retain and release of it while it relays).
                worker.loop.defer_ { self.trySplice() }
            }
        }
    }

    /// The CONNECT's backend connection is up (it connected at once, or its connect completed):
    /// the tunnel opens, before the backend says anything (a TLS server waits for the client).
    func openConnectTunnel() {
        guard connectTunnel, phase == .awaitingHead, let stream, !stream.isConnecting else { return }
        startUpgrade(CGIResponseHead(status: 200))
    }

    /// A read this large (the streams grow their reads only after one filled the buffer) means
    /// bulk transfer: the splice pipes now pay for themselves.
    static let bulkRead = 32 * 1024

    /// Moves a socket-to-socket relay into the kernel once what is in flight has been written
    /// (retried at the next bulk read when a side still has a backlog).
    func spliceSoon() {
        spliceRequested = true
        worker.loop.defer_ {
            guard self.spliceWhenBusy else { return }
            self.trySplice()
        }
    }

    /// The 101 switched to `websocket` (compared case-insensitively: the seed's CGI says `WebSocket`).
    static func isWebSocket(_ head: HTTPResponseHead) -> Bool {
        guard let upgrade = head.headers.first("Upgrade") else { return false }
        return upgrade.lowercased().split(separator: ",").contains { $0.trimmingCharacters(in: " \t") == "websocket" }
    }

    /// Backend bytes to the client with the gateway's PING between two frames when one is due.
    func relayToClient(_ bytes: UnsafeRawBufferPointer, _ connection: any ClientExchange) -> Bool {
        guard let split = keepalive?.tracking.backendBytes(bytes, now: worker.loop.now) else { return connection.sendRaw(bytes) }
        connection.sendRaw(UnsafeRawBufferPointer(rebasing: bytes[..<split.offset]))
        split.ping.withUnsafeBytes { _ = connection.sendRaw($0) }
        return connection.sendRaw(UnsafeRawBufferPointer(rebasing: bytes[split.offset...]))
    }

    /// Client bytes to the backend without the PONG answering the gateway's PING. The state is
    /// taken out while the stream is written, so a callback from inside `send` cannot reach it.
    func relayToBackend(_ bytes: UnsafeRawBufferPointer, _ stream: BackendStream) -> Bool {
        guard let k = keepalive else { return stream.send(bytes) }
        keepalive = nil
        var more = true
        k.tracking.clientBytes(bytes, now: worker.loop.now) { piece in
            if !stream.send(piece) { more = false }
        }
        if phase == .upgraded { keepalive = k }
        return more
    }

    /// The ping schedule, once a second; true when the connection was closed (no PONG in time).
    func keepaliveTick(now: UInt64) -> Bool {
        guard phase == .upgraded, let connection, let action = keepalive?.tracking.tick(now: now) else { return false }
        switch action {
        case .none:
            return false
        case .sendPing(let frame):
            frame.withUnsafeBytes { _ = connection.sendRaw($0) }
            return false
        case .lostFraming:
            errorLog.info(label, "the backend's stream is not WebSocket frames: no more pings (websocket.ping-interval)")
            return false
        case .peerUnresponsive:
            errorLog.info(label, "no PONG within \(settings.websocket.pingInterval) s of a PING (websocket.ping-interval): closing")
            abort()
            connection.clientVanished()
            return true
        }
    }

    func trySplice() {
        guard phase == .upgraded, let connection, let stream = stream as? FDBackendStream,
              connection.outputBacklog == 0, stream.pendingWriteBytes == 0, connection.canDetachForRelay else { return }
        guard let backend = stream.detachForRelay() else { return }
        // The stream's close hook (its host's load count) runs when the relay closes the fds.
        let streamClosed = stream.onClose
        stream.onClose = nil
        let loadHost = stream.loadHost
        stream.loadHost = nil
        let stats = connection.routeStats   // read before the detach ends the exchange
        spliceWhenBusy = false
        guard let client = connection.detachForRelay() else {
            Glibc.close(backend.readFD)
            if backend.writeFD != backend.readFD { Glibc.close(backend.writeFD) }
            loadHost?.active -= 1
            streamClosed?(false)
            return
        }
        self.stream = nil
        // The relay now owns the stream's lifetime; what the exchange would do at its end (e.g. stop
        // the CGI) happens when the relay closes, told whether the backend ended it (clean).
        let finish = onFinish
        onFinish = nil
        enterDone()
        // A closure only when there is one to call: the relay of a proxied or SCGI WebSocket then
        // keeps no heap object of its own (see `SpliceRelays`).
        var onClose: ((Bool) -> Void)?
        if let finish, let streamClosed { onClose = { clean in finish(clean); streamClosed(clean) } }
        else { onClose = finish ?? streamClosed }
        worker.spliceRelays.start(clientFD: client.fd, clientInput: client.pendingInput,
                                  backendRead: backend.readFD, backendWrite: backend.writeFD, label: label,
                                  writeIdle: worker.server.maxWriteIdle, readTimeout: readTimeout,
                                  release: SpliceRelays.Release(host: loadHost, stats: stats, onClose: onClose))
    }

    /// How long a backend connection may stay open once its response is complete, when the route
    /// has no read-timeout. SCGI/uwsgi end with the connection, FastCGI with FCGI_END_REQUEST;
    /// a backend (or a grandchild holding its socket) that keeps it open longer would otherwise
    /// hold the gateway's descriptor for as long as it likes. CGIs are bounded by `CGIChildren`.
    static let drainGrace = 10.0

    /// Aborts a drained socket stream still open after the read-timeout (or `drainGrace`). The
    /// check is deferred so the usual end, in the same read as the last body bytes, arms no timer.
    func boundDrain(_ drained: BackendStream) {
        if let fdStream = drained as? FDBackendStream, !fdStream.isSocket { return }
        let loop = worker.loop
        let grace = readTimeout > 0 ? Double(readTimeout) : GatewayExchange.drainGrace
        let log = errorLog
        let label = label
        // A pooled connection may carry the next request by then: that one is not drained.
        let generation = (drained as? FDBackendStream)?.generation
        loop.defer_ { [weak drained] in
            guard let drained, !drained.isFinished, (drained as? FDBackendStream)?.generation == generation else { return }
            loop.schedule(afterSeconds: grace) { [weak drained] in
                guard let drained, !drained.isFinished, (drained as? FDBackendStream)?.generation == generation else { return }
                log.info(label, "backend connection still open \(Int(grace)) s after a complete response: closed")
                drained.abort()
            }
        }
    }

    func tick(now: UInt64) {
        guard let stream else { return }
        if keepalive != nil && keepaliveTick(now: now) { return }
        let idle = (now - stream.lastActivity) / 1_000_000_000
        if stream.isConnecting {
            if connectTimeout > 0 && idle >= UInt64(clamping: connectTimeout) {
                let failure = BackendFailure.connectFailed("\(label): connect did not complete within \(connectTimeout) s (connect-timeout)")
                stream.abort()
                self.stream = nil
                streamEnded(failure, protocolStatus: nil)
            }
            return
        }
        if readTimeout > 0 && (phase == .awaitingHead || phase == .body || phase == .upgraded) && idle >= UInt64(clamping: readTimeout) {
            let failure = BackendFailure.timeout("\(label): no data from the backend for \(readTimeout) s (read-timeout)")
            errorLog.error(label, failure.description)
            abortAfterTimeout(failure)
            return
        }
        if idle >= 2 {
            // A quiet socket-to-socket WebSocket moves into the kernel relay, which keeps far less
            // per connection than the exchange, its client connection and two buffered streams.
            if spliceWhenBusy && phase == .upgraded && stream is FDBackendStream {
                trySplice()
                if self.stream == nil { return }
            }
            worker.idleBytesReleased += stream.shrinkIdleBuffers()
        }
        if writeTimeout > 0 && stream.pendingWriteBytes > 0 && idle >= UInt64(clamping: writeTimeout) {
            let failure = BackendFailure.timeout("\(label): backend did not read for \(writeTimeout) s (write-timeout)")
            abortAfterTimeout(failure)
        }
    }

    func abortAfterTimeout(_ failure: BackendFailure) {
        if phase == .awaitingHead { fail(failure); return }
        let client = connection
        abort()
        client?.abortResponse(failure.description)
    }
}
