import Glibc
import SwitchyardOS

/// The front-end connection's socket: an input buffer, an output queue with watermarks, input
/// pausing, and an orderly end (flush, half-close, drain the peer's remaining bytes, close) so a
/// response is never cut off by a reset caused by unread input.
///
/// Level-triggered epoll reports EPOLLRDHUP/HUP whatever the mask. While input is paused that
/// would wake the loop endlessly once the peer half-closed, so when we are not reading (paused,
/// or after the peer's EOF) the socket leaves epoll and a blocked output is retried on a 5 ms
/// timer instead (rare: a large response to a peer that half-closed and reads slowly).
final class BridgeSocket: EventHandler {
    static let highWatermark = 256 * 1024
    static let lowWatermark = 64 * 1024

    let fd: Int32
    let loop: EventLoop
    weak var delegate: BridgeSocketDelegate?
    let inBuffer: ByteBuffer
    let outBuffer = ByteBuffer(capacity: 16 * 1024)
    /// The most `inBuffer` may hold before reading stops (the owner consumes below it).
    let inputLimit: Int

    private(set) var inputPaused = false
    private(set) var readClosed = false
    private(set) var closed = false
    private var registered: IOEvents? = nil
    private var peerHangupSeen = false
    private var pollTimer: TimerID?
    private var wasAboveHigh = false
    /// `finishAfterFlush`: half-close once the output is written, then discard input until EOF.
    private var finishing = false
    private var writeShut = false
    private var lingerTimer: TimerID?

    init(fd: Int32, loop: EventLoop, inputLimit: Int) {
        self.fd = fd
        self.loop = loop
        self.inputLimit = inputLimit
        self.inBuffer = ByteBuffer(capacity: min(inputLimit, 64 * 1024))
    }

    func start() { updateInterest() }

    var outputBacklog: Int { outBuffer.readableBytes }
    var isBehind: Bool { outBuffer.readableBytes >= BridgeSocket.highWatermark }

    // MARK: input

    func pauseInput() {
        guard !inputPaused else { return }
        inputPaused = true
        updateInterest()
    }

    func resumeInput() {
        guard inputPaused else { return }
        inputPaused = false
        updateInterest()
        // Bytes may have arrived (or the peer closed) while we were off epoll: look now.
        if !closed && !readClosed { loop.defer_ { [weak self] in self?.readAvailable(budget: 16) } }
    }

    /// Reads until the socket is drained, the buffer is full or `budget` reads were made, then
    /// delivers once: bytes that arrived together reach the CGI in one write (CGIs that read one
    /// WebSocket frame field per `read()` need a frame whole). Level triggering brings us back
    /// for anything left.
    private func readAvailable(budget: Int) {
        var reads = 0
        var fresh = false
        reading: while !closed && !readClosed && (finishing || !inputPaused) {
            let room = inputLimit - inBuffer.readableBytes
            if room <= 0 || reads >= budget { break }
            reads += 1
            switch inBuffer.read(from: fd, minimumSpace: min(room, 64 * 1024), maximum: room) {
            case .bytes:
                if finishing { inBuffer.clear() } else { fresh = true }
            case .wouldBlock:
                break reading
            case .eof:
                if fresh { delegate?.socketReceived(self) }
                if closed { return }
                readClosed = true
                if finishing { closeNow(error: nil); return }
                updateInterest()
                delegate?.socketReadClosed(self)
                return
            case .error(let e):
                fail(e)
                return
            }
        }
        if fresh && !closed { delegate?.socketReceived(self) }
    }

    // MARK: output

    func write(_ bytes: UnsafeRawBufferPointer) {
        guard !closed, !writeShut else { return }
        outBuffer.append(bytes)
        flush()
    }

    func write(_ bytes: [UInt8]) { bytes.withUnsafeBytes { write($0) } }

    /// Writes what the socket takes now; the rest waits for EPOLLOUT.
    func flush() {
        guard !closed, !writeShut else { return }
        while !outBuffer.isEmpty {
            switch outBuffer.write(to: fd) {
            case .bytes:
                continue
            case .wouldBlock:
                if outBuffer.readableBytes >= BridgeSocket.highWatermark { wasAboveHigh = true }
                updateInterest()
                return
            case .eof:
                fail(EPIPE)
                return
            case .error(let e):
                fail(e)
                return
            }
        }
        if finishing { shutWrite() }
        updateInterest()
        if wasAboveHigh && outBuffer.readableBytes < BridgeSocket.lowWatermark {
            wasAboveHigh = false
            delegate?.socketWritable(self)
        }
    }

    /// Ends the connection politely: flush, half-close, read and drop whatever the peer still
    /// sends until its EOF (at most `linger` seconds), then close and report `socketClosed(error: nil)`.
    func finishAfterFlush(linger: Double = 5) {
        guard !closed, !finishing else { return }
        finishing = true
        inBuffer.clear()
        lingerTimer = loop.schedule(afterSeconds: linger) { [weak self] in self?.closeNow(error: nil) }
        if outBuffer.isEmpty { shutWrite() }
        if readClosed && writeShut { closeNow(error: nil); return }
        updateInterest()
    }

    private func shutWrite() {
        guard !writeShut else { return }
        writeShut = true
        Socket.shutdownWrite(fd)
        if readClosed { closeNow(error: nil) }
    }

    // MARK: epoll

    private func updateInterest() {
        guard !closed else { return }
        var want: IOEvents = []
        if !readClosed && (finishing || !inputPaused) { want.insert(.input) }
        if !outBuffer.isEmpty && !writeShut { want.insert(.output) }
        // Not reading after the peer's FIN would spin (RDHUP is level-triggered and always in the
        // loop's mask): go off epoll and poll the output instead.
        if !want.contains(.input) && peerHangupSeen {
            setRegistration(nil)
            if want.contains(.output) && pollTimer == nil {
                pollTimer = loop.schedule(afterSeconds: 0.005) { [weak self] in
                    guard let self else { return }
                    self.pollTimer = nil
                    self.flush()
                }
            }
            return
        }
        setRegistration(want.isEmpty ? nil : want)
    }

    private func setRegistration(_ events: IOEvents?) {
        if events == registered { return }
        if let events {
            if registered == nil {
                do { try loop.register(fd: fd, events: events, handler: self) } catch {
                    fail(errno == 0 ? EBADF : errno); return
                }
            } else {
                loop.setInterest(fd: fd, events)
            }
        } else {
            loop.unregister(fd: fd)
        }
        registered = events
    }

    func handleEvent(fd: Int32, events: IOEvents) {
        guard !closed else { return }
        if events.contains(.readHangup) || events.contains(.hangup) { peerHangupSeen = true }
        if events.contains(.output) || (events.contains(.error) && !outBuffer.isEmpty) { flush() }
        if closed { return }
        let wantsInput = !readClosed && (finishing || !inputPaused)
        if wantsInput && (events.contains(.input) || events.contains(.readHangup) || events.contains(.hangup) || events.contains(.error)) {
            readAvailable(budget: 16)
        } else if events.contains(.error) {
            let e = Socket.pendingError(fd)
            fail(e == 0 ? ECONNRESET : e)
        } else if !wantsInput {
            updateInterest()
        }
    }

    // MARK: closing

    private func fail(_ error: Int32) {
        closeNow(error: error)
    }

    /// Closes at once; the delegate hears about it from a deferred task.
    func closeNow(error: Int32?) {
        guard !closed else { return }
        closed = true
        setRegistration(nil)
        if let t = pollTimer { loop.cancel(t); pollTimer = nil }
        if let t = lingerTimer { loop.cancel(t); lingerTimer = nil }
        Syscall.close(fd)
        outBuffer.clear()
        inBuffer.clear()
        loop.defer_ { [self] in
            let d = delegate
            delegate = nil
            d?.socketClosed(self, error: error)
        }
    }
}
