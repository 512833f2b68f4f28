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
    /// Returns burst-sized buffers of a quiet stream to the allocator (the exchange's tick calls it
    /// after two quiet seconds); the bytes given back.
    func shrinkIdleBuffers() -> Int
}

/// A byte-stream transport to one backend exchange: CGI pipes (separate read and write fds) or a
/// socket (one fd), on a `BufferedStream` (which owns the fds, bounds the queued request bytes -
/// backpressure towards the client - and honours pause/resume from the client side). This class
/// adds the codec: request bytes are encoded into the stream's queue, response bytes decoded from
/// its input. Shared by CGI, SCGI, uwsgi and non-multiplexed FastCGI.
final class FDBackendStream: BackendStream, BufferedStreamDelegate {
    let loop: EventLoop
    /// The current request's codec (replaced when a pooled connection takes another request).
    private(set) var codec: BackendCodec
    let io: BufferedStream
    let isSocket: Bool
    /// Strong, and let go of on every way out (`finish`, `abort`, `closeUnregistered`,
    /// `detachForRelay`; an exchange that lets go of the stream early sets it to nil first): a
    /// weak reference would give the exchange a side table, and every retain and release of it
    /// while it relays would take the runtime's slow path.
    var delegate: BackendStreamDelegate?
    let label: String
    private var ended = false
    /// Itself while its descriptors are open: an exchange that completed early lets go of the
    /// stream, which must still read to EOF, close, and run `onClose` (the loop holds `io`, which
    /// holds this stream as its owner until `closeFDs` or `detachForRelay`).
    private var keepAlive: FDBackendStream?
    /// The codec's end of body asked for a half-close (queued behind the request bytes).
    private var bodyEnded = false
    /// Called after the stream closed its fds (lets the pool count load / reuse connections).
    var onClose: ((_ clean: Bool) -> Void)?
    /// The host whose load count this dedicated connection holds until it closes: a reference
    /// instead of a closure, so a relay taking the descriptors over keeps no closure context
    /// (a heap object of its own) for it (see `SpliceRelays`).
    weak var loadHost: BackendRuntime.HostState?
    /// Set by a keep-alive pool (the proxy's): at the clean end of a response the codec allows
    /// reuse of (`BackendCodec.allowsReuse`), the connection is offered here instead of closed;
    /// true = the pool keeps it.
    var onReusable: ((FDBackendStream) -> Bool)?
    /// Waiting in a pool between requests: any byte or EOF from the backend closes it.
    private(set) var isIdle = false
    /// Requests this connection carried (a timer armed for one request ignores the next).
    private(set) var generation = 0

    static let writeHighWatermark = 256 * 1024
    static let initialCapacity = 512
    static let readSize = 64 * 1024
    /// What a quiet stream keeps (its buffers grow again with the next bytes).
    static let idleCapacity = 0

    /// `writeFD == readFD` for sockets. `connecting` = a non-blocking connect is in progress.
    init(loop: EventLoop, codec: BackendCodec, readFD: Int32, writeFD: Int32, connecting: Bool, label: String) {
        self.loop = loop
        self.codec = codec
        self.label = label
        isSocket = readFD == writeFD
        var options = BufferedStreamOptions()
        options.highWatermark = FDBackendStream.writeHighWatermark
        options.lowWatermark = 0
        // Reads of up to 64 KiB; a stream without that room reads through the loop's scratch
        // buffer (`BufferedStream`), so a quiet WebSocket's backend side keeps what came, not 64 KiB.
        options.readSize = FDBackendStream.readSize
        options.inputCapacity = FDBackendStream.initialCapacity
        options.outputCapacity = FDBackendStream.initialCapacity
        // The backend stopped reading (CGI exited or closed stdin): its output may still be in
        // flight, so only writing stops and reading goes on until EOF.
        options.writeErrorEndsOutputOnly = true
        let transport: ByteTransport = isSocket ? SocketTransport(fd: readFD) : PipeTransport(input: readFD, output: writeFD)
        io = BufferedStream(transport: transport, loop: loop, connecting: connecting, options: options)
    }

    var lastActivity: UInt64 { io.lastActivity }
    var isConnecting: Bool { io.isConnecting }
    var isFinished: Bool { ended }

    func register() throws {
        // A strong owner, not `io.delegate`: a weak reference would give this object a side table,
        // and every retain/release of it on the relay's path would take the runtime's slow path.
        // `closeFDs` and `detachForRelay` let go of it.
        io.owner = self
        do { try io.start() } catch {
            io.owner = nil
            throw error
        }
        keepAlive = self
    }

    // MARK: request side

    func start(_ request: BackendRequest, keepConnection: Bool = false) throws {
        try codec.encodeRequestStart(request, keepConnection: keepConnection, out: io.output.bytes)
        io.flush()
    }

    /// Queues request bytes; false when the backend is behind by more than the watermark.
    func send(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard !io.isOutputClosed, !io.isClosed else { return true }
        if codec.passesBodyThrough { return io.write(bytes) }
        codec.encodeBody(bytes, out: io.output.bytes)
        return io.flush()
    }

    func endBody(upgraded: Bool) {
        guard !io.isOutputClosed, !bodyEnded else { return }
        let shut = codec.encodeBodyEnd(upgraded: upgraded, out: io.output.bytes)
        io.flush()
        if shut {
            bodyEnded = true
            io.shutdownOutput()
        }
    }

    var pendingWriteBytes: Int { io.pendingOutputBytes }

    /// Returns burst-sized buffers of a quiet stream to the allocator, so a thousand idle
    /// WebSockets do not each keep 64 KiB (called from the exchange's once-a-second tick).
    @discardableResult
    func shrinkIdleBuffers() -> Int {
        return io.shrinkIdleBuffers(to: FDBackendStream.idleCapacity)
    }

    // MARK: response side

    func pauseReading() { io.pauseReading() }
    func resumeReading() { io.resumeReading() }

    func streamDidConnect(_ stream: BufferedStream) { delegate?.streamConnected() }
    func streamDidDrain(_ stream: BufferedStream) { delegate?.streamWritable() }
    func streamHasInput(_ stream: BufferedStream) {
        if isIdle { closeIdle(); return }   // nothing may arrive between two responses
        decodeBuffered()
    }

    func streamInputDidEnd(_ stream: BufferedStream) {
        if isIdle { closeIdle(); return }
        guard !ended else { return }
        if !codec.isTransparent {
            // A record protocol ends with its end record (FCGI_END_REQUEST), which finishes the
            // stream before EOF is read: EOF first means the application died, and a body
            // without Content-Length must not be terminated as if it were complete (likewise a proxied
            // body framed by Content-Length or chunked).
            fail(codec.describeEOF(pendingBytes: io.input.readableBytes, label: label))
            return
        }
        finish(nil, protocolStatus: nil)
    }

    func streamDidClose(_ stream: BufferedStream, error: BufferedStreamError?) {
        if isIdle { closeIdle(); return }
        guard !ended else { return }
        switch error {
        case .connectFailed(let e)?:
            fail(.connectFailed("connect(\(label)): \(String(cString: strerror(e)))"))
        case .readFailed(let e)? where e == ECONNRESET && isSocket:
            fail(.ioError("\(label): connection reset by backend"))
        case .readFailed(let e)?, .writeFailed(let e)?:
            fail(.ioError("read(\(label)): \(String(cString: strerror(e)))"))
        case .idleTimeout?, .writeTimeout?, nil:
            fail(.ioError("\(label): connection closed"))
        }
    }

    private func decodeBuffered() {
        let input = io.input
        if codec.passesResponseThrough {
            // A relay's usual case (CGI, SCGI, a tunnel, an upgraded proxy): what `decode` would
            // hand on, without the event closure.
            guard !ended, !input.isEmpty else { return }
            let count = input.readableBytes
            delegate?.streamStdout(input.readable)
            if !ended { input.consume(count) }
            return
        }
        do {
            // The end is acted on after the bytes it ends are consumed: a pooled connection must
            // know whether anything followed the response.
            var end: UInt8?? = nil
            let used = try codec.decode(input.readable) { event in
                guard !ended, end == nil else { return }
                switch event {
                case .stdout(let b): delegate?.streamStdout(b)
                case .stderr(let b): delegate?.streamStderr(b)
                case .end(_, let ps): end = .some(ps)
                }
            }
            if !ended { input.consume(used) }
            if let end { finish(nil, protocolStatus: end) }
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
        if failure == nil, let offer = onReusable, codec.allowsReuse,
           io.input.readableBytes == 0, io.pendingOutputBytes == 0, !io.isClosed, !io.isOutputClosed {
            // Back to the pool before the exchange hears of the end: the client's next request
            // (pipelined, handled synchronously) may take this connection.
            isIdle = true
            keepAlive = nil
            io.resumeReading()
            if offer(self) {
                let d = delegate
                delegate = nil
                d?.streamEnded(nil, protocolStatus: protocolStatus)
                return
            }
            isIdle = false
        }
        closeFDs(clean: failure == nil)
        let d = delegate
        delegate = nil
        d?.streamEnded(failure, protocolStatus: protocolStatus)
    }

    /// Takes another request on this idle pooled connection with `codec`.
    func reuse(codec: BackendCodec) {
        precondition(isIdle && !io.isClosed)
        isIdle = false
        ended = false
        bodyEnded = false
        generation += 1
        self.codec = codec
        keepAlive = self
    }

    /// The backend closed (or sent something on) the idle connection, or the pool let it go.
    private func closeIdle() {
        guard isIdle else { return }
        isIdle = false
        closeFDs(clean: false)
    }

    /// The client went away: tell the backend if the protocol can, then close.
    func abort() {
        guard !ended else { return }
        ended = true
        delegate = nil
        io.owner = nil
        if !io.isConnecting && !io.isOutputClosed && codec.encodeAbort(out: io.output.bytes) { io.flush() }
        closeFDs(clean: false)
    }

    private func closeFDs(clean: Bool) {
        keepAlive = nil
        io.close()
        io.owner = nil
        loadHost?.active -= 1
        loadHost = nil
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
        guard !ended, codec.isTransparent, io.input.isEmpty, let fds = io.detach() else { return nil }
        keepAlive = nil
        ended = true
        delegate = nil
        io.owner = nil
        return (fds.input, fds.output, io.output.bytes)
    }
}

/// A proxied server's HTTP/1.1 connection between requests (`BackendConnectionPool`).
extension FDBackendStream: PooledBackendConnection {
    var isClosed: Bool { io.isClosed }
    var activeCount: Int { isIdle || io.isClosed ? 0 : 1 }
    var canTakeAnother: Bool { isIdle && !io.isClosed }
    func closeFromPool() {
        if isIdle { closeIdle() } else { abort() }
    }
}
