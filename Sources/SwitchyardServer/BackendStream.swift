import Glibc
import SwitchyardOS
import SwitchyardGatewayCodecs

/// Receives what a backend stream produces.
protocol BackendStreamDelegate: AnyObject {
    func streamConnected()
    func streamStdout(_ bytes: UnsafeRawBufferPointer)
    func streamStderr(_ bytes: UnsafeRawBufferPointer)
    /// The backend can take more request bytes again.
    func streamWritable()
    /// The exchange is over: clean EOF / END_REQUEST (`error` nil) or a failure.
    func streamEnded(_ error: BackendFailure?, protocolStatus: UInt8?)
}

/// Why a backend exchange failed, with enough context for the log line and the status code.
enum BackendFailure: Error, CustomStringConvertible {
    case connectFailed(String)      // 503
    case spawnFailed(String)        // 500
    case ioError(String)            // 502
    case protocolError(String)      // 502
    case timeout(String)            // 504
    case encodeFailed(String)       // 500: the request could not be put into the backend's protocol
    case notFound(String)           // 404: check-local found no file for this host
    case hostBusy(String)           // 503: the host is at its max-connections in this worker

    var description: String {
        switch self {
        case .connectFailed(let s), .spawnFailed(let s), .ioError(let s), .protocolError(let s), .timeout(let s),
             .encodeFailed(let s), .notFound(let s), .hostBusy(let s): return s
        }
    }

    var status: Int {
        switch self {
        case .connectFailed, .hostBusy: return 503
        case .spawnFailed, .encodeFailed: return 500
        case .notFound: return 404
        case .ioError, .protocolError: return 502
        case .timeout: return 504
        }
    }
}

/// What `GatewayExchange` needs from a backend exchange's transport, whether the exchange owns its
/// fds (`FDBackendStream`) or shares a multiplexed FastCGI connection (`FastCGIMuxStream`).
protocol BackendStream: AnyObject {
    var delegate: BackendStreamDelegate? { get set }
    var lastActivity: UInt64 { get }
    var pendingWriteBytes: Int { get }
    /// A non-blocking connect has not completed yet (connect-timeout applies).
    var isConnecting: Bool { get }
    /// The stream has ended (end of output, failure or abort) and let go of its backend.
    var isFinished: Bool { get }
    /// Queues request bytes; false when the backend is behind (the client should pause).
    func send(_ bytes: UnsafeRawBufferPointer) -> Bool
    func endBody(upgraded: Bool)
    func pauseReading()
    func resumeReading()
    /// The client went away: tell the backend if the protocol can, release everything, no callbacks.
    func abort()
    func fail(_ failure: BackendFailure)
}

/// A byte-stream transport to one backend exchange: CGI pipes (separate read and write fds) or a
/// socket (one fd). It owns the fds, buffers encoded request bytes with a bound (backpressure
/// towards the client), decodes response bytes through the codec, and honours pause/resume from
/// the client side. Shared by CGI, SCGI, uwsgi and non-multiplexed FastCGI.
final class FDBackendStream: EventHandler, BackendStream {
    let loop: EventLoop
    let codec: BackendCodec
    private(set) var readFD: Int32
    private(set) var writeFD: Int32
    private var connecting: Bool
    weak var delegate: BackendStreamDelegate?
    let label: String

    let outBuffer = ByteBuffer(capacity: 16 * 1024)
    private let inBuffer = ByteBuffer(capacity: 16 * 1024)
    private var readPaused = false
    private var writeShutdownPending = false
    private var writeClosed = false
    private var readClosed = false
    private var ended = false
    private(set) var lastActivity: UInt64
    /// Called after the stream closed its fds (lets the pool count load / reuse connections).
    var onClose: ((_ clean: Bool) -> Void)?

    static let writeHighWatermark = 256 * 1024

    /// `writeFD == readFD` for sockets. `connecting` = a non-blocking connect is in progress.
    init(loop: EventLoop, codec: BackendCodec, readFD: Int32, writeFD: Int32, connecting: Bool, label: String) {
        self.loop = loop
        self.codec = codec
        self.readFD = readFD
        self.writeFD = writeFD
        self.connecting = connecting
        self.label = label
        self.lastActivity = loop.now
    }

    var isSocket: Bool { readFD == writeFD }
    var isConnecting: Bool { connecting }
    var isFinished: Bool { ended }

    func register() throws {
        if isSocket {
            try loop.register(fd: readFD, events: connecting ? .output : [.input, .output], handler: self)
        } else {
            try loop.register(fd: readFD, events: .input, handler: self)
            try loop.register(fd: writeFD, events: [], handler: self)
        }
        updateInterest()
    }

    // MARK: request side

    func start(_ request: BackendRequest, keepConnection: Bool = false) throws {
        try codec.encodeRequestStart(request, keepConnection: keepConnection, out: outBuffer)
        flushWrites()
    }

    /// Queues request bytes; false when the backend is behind by more than the watermark.
    func send(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard !writeClosed else { return true }
        codec.encodeBody(bytes, out: outBuffer)
        flushWrites()
        return outBuffer.readableBytes < FDBackendStream.writeHighWatermark
    }

    func endBody(upgraded: Bool) {
        guard !writeClosed, !writeShutdownPending else { return }
        if codec.encodeBodyEnd(upgraded: upgraded, out: outBuffer) { writeShutdownPending = true }
        flushWrites()
    }

    var pendingWriteBytes: Int { outBuffer.readableBytes }

    /// Returns burst-sized buffers of a quiet stream to the allocator, so a thousand idle
    /// WebSockets do not each keep 64 KiB (called from the exchange's once-a-second tick).
    func shrinkIdleBuffers() {
        inBuffer.shrinkIfIdle(to: 4 * 1024)
        outBuffer.shrinkIfIdle(to: 4 * 1024)
    }

    private func flushWrites() {
        guard !connecting, !writeClosed else { return }
        while !outBuffer.isEmpty {
            switch outBuffer.write(to: writeFD) {
            case .bytes:
                lastActivity = loop.now
                continue
            case .wouldBlock:
                updateInterest()
                return
            case .eof, .error:
                // The backend stopped reading (CGI exited or closed stdin). Its output may still be
                // in flight: stop writing, keep reading until EOF.
                outBuffer.clear()
                closeWriteSide()
                return
            }
        }
        if writeShutdownPending { closeWriteSide() }
        updateInterest()
        delegate?.streamWritable()
    }

    private func closeWriteSide() {
        guard !writeClosed else { return }
        writeClosed = true
        writeShutdownPending = false
        if isSocket {
            Socket.shutdownWrite(writeFD)
        } else {
            loop.unregister(fd: writeFD)
            Glibc.close(writeFD)
            writeFD = -1
        }
        updateInterest()
    }

    // MARK: response side

    func pauseReading() {
        guard !readPaused else { return }
        readPaused = true
        updateInterest()
    }

    func resumeReading() {
        guard readPaused else { return }
        readPaused = false
        updateInterest()
    }

    private func updateInterest() {
        if ended { return }
        if isSocket {
            var ev: IOEvents = []
            if connecting { ev.insert(.output) }
            else {
                if !readPaused && !readClosed { ev.insert(.input) }
                if !outBuffer.isEmpty && !writeClosed { ev.insert(.output) }
            }
            loop.setInterest(fd: readFD, ev)
        } else {
            if !readClosed { loop.setInterest(fd: readFD, readPaused ? [] : .input) }
            if !writeClosed && writeFD >= 0 { loop.setInterest(fd: writeFD, outBuffer.isEmpty ? [] : .output) }
        }
    }

    func handleEvent(fd: Int32, events: IOEvents) {
        if connecting {
            let err = Socket.pendingError(fd)
            if err != 0 {
                fail(.connectFailed("connect(\(label)): \(String(cString: strerror(err)))"))
                return
            }
            connecting = false
            lastActivity = loop.now
            delegate?.streamConnected()
            flushWrites()
            updateInterest()
            if ended { return }
        }
        if fd == writeFD && !isSocket {
            if events.contains(.error) && !events.contains(.output) { outBuffer.clear(); closeWriteSide(); return }
            flushWrites()
            return
        }
        if isSocket && events.contains(.output) { flushWrites() }
        if ended { return }
        if fd == readFD && !readPaused && (events.contains(.input) || events.contains(.hangup) || events.contains(.error) || events.contains(.readHangup)) {
            readAvailable(hangup: events.contains(.hangup) || events.contains(.readHangup))
        }
    }

    /// Reads until the fd is drained, EOF, or the client pushes back. A pipe whose writer already
    /// exited can report its last data and the hang-up in one event, so on hang-up we read to EOF.
    private func readAvailable(hangup: Bool) {
        var rounds = 0
        while !ended && !readPaused && !readClosed {
            rounds += 1
            if rounds > 16 && !hangup { return }
            switch inBuffer.read(from: readFD, minimumSpace: 64 * 1024) {
            case .bytes:
                lastActivity = loop.now
                decodeBuffered()
            case .wouldBlock:
                return
            case .eof:
                readClosed = true
                if inBuffer.readableBytes > 0 && !codec.isTransparent {
                    fail(.protocolError("\(codec.name) backend \(label) closed the connection in the middle of a record"))
                    return
                }
                if !codec.isTransparent {
                    // A record protocol ends with its end record (FCGI_END_REQUEST), which finishes
                    // the stream before EOF is read: EOF first means the application died, and a
                    // body without Content-Length must not be terminated as if it were complete.
                    fail(.ioError("\(label): application closed the connection before FCGI_END_REQUEST"))
                    return
                }
                finish(nil, protocolStatus: nil)
                return
            case .error(let e):
                if e == ECONNRESET && isSocket {
                    fail(.ioError("\(label): connection reset by backend"))
                } else {
                    fail(.ioError("read(\(label)): \(String(cString: strerror(e)))"))
                }
                return
            }
        }
    }

    private func decodeBuffered() {
        do {
            let used = try codec.decode(inBuffer.readable) { event in
                guard !ended else { return }
                switch event {
                case .stdout(let b): delegate?.streamStdout(b)
                case .stderr(let b): delegate?.streamStderr(b)
                case .end(_, let ps): finish(nil, protocolStatus: ps)
                }
            }
            if !ended { inBuffer.consume(used) }
        } catch {
            fail(.protocolError("\(label): \(error)"))
        }
    }

    // MARK: ending

    func fail(_ failure: BackendFailure) {
        finish(failure, protocolStatus: nil)
    }

    private func finish(_ failure: BackendFailure?, protocolStatus: UInt8?) {
        guard !ended else { return }
        ended = true
        closeFDs(clean: failure == nil)
        let d = delegate
        delegate = nil
        d?.streamEnded(failure, protocolStatus: protocolStatus)
    }

    /// The client went away: tell the backend if the protocol can, then close.
    func abort() {
        guard !ended else { return }
        if !connecting && !writeClosed && codec.encodeAbort(out: outBuffer) {
            _ = outBuffer.write(to: writeFD)
        }
        ended = true
        delegate = nil
        closeFDs(clean: false)
    }

    private func closeFDs(clean: Bool) {
        if readFD >= 0 { loop.unregister(fd: readFD) }
        if !isSocket && writeFD >= 0 { loop.unregister(fd: writeFD); Glibc.close(writeFD) }
        if readFD >= 0 { Glibc.close(readFD) }
        readFD = -1
        writeFD = -1
        onClose?(clean)
        onClose = nil
    }

    /// Closes the descriptors of a stream whose `register()` failed (unregistering what was registered).
    func closeUnregistered() {
        ended = true
        delegate = nil
        closeFDs(clean: false)
    }

    /// Hands the fds to a splice relay (upgraded transparent stream). Returns nil if not possible.
    func detachForRelay() -> (readFD: Int32, writeFD: Int32, pendingOut: ByteBuffer)? {
        guard !ended, !connecting, codec.isTransparent, inBuffer.isEmpty, !writeClosed else { return nil }
        ended = true
        delegate = nil
        loop.unregister(fd: readFD)
        if !isSocket { loop.unregister(fd: writeFD) }
        let r = (readFD, writeFD, outBuffer)
        readFD = -1
        writeFD = -1
        return r
    }
}
