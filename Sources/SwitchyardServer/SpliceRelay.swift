import Glibc
import SwitchyardOS
import CSwitchyardShims

/// Relays an upgraded, transparent stream (CGI pipes, SCGI/uwsgi socket) in the kernel with
/// splice(2): the bytes never enter user space. Where neither end of a direction is a pipe
/// (socket to socket) a pipe of its own sits in between.
///
/// splice's EAGAIN does not say which end blocked; FIONREAD on the source does: data waiting in
/// the source means the destination is full.
final class SpliceRelay: EventHandler {
    /// One direction of the relay.
    private final class Direction {
        let src: Int32
        let dst: Int32
        let midRead: Int32      // -1 when src or dst is itself a pipe
        let midWrite: Int32
        var pending = 0         // bytes parked in the middle pipe
        var srcEOF = false
        var done = false
        var wantSrc = true
        var wantDst = false
        var lastProgress: UInt64 = 0

        init(src: Int32, dst: Int32, needsPipe: Bool) throws {
            self.src = src
            self.dst = dst
            if needsPipe {
                let p = try Pipe.make(size: 1 << 20)
                midRead = p.read
                midWrite = p.write
            } else {
                midRead = -1
                midWrite = -1
            }
        }

        func closePipe() {
            if midRead >= 0 { close(midRead); close(midWrite) }
        }
    }

    private let loop: EventLoop
    private weak var worker: Worker?
    /// Told once when the relay closes: `clean` when the backend ended the stream (its EOF was
    /// relayed), false when the client left, a timeout hit or the server stopped.
    private var onClose: ((_ clean: Bool) -> Void)?
    /// When the client's FIN arrived: the backend gets `clientGoneGrace` to finish, then the relay
    /// closes (a backend that never reads stdin would otherwise hold it open forever).
    private var clientEOFAt: UInt64 = 0
    static let clientGoneGrace: UInt64 = 5_000_000_000
    private let clientFD: Int32
    private let backendRead: Int32
    private let backendWrite: Int32
    private let up: Direction      // client -> backend
    private let down: Direction    // backend -> client
    private let label: String
    private let errorLog: ErrorLog
    private let writeIdle: UInt64
    /// The backend's read-timeout (0: none): no byte from the backend for this long closes the relay,
    /// as on the exchange's own relay path.
    private let readTimeout: UInt64
    /// Bytes the client sent right behind its handshake (already in user space): written to the
    /// backend, without blocking, before anything is spliced in that direction.
    private var clientLeftover: ByteBuffer?
    private var closed = false
    private var tickTimer: TimerID?
    private static let chunk = 1 << 20

    /// The route's counters: this relay holds one of its open-upgraded gauge and adds what splice moved.
    private var stats: RouteStats?

    static func start(worker: Worker, clientFD: Int32, clientInput: ByteBuffer, backendRead: Int32, backendWrite: Int32,
                      label: String, errorLog: ErrorLog, writeIdle: Int, readTimeout: Int, stats: RouteStats? = nil,
                      onClose: ((_ clean: Bool) -> Void)?) {
        do {
            let relay = try SpliceRelay(loop: worker.loop, clientFD: clientFD, backendRead: backendRead, backendWrite: backendWrite,
                                        label: label, errorLog: errorLog, writeIdle: writeIdle, readTimeout: readTimeout)
            relay.worker = worker
            relay.stats = stats
            relay.onClose = onClose
            worker.relayStarted(relay)
            relay.begin(clientInput: clientInput)
        } catch {
            stats?.openUpgraded -= 1
            onClose?(false)
            errorLog.error(label, "splice relay: \(error)")
            close(clientFD)
            close(backendRead)
            if backendWrite != backendRead { close(backendWrite) }
        }
    }

    private init(loop: EventLoop, clientFD: Int32, backendRead: Int32, backendWrite: Int32, label: String,
                 errorLog: ErrorLog, writeIdle: Int, readTimeout: Int) throws {
        self.loop = loop
        self.clientFD = clientFD
        self.backendRead = backendRead
        self.backendWrite = backendWrite
        self.label = label
        self.errorLog = errorLog
        self.writeIdle = Seconds.nanoseconds(writeIdle)
        self.readTimeout = Seconds.nanoseconds(readTimeout)
        let backendIsPipe = backendRead != backendWrite
        let up = try Direction(src: clientFD, dst: backendWrite, needsPipe: !backendIsPipe)
        do {
            down = try Direction(src: backendRead, dst: clientFD, needsPipe: !backendIsPipe)
        } catch {
            up.closePipe()   // out of descriptors between the two pipes: the first must not leak
            throw error
        }
        self.up = up
    }

    private func begin(clientInput: ByteBuffer) {
        up.lastProgress = loop.now
        down.lastProgress = loop.now
        if !clientInput.isEmpty { clientLeftover = clientInput }
        do {
            try loop.register(fd: clientFD, events: [], handler: self)
            try loop.register(fd: backendRead, events: [], handler: self)
            if backendWrite != backendRead { try loop.register(fd: backendWrite, events: [], handler: self) }
        } catch {
            shutdown("register: \(error)")
            return
        }
        pump(up)
        pump(down)
        updateInterest()
        scheduleTick()
    }

    private func scheduleTick() {
        tickTimer = loop.schedule(afterSeconds: 1) { [weak self] in
            guard let self, !self.closed else { return }
            if self.writeIdle > 0 && self.down.wantDst && self.loop.now - self.down.lastProgress > self.writeIdle {
                self.errorLog.info(self.label, "client did not read for \(self.writeIdle / 1_000_000_000) s (server.max-write-idle): closing")
                self.shutdown(nil)
                return
            }
            if self.readTimeout > 0 && self.loop.now - self.down.lastProgress > self.readTimeout {
                self.shutdown("no data from the backend for \(self.readTimeout / 1_000_000_000) s (read-timeout)")
                return
            }
            if self.clientEOFAt > 0 && self.loop.now - self.clientEOFAt > SpliceRelay.clientGoneGrace {
                self.shutdown("the client closed and the backend did not finish within \(SpliceRelay.clientGoneGrace / 1_000_000_000) s")
                return
            }
            self.scheduleTick()
        }
    }

    func handleEvent(fd: Int32, events: IOEvents) {
        guard !closed else { return }
        // Pump only the direction this readiness concerns: an idle direction would cost a
        // splice that fails with EAGAIN plus a FIONREAD on every message.
        let broken = !events.isDisjoint(with: [.error, .hangup, .readHangup])
        var pumpUp = broken, pumpDown = broken
        if fd == clientFD {
            if events.contains(.input) { pumpUp = true }
            if events.contains(.output) { pumpDown = true }
        } else {
            if fd == backendRead && events.contains(.input) { pumpDown = true }
            if fd == backendWrite && events.contains(.output) { pumpUp = true }
        }
        if pumpUp { pump(up) }
        if closed { return }
        if pumpDown { pump(down) }
        if closed { return }
        updateInterest()
    }

    /// Moves as much as possible in one direction without blocking.
    private func pump(_ d: Direction) {
        guard !d.done, !closed else { return }
        if d === up, !writeClientLeftover() { return }
        var rounds = 0
        while rounds < 32 {
            rounds += 1
            if d.midRead >= 0 {
                // socket -> pipe -> socket
                if !d.srcEOF && d.pending < SpliceRelay.chunk {
                    switch Pipe.splice(from: d.src, to: d.midWrite, count: SpliceRelay.chunk - d.pending) {
                    case .bytes(let n): d.pending += n; d.lastProgress = loop.now
                    case .eof: d.srcEOF = true
                    case .wouldBlock: break
                    case .error(let e): return failed(d, e)
                    }
                }
                if d.pending > 0 {
                    switch Pipe.splice(from: d.midRead, to: d.dst, count: d.pending) {
                    case .bytes(let n): d.pending -= n; d.lastProgress = loop.now; moved(n, d); continue
                    case .wouldBlock, .eof:
                        d.wantDst = true
                        d.wantSrc = !d.srcEOF && d.pending < SpliceRelay.chunk
                        return
                    case .error(let e): return failed(d, e)
                    }
                }
                if d.srcEOF { return directionFinished(d) }
                d.wantDst = false
                d.wantSrc = true
                // Loop again only if the last fill moved bytes.
                var avail: Int32 = 0
                if sy_fionread(d.src, &avail) != 0 || avail == 0 { return }
            } else {
                switch Pipe.splice(from: d.src, to: d.dst, count: SpliceRelay.chunk) {
                case .bytes(let n):
                    d.lastProgress = loop.now
                    moved(n, d)
                    // Back to epoll rather than a second splice that would mostly say EAGAIN:
                    // readiness is level-triggered, so bytes still waiting (or an EOF) come
                    // straight back, and a full destination shows up as EAGAIN there.
                    d.wantSrc = true
                    d.wantDst = false
                    return
                case .eof:
                    d.srcEOF = true
                    return directionFinished(d)
                case .wouldBlock:
                    var avail: Int32 = 0
                    let srcHasData = sy_fionread(d.src, &avail) == 0 && avail > 0
                    d.wantDst = srcHasData
                    d.wantSrc = !srcHasData
                    return
                case .error(let e):
                    return failed(d, e)
                }
            }
        }
    }

    /// Counts bytes that reached their destination (what splice moved, per direction).
    private func moved(_ n: Int, _ d: Direction) {
        if d === down { worker?.stats.bytesSent += n }
        guard let stats else { return }
        if d === up { stats.bytesFromClients += n } else { stats.bytesToClients += n }
    }

    /// Writes what the client sent behind its handshake; true once it is all out.
    private func writeClientLeftover() -> Bool {
        guard let buffer = clientLeftover else { return true }
        while !buffer.isEmpty {
            switch buffer.write(to: backendWrite) {
            case .bytes(let n):
                up.lastProgress = loop.now
                moved(n, up)
            case .wouldBlock:
                up.wantDst = true
                up.wantSrc = false
                return false
            case .eof:
                failed(up, EPIPE)
                return false
            case .error(let e):
                failed(up, e)
                return false
            }
        }
        clientLeftover = nil
        return true
    }

    private func failed(_ d: Direction, _ e: Int32) {
        if d === up && (e == EPIPE || e == ECONNRESET) {
            // The backend stopped reading (a CGI that exited): its last frames may still sit in its
            // stdout, so stop this direction only and keep draining the other one to EOF.
            d.done = true
            d.wantSrc = false
            d.wantDst = false
            closeBackendWrite()
            return
        }
        if d === down && d.src == backendRead && e != EPIPE && e != ECONNRESET {
            errorLog.info(label, "relay: \(String(cString: strerror(e)))")
        }
        shutdown(nil)
    }

    private func directionFinished(_ d: Direction) {
        d.done = true
        d.wantSrc = false
        d.wantDst = false
        if d === up {
            // Client FIN -> backend sees EOF on its stdin (or a half-closed socket).
            clientEOFAt = loop.now
            closeBackendWrite()
        } else {
            // Backend finished: everything it wrote has been spliced out; close the client.
            shutdown(nil)
        }
    }

    private var backendWriteClosed = false
    private func closeBackendWrite() {
        guard !backendWriteClosed else { return }
        backendWriteClosed = true
        if backendWrite != backendRead {
            loop.unregister(fd: backendWrite)
            close(backendWrite)
        } else {
            Socket.shutdownWrite(backendWrite)
        }
    }

    private func updateInterest() {
        guard !closed else { return }
        var client: IOEvents = []
        if up.wantSrc && !up.done { client.insert(.input) }
        if down.wantDst && !down.done { client.insert(.output) }
        loop.setInterest(fd: clientFD, client)
        var backendIn: IOEvents = []
        if down.wantSrc && !down.done { backendIn.insert(.input) }
        if backendWrite == backendRead {
            if up.wantDst && !up.done && !backendWriteClosed { backendIn.insert(.output) }
            loop.setInterest(fd: backendRead, backendIn)
        } else {
            loop.setInterest(fd: backendRead, backendIn)
            if !backendWriteClosed { loop.setInterest(fd: backendWrite, up.wantDst && !up.done ? .output : []) }
        }
    }

    /// Closes both sides (graceful stop deadline or worker shutdown).
    func forceClose() { shutdown(nil) }

    /// Graceful stop, first step: the backend sees EOF on its input (stdin or a half-closed
    /// socket) and may still send its own closing bytes (a WebSocket CLOSE frame) to the client.
    func closeBackendInput() {
        guard !closed else { return }
        up.done = true
        up.wantSrc = false
        up.wantDst = false
        closeBackendWrite()
        updateInterest()
    }

    private func shutdown(_ reason: String?) {
        guard !closed else { return }
        closed = true
        stats?.openUpgraded -= 1
        stats = nil
        let clean = down.srcEOF
        defer {
            let cb = onClose
            onClose = nil
            cb?(clean)
            worker?.relayClosed(self)
        }
        if let reason { errorLog.info(label, "relay closed: \(reason)") }
        if let t = tickTimer { loop.cancel(t) }
        loop.unregister(fd: clientFD)
        loop.unregister(fd: backendRead)
        close(clientFD)
        close(backendRead)
        if !backendWriteClosed && backendWrite != backendRead {
            loop.unregister(fd: backendWrite)
            close(backendWrite)
        }
        up.closePipe()
        down.closePipe()
    }
}
