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
        case handshaking
        case open
        /// upgrades mode: CLOSE sent, waiting for the server's CLOSE or EOF.
        case closing
    }

    /// Number of this connection in the run (0-based); also selects its payload pattern.
    let id: Int
    unowned let worker: BenchWorker
    private let context: BenchContext
    private(set) var state: State = .idle
    private var fd: Int32 = -1

    private let input: ByteBuffer
    private let output: ByteBuffer
    private var decoder: WebSocketFrameDecoder
    private var handshake: WebSocketClientHandshake?

    // Sequence numbers: messages sent, echoes received (both from 0 for each upgrade).
    private(set) var sendSeq: UInt64 = 0
    private(set) var recvSeq: UInt64 = 0
    /// Send time (monotonic ns) of message n lives in slot n % ringSize.
    private let sendTimes: UnsafeMutablePointer<UInt64>

    // Receive state of the data frame / message being streamed in.
    private var inFrame = false
    private var frameRemaining = 0
    private var frameFin = false
    private var frameMask: UInt32? = nil
    private var framePhase = 0
    private var inMessage = false
    private var messageLength = 0
    private var messageBad = false
    private var expected: UnsafeRawPointer

    /// connect/handshake/close deadline (monotonic ns).
    private var deadline: UInt64 = 0
    /// Start of the current upgrade cycle (monotonic ns).
    private var cycleStart: UInt64 = 0
    /// Bumped whenever the connection is (re)opened or closed, so stale hold timers do nothing.
    private var generation: UInt64 = 0

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
    private static func clock() -> UInt64 { EventLoop.monotonicNanoseconds() }

    // MARK: opening

    /// "127.0.0.1:8080", or "localhost:8080 (127.0.0.1:8080)" when the URL names the host.
    private var target: String {
        let a = "\(context.address)"
        return a == context.url.hostHeader ? a : "\(context.url.hostHeader) (\(a))"
    }

    /// Starts a connection (or the next upgrade cycle).
    func open() {
        precondition(state == .idle)
        generation &+= 1
        input.clear()
        output.clear()
        sendSeq = 0
        recvSeq = 0
        inFrame = false
        inMessage = false
        handshake = nil
        cycleStart = BenchConnection.clock()
        deadline = cycleStart &+ context.timeoutNanoseconds
        worker.connectionStarted()
        state = .connecting
        let result: Socket.ConnectResult
        do {
            result = try Socket.connect(context.address)
        } catch {
            fail("cannot connect to \(target): \((error as? SystemError)?.message ?? "\(error)")")
            return
        }
        switch result {
        case .connected(let s):
            fd = s
        case .inProgress(let s):
            fd = s
        }
        do {
            try worker.loop.register(fd: fd, events: .output, handler: self)
        } catch {
            Syscall.close(fd)
            fd = -1
            fail("\(error)")
            return
        }
        if case .connected = result { connectCompleted() }
    }

    private func connectCompleted() {
        let err = Socket.pendingError(fd)
        if err != 0 {
            fail("cannot connect to \(target): \(String(cString: strerror(err)))")
            return
        }
        Socket.setNoDelay(fd)
        let key = WebSocketHandshake.generateKey(using: &worker.random)
        let h = WebSocketClientHandshake(host: context.url.hostHeader, path: context.url.path,
                                         origin: context.origin, key: key)
        handshake = h
        output.append(h.requestBytes())
        state = .handshaking
        worker.loop.setInterest(fd: fd, .input)
        flush()
    }

    private func processHandshake(now: UInt64) {
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
            case .pipeline:
                for _ in 0..<context.options.inFlight { queueMessage(now: now) }
            case .hold:
                // A random first delay spreads the connections evenly over the interval.
                scheduleHoldMessage(afterNanoseconds: worker.random.next() % max(context.intervalNanoseconds, 1))
            }
            processInput(now: now)
        }
    }

    // MARK: sending

    @inline(__always)
    private func queueMessage(now: UInt64) {
        let seq = sendSeq
        sendTimes[Int(seq % UInt64(context.ringSize))] = now
        let key = UInt32(truncatingIfNeeded: worker.random.next())
        ClientFrameWriter.append(opcode: context.opcode, payload: context.pattern.payload(connection: id, message: seq),
                                 count: context.options.size, maskKey: key, to: output)
        sendSeq = seq &+ 1
    }

    private func scheduleHoldMessage(afterNanoseconds delay: UInt64) {
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

    private func sendClose() {
        var payload: (UInt8, UInt8) = (0x03, 0xE8)   // 1000, normal closure
        let key = UInt32(truncatingIfNeeded: worker.random.next())
        withUnsafeBytes(of: &payload) {
            ClientFrameWriter.append(opcode: .close, payload: $0.baseAddress, count: 2, maskKey: key, to: output)
        }
    }

    /// Writes what is queued; asks for writability only while something is left.
    private func flush() {
        while output.readableBytes > 0 {
            switch output.write(to: fd) {
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
        if events.contains(.output) {
            flush()
            if state == .idle { return }
        }
        if !events.isDisjoint(with: [.input, .readHangup, .hangup, .error]) {
            readAvailable()
        }
    }

    private func readAvailable() {
        let now = BenchConnection.clock()
        var eof = false
        reading: while true {
            switch input.read(from: fd, minimumSpace: context.readChunk) {
            case .bytes:
                if input.writableBytes > 0 { break reading }   // drained the socket
            case .wouldBlock:
                break reading
            case .eof:
                eof = true
                break reading
            case .error(let e):
                if state == .closing && e == ECONNRESET { cycleDone(now: now); return }
                fail("receive from \(context.address) failed: \(String(cString: strerror(e)))")
                return
            }
            // Buffer full: process what is there before reading more.
            if state == .handshaking { processHandshake(now: now) } else { processInput(now: now) }
            if state == .idle { return }
        }
        if state == .handshaking { processHandshake(now: now) }
        if state == .open || state == .closing { processInput(now: now) }
        if state == .idle { return }
        if eof {
            handleEOF(now: now)
            return
        }
        if output.readableBytes > 0 { flush() }
    }

    private func handleEOF(now: UInt64) {
        switch state {
        case .closing:
            cycleDone(now: now)
        case .handshaking, .connecting:
            let got = input.readableBytes == 0 ? "nothing" : "\(input.readableBytes) bytes:\n" + BenchConnection.quoted(input.readable)
            fail("\(context.address) closed the connection before completing the upgrade of \(context.url.path); received \(got)")
        case .open:
            fail("\(context.address) closed connection \(id) (EOF without a CLOSE frame) after \(recvSeq) echoes")
        case .idle:
            break
        }
    }

    // MARK: receiving

    /// Streams frames out of `input`: control frames whole, data payloads chunk by chunk.
    private func processInput(now: UInt64) {
        while state == .open || state == .closing {
            if inFrame {
                if frameRemaining > 0 {
                    let available = input.readableBytes
                    if available == 0 { return }
                    let n = min(available, frameRemaining)
                    verify(input.readPointer, n)
                    input.consume(n)
                    frameRemaining -= n
                    if frameRemaining > 0 { return }
                }
                inFrame = false
                if frameFin { messageComplete(now: now) }
                continue
            }
            let header: WebSocketFrameHeader?
            do {
                header = try decoder.decodeHeader(input.readable)
            } catch {
                protocolFailure("\(error)")
                return
            }
            guard let header else { return }
            if header.opcode.isControl {
                guard input.readableBytes >= header.frameLength else { return }
                handleControl(header)
                if state == .idle { return }
                input.consume(header.frameLength)
                continue
            }
            if header.opcode == .continuation {
                guard inMessage else { protocolFailure("continuation frame without a message"); return }
            } else {
                guard !inMessage else { protocolFailure("new data frame before the previous message ended"); return }
                guard recvSeq < sendSeq, state == .open else {
                    protocolFailure("unexpected \(header.opcode) message from the server (nothing in flight)")
                    return
                }
                inMessage = true
                messageLength = 0
                messageBad = false
                expected = context.pattern.payload(connection: id, message: recvSeq)
                if header.opcode != context.opcode {
                    mismatch("echo is a \(header.opcode) message, sent \(context.opcode)")
                }
            }
            input.consume(header.headerLength)
            inFrame = true
            frameRemaining = header.payloadLength
            frameFin = header.fin
            frameMask = header.maskKey
            framePhase = 0
        }
    }

    /// Compares `count` payload bytes at `p` (the next bytes of the current echo) with what was sent.
    @inline(__always)
    private func verify(_ p: UnsafeMutableRawPointer, _ count: Int) {
        if let key = frameMask {
            framePhase = WebSocketMasking.apply(key: key, phase: framePhase, from: p, to: p, count: count)
        }
        let size = context.options.size
        if !messageBad && messageLength < size {
            let m = min(count, size - messageLength)
            if memcmp(p, expected + messageLength, m) != 0 {
                var i = 0
                while i < m && p.load(fromByteOffset: i, as: UInt8.self) == expected.load(fromByteOffset: messageLength + i, as: UInt8.self) {
                    i += 1
                }
                let want = expected.load(fromByteOffset: messageLength + i, as: UInt8.self)
                let got = p.load(fromByteOffset: i, as: UInt8.self)
                mismatch("first differing byte at offset \(messageLength + i) of \(size): expected \(BenchConnection.describe(want)), got \(BenchConnection.describe(got))")
            }
        }
        if !messageBad && messageLength + count > size {
            mismatch("echo is longer than the \(size) bytes sent (at least \(messageLength + count))")
        }
        messageLength += count
    }

    private func messageComplete(now: UInt64) {
        inMessage = false
        if !messageBad && messageLength != context.options.size {
            mismatch("echo is \(messageLength) bytes, sent \(context.options.size)")
        }
        let sent = sendTimes[Int(recvSeq % UInt64(context.ringSize))]
        recvSeq &+= 1
        if worker.measuring {
            worker.stats.messages &+= 1
            worker.stats.bytes &+= UInt64(messageLength)
            if worker.mode != .upgrades { worker.stats.latency.record(nanoseconds: now &- sent) }
        }
        switch worker.mode {
        case .pingpong, .pipeline:
            if worker.running { queueMessage(now: now) }
        case .hold:
            break
        case .upgrades:
            sendClose()
            state = .closing
            deadline = now &+ context.timeoutNanoseconds
        }
    }

    private func mismatch(_ detail: String) {
        messageBad = true
        worker.stats.mismatches &+= 1
        context.errorLog.report("\(worker.probe ? "preflight: " : "")mismatch on connection \(id), message \(recvSeq): \(detail)")
    }

    private func handleControl(_ header: WebSocketFrameHeader) {
        let payload = input.readPointer + header.headerLength
        let count = header.payloadLength
        if let key = header.maskKey {
            WebSocketMasking.apply(key: key, phase: 0, from: payload, to: payload, count: count)
        }
        switch header.opcode {
        case .ping:
            let key = UInt32(truncatingIfNeeded: worker.random.next())
            ClientFrameWriter.append(opcode: .pong, payload: UnsafeRawPointer(payload), count: count, maskKey: key, to: output)
        case .close:
            if state == .closing {
                cycleDone(now: BenchConnection.clock())
                return
            }
            var code = "no status code"
            if count >= 2 {
                let c = UInt16(payload.load(as: UInt8.self)) << 8 | UInt16(payload.load(fromByteOffset: 1, as: UInt8.self))
                let reason = String(decoding: UnsafeRawBufferPointer(start: payload + 2, count: count - 2), as: UTF8.self)
                code = "code \(c)" + (reason.isEmpty ? "" : " \"\(reason)\"")
            }
            fail("\(context.address) sent CLOSE (\(code)) on connection \(id) after \(recvSeq) echoes")
        default:
            break   // pong: nothing to do
        }
    }

    private func protocolFailure(_ what: String) {
        var message = "protocol error from \(context.address) on connection \(id): \(what)"
        if what.contains("server frame is masked") {
            message += " (the seed ws_echo.py masks its echoes: use --lenient)"
        }
        fail(message)
    }

    // MARK: closing

    /// upgrades mode: the server answered our CLOSE (or closed); one cycle done.
    private func cycleDone(now: UInt64) {
        if worker.measuring {
            worker.stats.upgrades &+= 1
            worker.stats.latency.record(nanoseconds: now &- cycleStart)
        }
        closeSocket()
        worker.connectionClosed(self, failed: false)
    }

    /// Counts an error, closes the socket and lets the worker decide what comes next.
    func fail(_ message: String) {
        let wasOpen = state == .open || state == .closing
        let wasOpening = state == .connecting || state == .handshaking
        closeSocket()
        worker.connectionFailed(self, message: message, wasOpen: wasOpen, wasOpening: wasOpening)
    }

    /// Checks the deadlines (called by the worker's sweep timer).
    func checkTimeout(now: UInt64) {
        switch state {
        case .connecting, .handshaking, .closing:
            if now > deadline {
                let t = NumberFormat.fixed(context.options.timeout, decimals: 1)
                let what = state == .connecting ? "connecting to \(context.address)"
                    : state == .handshaking ? "waiting for the upgrade response from \(context.address)"
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
        if state == .open || state == .closing { context.gauge.closed() }
        if state == .open && fd >= 0 {
            sendClose()
            _ = output.write(to: fd)
        }
        closeSocket()
    }

    private func closeSocket() {
        if fd >= 0 {
            worker.loop.unregister(fd: fd)
            Syscall.close(fd)
            fd = -1
        }
        generation &+= 1
        state = .idle
    }

    // MARK: text helpers

    static func describe(_ b: UInt8) -> String {
        let hex = String(b, radix: 16)
        let h = "0x" + (hex.count < 2 ? "0" : "") + hex
        return b >= 0x20 && b < 0x7F ? "\(h) '\(Character(Unicode.Scalar(b)))'" : h
    }

    static func indented(_ text: String) -> String {
        text.split(omittingEmptySubsequences: true, whereSeparator: { $0.isNewline })
            .map { "    " + $0 }
            .joined(separator: "\n")
    }

    static func quoted(_ bytes: UnsafeRawBufferPointer) -> String {
        let shown = bytes.prefix(1024)
        var text = ""
        for b in shown {
            switch b {
            case 0x0A: text += "\n"
            case 0x0D: continue
            case 0x20..<0x7F, 0x09: text.append(Character(Unicode.Scalar(b)))
            default: text += "\\x" + (b < 16 ? "0" : "") + String(b, radix: 16)
            }
        }
        return indented(text) + (bytes.count > shown.count ? "\n    ..." : "")
    }
}
