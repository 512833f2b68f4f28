import Glibc
import SwitchyardOS
import CSwitchyardShims

/// One upgraded, transparent stream (CGI pipes, SCGI/uwsgi/proxy socket) relayed in the kernel
/// with splice(2): the bytes never enter user space. Where neither end of a direction is a pipe
/// (socket to socket) a pipe of its own sits in between.
///
/// A value in its worker's `SpliceRelays` table, not an object: an idle WebSocket can live for
/// days, and what it keeps must not pin the pages its handshake's freed objects used (see
/// `SlotTable`). Its methods only move bytes and update this state; what touches the worker
/// (counters, callbacks, closing) is the table's, told through `SpliceStep`.
///
/// splice's EAGAIN does not say which end blocked; FIONREAD on the source does: data waiting in
/// the source means the destination is full.
struct SpliceRelay {
    /// One direction of the relay.
    struct Direction {
        let src: Int32
        let dst: Int32
        var midRead: Int32 = -1      // -1 when src or dst is itself a pipe
        var midWrite: Int32 = -1
        var pending = 0              // bytes parked in the middle pipe
        var srcEOF = false
        var done = false
        var wantSrc = true
        var wantDst = false
        var lastProgress: UInt64 = 0
        /// Bytes that reached the destination since the table last counted them.
        var moved = 0

        /// A direction without a pipe of its own (a vacant table slot's).
        init(src: Int32, dst: Int32) {
            self.src = src
            self.dst = dst
        }

        init(src: Int32, dst: Int32, needsPipe: Bool) throws {
            self.src = src
            self.dst = dst
            if needsPipe {
                let p = try Pipe.make(size: 1 << 20)
                midRead = p.read
                midWrite = p.write
            }
        }

        func closePipe() {
            if midRead >= 0 { close(midRead); close(midWrite) }
        }

        mutating func stop() {
            done = true
            wantSrc = false
            wantDst = false
        }
    }

    /// What a pump asks of the table.
    enum Step: Equatable {
        case open
        /// Close the relay; `log` (if any) goes to the error log as info.
        case close(log: String?)
    }

    static let clientGoneGrace: UInt64 = 5_000_000_000
    static let chunk = 1 << 20

    let clientFD: Int32
    let backendRead: Int32
    let backendWrite: Int32
    var up: Direction      // client -> backend
    var down: Direction    // backend -> client
    /// When the client's FIN arrived: the backend gets `clientGoneGrace` to finish, then the relay
    /// closes (a backend that never reads stdin would otherwise hold it open forever).
    var clientEOFAt: UInt64 = 0
    var backendWriteClosed = false
    let writeIdle: UInt64
    /// The backend's read-timeout (0: none): no byte from the backend for this long closes the relay,
    /// as on the exchange's own relay path.
    let readTimeout: UInt64
    /// Bytes the client sent right behind its handshake (already in user space): written to the
    /// backend, without blocking, before anything is spliced in that direction.
    var clientLeftover: ByteBuffer?
    /// Told once when the relay closes (see `SpliceRelays.Release`).
    var release: SpliceRelays.Release
    let label: String

    var backendIsPipe: Bool { backendWrite != backendRead }

    /// What a free slot of the table holds: no descriptors, nothing to release.
    static var vacant: SpliceRelay { SpliceRelay() }

    private init() {
        clientFD = -1
        backendRead = -1
        backendWrite = -1
        up = Direction(src: -1, dst: -1)
        down = Direction(src: -1, dst: -1)
        writeIdle = 0
        readTimeout = 0
        release = SpliceRelays.Release()
        label = ""
    }

    init(clientFD: Int32, backendRead: Int32, backendWrite: Int32, writeIdle: UInt64, readTimeout: UInt64,
         release: SpliceRelays.Release, label: String, now: UInt64) throws {
        self.clientFD = clientFD
        self.backendRead = backendRead
        self.backendWrite = backendWrite
        self.writeIdle = writeIdle
        self.readTimeout = readTimeout
        self.release = release
        self.label = label
        let needsPipe = backendWrite == backendRead
        var up = try Direction(src: clientFD, dst: backendWrite, needsPipe: needsPipe)
        do {
            down = try Direction(src: backendRead, dst: clientFD, needsPipe: needsPipe)
        } catch {
            up.closePipe()   // out of descriptors between the two pipes: the first must not leak
            throw error
        }
        up.lastProgress = now
        down.lastProgress = now
        self.up = up
    }

    /// Moves what it can client → backend (the leftover first).
    mutating func pumpUp(loop: EventLoop) -> Step {
        guard !up.done else { return .open }
        if clientLeftover != nil {
            let step = writeClientLeftover(loop: loop)
            if step != .open || clientLeftover != nil { return step }
        }
        switch SpliceRelay.pump(&up, now: loop.now) {
        case .moving: return .open
        case .finished:
            // Client FIN -> backend sees EOF on its stdin (or a half-closed socket).
            up.stop()
            clientEOFAt = loop.now
            closeBackendWrite(loop: loop)
            return .open
        case .failed(let e): return upFailed(e, loop: loop)
        }
    }

    /// Moves what it can backend → client.
    mutating func pumpDown(loop: EventLoop) -> Step {
        guard !down.done else { return .open }
        switch SpliceRelay.pump(&down, now: loop.now) {
        case .moving: return .open
        case .finished:
            // Backend finished: everything it wrote has been spliced out; close the client.
            down.stop()
            return .close(log: nil)
        case .failed(let e):
            if e != EPIPE && e != ECONNRESET { return .close(log: "relay: \(String(cString: strerror(e)))") }
            return .close(log: nil)
        }
    }

    /// The backend stopped reading (a CGI that exited): its last frames may still sit in its
    /// stdout, so stop this direction only and keep draining the other one to EOF.
    private mutating func upFailed(_ e: Int32, loop: EventLoop) -> Step {
        guard e == EPIPE || e == ECONNRESET else { return .close(log: nil) }
        up.stop()
        closeBackendWrite(loop: loop)
        return .open
    }

    /// Writes what the client sent behind its handshake; `clientLeftover` is nil once it is all out.
    private mutating func writeClientLeftover(loop: EventLoop) -> Step {
        guard let buffer = clientLeftover else { return .open }
        while !buffer.isEmpty {
            switch buffer.write(to: backendWrite) {
            case .bytes(let n):
                up.lastProgress = loop.now
                up.moved += n
            case .wouldBlock:
                up.wantDst = true
                up.wantSrc = false
                return .open
            case .eof:
                return upFailed(EPIPE, loop: loop)
            case .error(let e):
                return upFailed(e, loop: loop)
            }
        }
        clientLeftover = nil
        return .open
    }

    /// Graceful stop, first step: the backend sees EOF on its input (stdin or a half-closed
    /// socket) and may still send its own closing bytes (a WebSocket CLOSE frame) to the client.
    mutating func closeBackendInput(loop: EventLoop) {
        up.stop()
        closeBackendWrite(loop: loop)
    }

    mutating func closeBackendWrite(loop: EventLoop) {
        guard !backendWriteClosed else { return }
        backendWriteClosed = true
        if backendIsPipe {
            loop.unregister(fd: backendWrite)
            close(backendWrite)
        } else {
            Socket.shutdownWrite(backendWrite)
        }
    }

    /// The once-a-second checks: a client that stopped reading, a silent backend, a backend that
    /// outlives its client's FIN by `clientGoneGrace`.
    func timeoutCheck(now: UInt64) -> Step {
        if writeIdle > 0 && down.wantDst && now - down.lastProgress > writeIdle {
            return .close(log: "client did not read for \(writeIdle / 1_000_000_000) s (server.max-write-idle): closing")
        }
        if readTimeout > 0 && now - down.lastProgress > readTimeout {
            return .close(log: "relay closed: no data from the backend for \(readTimeout / 1_000_000_000) s (read-timeout)")
        }
        if clientEOFAt > 0 && now - clientEOFAt > SpliceRelay.clientGoneGrace {
            return .close(log: "relay closed: the client closed and the backend did not finish within \(SpliceRelay.clientGoneGrace / 1_000_000_000) s")
        }
        return .open
    }

    /// The interest each descriptor should have now.
    func interests() -> (client: IOEvents, backendRead: IOEvents, backendWrite: IOEvents) {
        var client: IOEvents = []
        if up.wantSrc && !up.done { client.insert(.input) }
        if down.wantDst && !down.done { client.insert(.output) }
        var backendIn: IOEvents = []
        if down.wantSrc && !down.done { backendIn.insert(.input) }
        let wantWrite = up.wantDst && !up.done && !backendWriteClosed
        if !backendIsPipe {
            if wantWrite { backendIn.insert(.output) }
            return (client, backendIn, [])
        }
        return (client, backendIn, wantWrite ? .output : [])
    }

    /// Closes every descriptor the relay still holds (the table unregistered them).
    func closeDescriptors() {
        close(clientFD)
        close(backendRead)
        if !backendWriteClosed && backendIsPipe { close(backendWrite) }
        up.closePipe()
        down.closePipe()
    }
}
