import Glibc
import SwitchyardOS

/// The connection's I/O region: readiness events, reading into `input`, flushing `output`, the
/// event-loop interest, half-close and the lingering close. Every byte to or from the client
/// passes here and through `transport`; the rest of the connection and the exchanges only see
/// the two buffers. Kept apart so the buffered stream that client connections will sit on can
/// replace this region without touching the HTTP/1.1 logic.
extension HTTP1Connection {
    func handleEvent(fd: Int32, events: IOEvents) {
        if events.contains(.output) || events.contains(.error) {
            flushOutput()
        }
        if state != .closed && (events.contains(.input) || events.contains(.hangup) || events.contains(.readHangup) || events.contains(.error)) {
            if !readPaused || state == .lingering { readAvailable() }
            else if events.contains(.hangup) || events.contains(.error) { clientVanished() }
        }
    }

    private func readAvailable() {
        var rounds = 0
        while state != .closed && !readPaused && rounds < 4 {
            rounds += 1
            // Upgraded streams read into what they have (4 KiB once quiet) and grow to 64 KiB
            // only after a read filled the buffer: a thousand idle WebSockets that each get a
            // small message now and then must not each hold a burst-sized buffer.
            let space = state != .upgraded ? 16 * 1024 : (upgradedReadFilled ? 64 * 1024 : 4 * 1024)
            switch transport.receive(into: input, minimumSpace: space) {
            case .bytes(let n):
                upgradedReadFilled = input.writableBytes == 0
                lastRead = worker.loop.now
                switch state {
                case .lingering, .closing: input.clear(); continue
                case .upgraded: deliverUpgraded()
                default: process()
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
            exchange?.upgradedClientEOF()
        case .lingering, .closed:
            close()
        case .awaitingHead:
            if output.isEmpty { close() } else { setReadInterest(false) }
        case .closing:
            // The last answer is still going out: finish it, then close (no lingering needed).
            setReadInterest(false)
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

    func setReadInterest(_ on: Bool) {
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

    /// Writes what the transport takes; tells the exchange when the backlog drained, and moves
    /// on to the lingering close or to pipelined input once a final answer is out.
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
            if closeWhenFlushed {
                startLingeringClose()
                return
            }
            if state == .awaitingHead && exchange == nil && !input.isEmpty && !inProcess {
                worker.loop.defer_ { self.resumeAfterResponse() }
            }
        }
        if output.backlog < HTTP1Connection.lowWatermark && before >= HTTP1Connection.lowWatermark {
            exchange?.outputDrained()
        } else if output.backlog == 0 {
            exchange?.outputDrained()
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
}
