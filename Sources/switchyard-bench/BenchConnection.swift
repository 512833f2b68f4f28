import SwitchyardBenchCore
import Glibc
import SwitchyardOS
import SwitchyardWebSocket

/// One client WebSocket connection driven by its worker's event loop.
///
/// Non-blocking connect, handshake, then masked messages out and echoes in. Echoes are verified
/// as they stream in: each chunk of payload is unmasked in place (only for `--lenient` servers
/// that mask) and compared with `memcmp` against the pattern bytes of the message expected next,
/// then consumed, so the input buffer stays small even for megabyte messages and nothing is
/// allocated per message. All writes produced by one wake-up go out in one `send`.
final class BenchConnection: EventHandler {
    enum State {
        case idle
        case connecting
        /// wss:// and https://: the TLS handshake is under way.
        case tlsHandshaking
        /// WebSocket upgrade request sent, waiting for the response.
        case handshaking
        /// handshakes mode: request sent, reading the response up to the server's close.
        case requesting
        case open
        /// upgrades mode: CLOSE sent, waiting for the server's CLOSE or EOF.
        case closing
    }

    /// Number of this connection in the run (0-based); also selects its payload pattern.
    let id: Int
    unowned let worker: BenchWorker
    let context: BenchContext
    var state: State = .idle
    var fd: Int32 = -1
    /// The TLS session of a wss:// or https:// connection (it owns `fd` then).
    var tls: TLSTransport?
    /// handshakes --resume: the session the previous connection saved, offered to the next.
    var savedSession: TLSSession?
    /// handshakes mode: the response's status line has been checked.
    var responseChecked = false
    /// handshakes mode: body bytes still to come (-1: until the server closes).
    var bodyRemaining = -1

    let input: ByteBuffer
    let output: ByteBuffer
    var decoder: WebSocketFrameDecoder
    var handshake: WebSocketClientHandshake?

    // Sequence numbers: messages sent, echoes received (both from 0 for each upgrade).
    var sendSeq: UInt64 = 0
    var recvSeq: UInt64 = 0
    /// Send time (monotonic ns) of message n lives in slot n % ringSize.
    let sendTimes: UnsafeMutablePointer<UInt64>

    // Receive state of the data frame / message being streamed in.
    var inFrame = false
    var frameRemaining = 0
    var frameFin = false
    var frameMask: UInt32? = nil
    var framePhase = 0
    var inMessage = false
    var messageLength = 0
    var messageBad = false
    var expected: UnsafeRawPointer

    /// connect/handshake/close deadline (monotonic ns).
    var deadline: UInt64 = 0
    /// Start of the current upgrade cycle (monotonic ns).
    var cycleStart: UInt64 = 0
    /// Bumped whenever the connection is (re)opened or closed, so stale hold timers do nothing.
    var generation: UInt64 = 0

    init(id: Int, worker: BenchWorker, context: BenchContext) {
        self.id = id
        self.worker = worker
        self.context = context
        input = ByteBuffer(capacity: context.readChunk)
        output = ByteBuffer(capacity: min(max(4096, (context.options.size + 14) * context.options.inFlight), 4 << 20))
        decoder = WebSocketFrameDecoder(role: .client, maxPayload: 2 * context.options.size + 1024,
                                        lenient: context.options.lenient)
        sendTimes = UnsafeMutablePointer<UInt64>.allocate(capacity: context.ringSize)
        sendTimes.initialize(repeating: 0, count: context.ringSize)
        expected = context.pattern.payload(connection: id, message: 0)
    }

    deinit {
        sendTimes.deallocate()
    }

    @inline(__always)
    static func clock() -> UInt64 { EventLoop.monotonicNanoseconds() }

    // MARK: opening

    /// Sends the WebSocket upgrade request (or, in handshakes mode, the plain GET).
    func startRequest() {
        if worker.mode == .handshakes {
            worker.connectionOpened()
            output.append(context.httpRequest)
            state = .requesting
            worker.loop.setInterest(fd: fd, .input)
            flush()
            return
        }
        let key = WebSocketHandshake.generateKey(using: &worker.random)
        let h = WebSocketClientHandshake(host: context.url.hostHeader, path: context.url.path,
                                         origin: context.origin, key: key)
        handshake = h
        output.append(h.requestBytes())
        state = .handshaking
        worker.loop.setInterest(fd: fd, .input)
        flush()
    }

    func processHandshake(now: UInt64) {
        guard let h = handshake else { return }
        switch WebSocketClientHandshake.parseResponse(input.readable) {
        case .needMore:
            return
        case .invalid(let why):
            fail("invalid handshake response from \(context.address): \(why)\n\(BenchConnection.quoted(input.readable))")
        case .done(let response, let consumed):
            if let problem = h.validate(response) {
                let verdict = response.status == 101 ? "invalid upgrade response" : "upgrade refused"
                fail("\(verdict) for \(context.options.url) from \(target): \(problem); received:\n"
                     + BenchConnection.indented(response.rawHead))
                return
            }
            input.consume(consumed)
            state = .open
            worker.connectionOpened()
            switch worker.mode {
            case .pingpong, .upgrades:
                queueMessage(now: now)
            case .handshakes:
                break
            case .pipeline:
                for _ in 0..<context.options.inFlight { queueMessage(now: now) }
            case .hold:
                // Connection `id` sends at phase id/N of every interval (on the monotonic clock,
                // whenever it opened), so the N connections' messages are spread evenly in time.
                let interval = max(context.intervalNanoseconds, 1)
                let phase = UInt64((Double(id) / Double(max(context.options.connections, 1)) * Double(interval)))
                scheduleHoldMessage(afterNanoseconds: (phase &+ interval &- now % interval) % interval)
            }
            processInput(now: now)
        }
    }

    // MARK: sending

    @inline(__always)
    func queueMessage(now: UInt64) {
        let seq = sendSeq
        sendTimes[Int(seq % UInt64(context.ringSize))] = now
        let key = UInt32(truncatingIfNeeded: worker.random.next())
        ClientFrameWriter.append(opcode: context.opcode, payload: context.pattern.payload(connection: id, message: seq),
                                 count: context.options.size, maskKey: key, to: output)
        sendSeq = seq &+ 1
    }

    func scheduleHoldMessage(afterNanoseconds delay: UInt64) {
        let g = generation
        worker.loop.schedule(afterNanoseconds: delay) { [weak self] in
            guard let self, self.generation == g, self.state == .open, self.worker.running else { return }
            // Keep at most ringSize messages outstanding; a stalled echo shows up as a timeout.
            if self.sendSeq &- self.recvSeq < UInt64(self.context.ringSize) {
                self.queueMessage(now: BenchConnection.clock())
                self.flush()
            }
            if self.state == .open { self.scheduleHoldMessage(afterNanoseconds: self.context.intervalNanoseconds) }
        }
    }

    func sendClose() {
        var payload: (UInt8, UInt8) = (0x03, 0xE8)   // 1000, normal closure
        let key = UInt32(truncatingIfNeeded: worker.random.next())
        withUnsafeBytes(of: &payload) {
            ClientFrameWriter.append(opcode: .close, payload: $0.baseAddress, count: 2, maskKey: key, to: output)
        }
    }

    /// Writes what is queued; asks for writability only while something is left.
    func flush() {
        while output.readableBytes > 0 {
            switch sendSome() {
            case .bytes, .eof:
                continue
            case .wouldBlock:
                worker.loop.setInterest(fd: fd, [.input, .output])
                return
            case .error(let e):
                fail("send to \(context.address) failed: \(String(cString: strerror(e)))")
                return
            }
        }
        worker.loop.setInterest(fd: fd, .input)
    }

    // MARK: events

    func handleEvent(fd: Int32, events: IOEvents) {
        if state == .connecting {
            connectCompleted()
            return
        }
        if state == .tlsHandshaking {
            continueTLSHandshake()
            return
        }
        if events.contains(.output) {
            flush()
            if state == .idle { return }
        }
        if !events.isDisjoint(with: [.input, .readHangup, .hangup, .error]) {
            readAvailable()
        }
    }

    func readAvailable() {
        let now = BenchConnection.clock()
        var eof = false
        reading: while true {
            switch receiveSome() {
            case .bytes:
                if input.writableBytes > 0 { break reading }   // drained the socket
            case .wouldBlock:
                break reading
            case .eof:
                eof = true
                break reading
            case .error(let e):
                if (state == .closing || (state == .requesting && responseChecked)) && e == ECONNRESET { cycleDone(now: now); return }
                fail("receive from \(context.address) failed: \(String(cString: strerror(e)))")
                return
            }
            // Buffer full: process what is there before reading more.
            if state == .handshaking { processHandshake(now: now) } else if state == .requesting { processResponse(now: now) } else { processInput(now: now) }
            if state == .idle { return }
        }
        if state == .handshaking { processHandshake(now: now) }
        if state == .requesting { processResponse(now: now) }
        if state == .open || state == .closing { processInput(now: now) }
        if state == .idle { return }
        if eof {
            handleEOF(now: now)
            return
        }
        if output.readableBytes > 0 { flush() }
    }

    func handleEOF(now: UInt64) {
        switch state {
        case .closing:
            cycleDone(now: now)
        case .requesting:
            if responseChecked {
                cycleDone(now: now)
            } else {
                fail("\(target) closed the connection before a complete status line for \(context.url.path); received \(input.readableBytes) bytes:\n" + BenchConnection.quoted(input.readable))
            }
        case .tlsHandshaking:
            fail("\(target) closed the connection during the TLS handshake")
        case .handshaking, .connecting:
            let got = input.readableBytes == 0 ? "nothing" : "\(input.readableBytes) bytes:\n" + BenchConnection.quoted(input.readable)
            fail("\(context.address) closed the connection before completing the upgrade of \(context.url.path); received \(got)")
        case .open:
            fail("\(context.address) closed connection \(id) (EOF without a CLOSE frame) after \(recvSeq) echoes")
        case .idle:
            break
        }
    }

    // MARK: closing

    /// upgrades mode: the server answered our CLOSE (or closed); one cycle done.
    func cycleDone(now: UInt64) {
        if worker.measuring {
            worker.stats.upgrades &+= 1
            if tls?.isResumed == true { worker.stats.resumed &+= 1 }
            worker.stats.latency.record(nanoseconds: now &- cycleStart)
        }
        saveSession()
        closeSocket()
        worker.connectionClosed(self, failed: false)
    }

    /// Counts an error, closes the socket and lets the worker decide what comes next.
    func fail(_ message: String) {
        let wasOpen = state == .open || state == .closing || state == .requesting
        let wasOpening = state == .connecting || state == .tlsHandshaking || state == .handshaking
        closeSocket()
        worker.connectionFailed(self, message: message, wasOpen: wasOpen, wasOpening: wasOpening)
    }

    /// Checks the deadlines (called by the worker's sweep timer).
    func checkTimeout(now: UInt64) {
        switch state {
        case .connecting, .tlsHandshaking, .handshaking, .requesting, .closing:
            if now > deadline {
                let t = NumberFormat.fixed(context.options.timeout, decimals: 1)
                let what = state == .connecting ? "connecting to \(context.address)"
                    : state == .tlsHandshaking ? "in the TLS handshake with \(context.address)"
                    : state == .handshaking ? "waiting for the upgrade response from \(context.address)"
                    : state == .requesting ? "waiting for the response and close from \(context.address)"
                    : "waiting for the CLOSE reply from \(context.address)"
                fail("connection \(id): timed out after \(t) s \(what)")
            }
        case .open:
            if sendSeq != recvSeq {
                let sent = sendTimes[Int(recvSeq % UInt64(context.ringSize))]
                if now > sent && now - sent > context.timeoutNanoseconds {
                    fail("connection \(id): no echo of message \(recvSeq) within \(NumberFormat.fixed(context.options.timeout, decimals: 1)) s")
                }
            }
        case .idle:
            break
        }
    }

    /// Closes without counting anything (end of run); an open connection gets a best-effort
    /// CLOSE frame first (one non-blocking write, no wait for the reply).
    func shutdown() {
        if state == .open || state == .closing || state == .requesting { context.gauge.closed() }
        if state == .open && fd >= 0 {
            sendClose()
            _ = sendSome()
        }
        closeSocket()
    }

    func closeSocket() {
        if fd >= 0 {
            worker.loop.unregister(fd: fd)
            if let tls { tls.close() } else { Syscall.close(fd) }
            fd = -1
        }
        tls = nil
        generation &+= 1
        state = .idle
    }
}
