import Glibc
import SwitchyardOS

/// The connection's I/O region: what its `BufferedStream` reports (input, the client's EOF, a
/// drained queue, idleness, the stream closing itself) and the few calls the HTTP/1.1 logic makes
/// on it (flush, pause, resume). Every byte to or from the client passes through the stream and
/// its transport; the rest of the connection and the exchanges only see the two buffers.
extension HTTP1Connection: BufferedStreamDelegate {
    /// Upgraded streams read into what they have (4 KiB once quiet) and grow to 64 KiB reads only
    /// after a read filled the buffer: a thousand idle WebSockets that each get a small message
    /// now and then must not each hold a burst-sized buffer.
    static let upgradedQuietRead = 4 * 1024
    static let upgradedBusyRead = 64 * 1024

    /// What every client stream of a worker starts with (`Worker.clientStreamOptions`).
    static func streamOptions(_ server: ServerSettings) -> BufferedStreamOptions {
        var o = BufferedStreamOptions()
        o.highWatermark = highWatermark
        o.lowWatermark = lowWatermark
        o.readSize = 16 * 1024
        o.readsPerEvent = 4
        // Reads go through the loop's scratch buffer when these lack room, so they only hold what
        // came: a request head, a response head.
        o.inputCapacity = 1024
        o.outputCapacity = 1024
        // One timer per connection, re-armed lazily: it reports idleness at the shortest limit
        // and `streamIsIdle` applies the one the connection's state calls for.
        o.idleTimeout = Double(max(1, min(server.maxKeepAliveIdle, server.maxReadIdle)))
        o.reportsIdle = true
        o.writeTimeout = Double(max(1, server.maxWriteIdle))
        return o
    }

    func streamHasInput(_ s: BufferedStream) {
        lastRead = worker.loop.now
        switch state {
        case .awaitingHead, .exchange:
            process()
        case .upgraded:
            s.options.readSize = input.writableBytes == 0 ? HTTP1Connection.upgradedBusyRead : HTTP1Connection.upgradedQuietRead
            deliverUpgraded()
        case .closing, .closed:
            input.clear()
        }
    }

    func streamInputDidEnd(_ s: BufferedStream) {
        switch state {
        case .upgraded:
            // Client FIN: the handler half-closes the backend and we flush what is left. A
            // backend that does not finish within `clientGoneGrace` is aborted (tick).
            upgradedEOFAt = worker.loop.now
            exchange?.upgradedClientEOF()
        case .awaitingHead:
            if output.isEmpty { close() }   // else: the answers go out, then the stream closes
        case .closing, .closed:
            break
        case .exchange:
            if exchange?.phase == .readingBody {
                // Body cut short: the request cannot complete.
                worker.errorLog.info(peer.description, "client closed the connection before sending the whole request body")
            } else {
                // The client is gone (a FIN cannot be told apart from a full close without
                // writing): abort the request so its CGI is stopped, as lighttpd does.
                worker.errorLog.info(peer.description, "client closed the connection before the response was complete")
            }
            clientVanished()
        }
    }

    /// The queue fell to the low watermark: the handler may produce again, and a pipelined
    /// request that waited for the client to catch up may start.
    func streamDidDrain(_ s: BufferedStream) {
        exchange?.outputDrained()
        if state == .awaitingHead && exchange == nil && !input.isEmpty {
            worker.loop.defer_ { self.resumeAfterResponse() }
        }
    }

    /// Nothing moved for the stream's idle interval: applies the limit of the current state.
    func streamIsIdle(_ s: BufferedStream) {
        let now = worker.loop.now
        switch state {
        case .awaitingHead:
            // A stalled TLS handshake is the handshake deadline's (logged), not a silent idle close.
            if requestCount == 0, let tls = peer.tls, !tls.isHandshakeComplete {
                _ = handshakeTimedOut(now: now)
                return
            }
            _ = headTimedOut(idleFor: now - s.lastActivity)
        case .exchange:
            let limit = worker.server.maxReadIdle
            if exchange?.phase == .readingBody && !readPaused && now - lastRead > Seconds.nanoseconds(limit) {
                worker.errorLog.info(peer.description, "request body stalled for \(limit) s (server.max-read-idle)")
                exchange?.bodyTimedOut()
            }
        case .upgraded, .closing, .closed:
            break
        }
    }

    func streamDidClose(_ s: BufferedStream, error: BufferedStreamError?) {
        if let reason = peer.tls?.failureReason {
            worker.logTLSFailure(peer.description, reason)
        }
        if error == .writeTimeout {
            worker.errorLog.info(peer.description, "client did not read for \(worker.server.maxWriteIdle) s (server.max-write-idle): closing")
        }
        close()
    }

    // MARK: flow control

    var readPaused: Bool { stream.isReadingPaused }

    func pauseReading() {
        stream.pauseReading()
    }

    func resumeReading() {
        guard stream.isReadingPaused else { return }
        stream.resumeReading()
        if !input.isEmpty {
            if state == .upgraded { deliverUpgraded() } else { process() }
        }
    }

    /// Sends what the transport takes now (the rest when the client can take it). A failed write
    /// ends the connection here, so the exchange's caller sees it closed at once; between
    /// requests, input that waited for this answer to go out is parsed next.
    func flushOutput() {
        guard state != .closed else { return }
        stream.flush()
        afterOutput()
    }

    /// Sends `bytes` (straight from the caller's buffer when nothing is queued), then as
    /// `flushOutput`.
    func writeOutput(_ bytes: UnsafeRawBufferPointer) {
        guard state != .closed else { return }
        stream.write(bytes)
        afterOutput()
    }

    private func afterOutput() {
        if stream.isClosed {
            close()
            return
        }
        if state == .awaitingHead && exchange == nil && !input.isEmpty && !inProcess && output.isEmpty {
            worker.loop.defer_ { self.resumeAfterResponse() }
        }
    }
}
