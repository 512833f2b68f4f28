import Glibc
import SwitchyardOS

/// One gateway connection's socket: an input buffer the protocol subclass parses in place, an
/// output buffer replies are encoded into, and the rules for reading, writing and ending.
///
/// - One read per readiness event (more only while reads fill the buffer), every decodable
///   message handled, then one write for the whole batch.
/// - Backpressure: above `outputHighWatermark` bytes of unsent output the connection stops
///   reading until the output drains below `outputLowWatermark`.
/// - Ending (`closeAfterFlush`): input is read and dropped, the output flushed, the write side
///   shut, and the socket closed at the peer's EOF (or after `lingerSeconds`), so unread input
///   never turns into a reset that destroys the last reply.
/// - Level-triggered epoll always reports EPOLLRDHUP (the loop adds it to every mask). When we are
///   not reading after the peer's FIN that would spin, so the socket then leaves epoll and pending
///   output is retried on a 5 ms timer (rare: a backlog towards a peer that half-closed).
class EchoConnection: EventHandler {
    static let outputHighWatermark = 1 << 20
    static let outputLowWatermark = 256 << 10
    static let initialBufferSize = 16 * 1024
    static let readReserve = 16 * 1024
    static let lingerSeconds = 2.0
    /// Events that mean "try a read" (an array literal here would allocate per event in debug builds).
    private static let readableEvents = IOEvents(rawValue: IOEvents.input.rawValue | IOEvents.readHangup.rawValue
                                                 | IOEvents.hangup.rawValue | IOEvents.error.rawValue)

    let fd: Int32
    unowned let server: EchoServer
    let inBuffer = ByteBuffer(capacity: EchoConnection.initialBufferSize)
    let outBuffer = ByteBuffer(capacity: EchoConnection.initialBufferSize)
    /// Monotonic time of the last input (for the idle buffer trim).
    private(set) var lastActivity: UInt64

    private(set) var closed = false
    /// `closeAfterFlush` was called: input is dropped from now on.
    private(set) var discarding = false
    private var readClosed = false
    private var writeShut = false
    private var paused = false
    private var peerHangup = false
    private var registered: IOEvents? = nil
    private var pollTimer: TimerID?
    private var lingerTimer: TimerID?

    init(fd: Int32, server: EchoServer) {
        self.fd = fd
        self.server = server
        lastActivity = server.loop.now
    }

    var loop: EventLoop { server.loop }
    var log: EchoLog { server.log }

    func start() { updateInterest() }

    // MARK: subclass hooks

    /// New bytes are in `inBuffer`: handle every complete message, consume what was used.
    func inputReceived() {}

    /// The peer half-closed (EOF). Default: finish the output, then close.
    func inputEnded() { closeAfterFlush() }

    /// Give back memory that grew for a burst (called when idle).
    func trimBuffers() {
        inBuffer.shrinkIfIdle(to: EchoConnection.initialBufferSize)
        outBuffer.shrinkIfIdle(to: EchoConnection.initialBufferSize)
    }

    // MARK: events

    final func handleEvent(fd: Int32, events: IOEvents) {
        guard !closed else { return }
        if events.contains(.readHangup) || events.contains(.hangup) { peerHangup = true }
        if events.contains(.output) { flush() }
        guard !closed else { return }
        if wantsInput && !events.isDisjoint(with: EchoConnection.readableEvents) {
            readInput()
            if !closed { flush() }  // one write for everything the batch produced
        } else if events.contains(.error) {
            closeNow()
        }
        if !closed { updateInterest() }
    }

    private var wantsInput: Bool { !readClosed && (discarding || !paused) }

    private func readInput() {
        var rounds = 0
        while !closed && wantsInput && rounds < 8 {
            rounds += 1
            if discarding { inBuffer.clear() }
            inBuffer.reserve(EchoConnection.readReserve)
            let space = inBuffer.writableBytes
            switch Syscall.read(fd, inBuffer.writePointer, space) {
            case .bytes(let n):
                inBuffer.commit(n)
                if discarding { inBuffer.clear(); continue }
                lastActivity = loop.now
                inputReceived()
                if !closed && outBuffer.readableBytes > EchoConnection.outputHighWatermark {
                    flush()
                    if !closed && outBuffer.readableBytes > EchoConnection.outputHighWatermark { paused = true }
                }
                if n < space { return }
            case .wouldBlock:
                return
            case .eof:
                readClosed = true
                peerHangup = true
                if discarding { if writeShut { closeNow() }; return }
                inputEnded()
                return
            case .error:
                closeNow()
                return
            }
        }
    }

    // MARK: output

    /// Writes what the socket takes now; a short write means the socket is full (wait for EPOLLOUT).
    final func flush() {
        guard !closed, !writeShut else { return }
        writing: while !outBuffer.isEmpty {
            let want = outBuffer.readableBytes
            switch Syscall.send(fd, outBuffer.readPointer, want) {
            case .bytes(let n):
                outBuffer.consume(n)
                if n < want { break writing }   // socket buffer full: no EAGAIN round trip
            case .wouldBlock:
                break writing
            case .eof, .error:
                closeNow()
                return
            }
        }
        if paused && outBuffer.readableBytes < EchoConnection.outputLowWatermark {
            paused = false
        }
        if outBuffer.isEmpty && discarding { shutWrite() }
    }

    /// Ends the connection once the output is written (see the type's comment).
    final func closeAfterFlush() {
        guard !closed, !discarding else { return }
        discarding = true
        inBuffer.clear()
        flush()
        if !closed { updateInterest() }
    }

    private func shutWrite() {
        guard !writeShut, !closed else { return }
        writeShut = true
        Socket.shutdownWrite(fd)
        if readClosed { closeNow(); return }
        lingerTimer = loop.schedule(afterSeconds: EchoConnection.lingerSeconds) { [weak self] in self?.closeNow() }
    }

    // MARK: epoll

    final func updateInterest() {
        guard !closed else { return }
        var want = IOEvents(rawValue: 0)
        let reading = wantsInput
        if reading { want.insert(.input) }
        if !outBuffer.isEmpty && !writeShut { want.insert(.output) }
        if !reading && peerHangup {
            setRegistration(nil)
            if want.contains(.output) && pollTimer == nil {
                pollTimer = loop.schedule(afterSeconds: 0.005) { [weak self] in
                    guard let self, !self.closed else { return }
                    self.pollTimer = nil
                    self.flush()
                    self.updateInterest()
                }
            }
            return
        }
        setRegistration(want)
    }

    private func setRegistration(_ events: IOEvents?) {
        if events == registered { return }
        if let events {
            if registered == nil {
                do { try loop.register(fd: fd, events: events, handler: self) } catch {
                    closeNow()
                    return
                }
            } else {
                loop.setInterest(fd: fd, events)
            }
        } else {
            loop.unregister(fd: fd)
        }
        registered = events
    }

    // MARK: closing

    /// Closes at once (malformed input, I/O error, end of lingering).
    final func closeNow() {
        guard !closed else { return }
        closed = true
        if registered != nil { loop.unregister(fd: fd) }
        registered = nil
        if let t = pollTimer { loop.cancel(t); pollTimer = nil }
        if let t = lingerTimer { loop.cancel(t); lingerTimer = nil }
        Syscall.close(fd)
        connectionClosed()
        server.forget(self)
    }

    /// Hook: release per-connection state (the socket is already closed).
    func connectionClosed() {}
}
