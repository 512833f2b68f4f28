import Glibc
import SwitchyardOS
import SwitchyardGatewayCodecs

/// A connection to a FastCGI application that can carry several requests: one after another with
/// FCGI_KEEP_CONN (pooling), or at the same time when the application says FCGI_MPXS_CONNS=1
/// (multiplexing, long-lived WebSockets included). lighttpd opens a connection per request; this
/// saves the connect (and, for spawned apps, the accept) per request.
///
/// Flow control on a shared connection: each stream that its client cannot keep up with parks up
/// to `parkLimit` bytes of STDOUT; only when one stream exceeds that does the whole connection stop
/// reading (head-of-line blocking, bounded memory). That stall is bounded in time: a stream still
/// over the limit after `stallLimit` seconds is aborted (FCGI_ABORT_REQUEST, its client closed), so
/// one client that never reads cannot hold its neighbours for longer than that.
final class FastCGIConnection: BufferedStreamDelegate {
    let fd: Int32
    let loop: EventLoop
    let label: String
    let keepConnection: Bool
    private(set) var closed = false
    /// Itself until `teardown`: the loop used to own the connection as its event handler; now it
    /// holds only `io`, which holds the connection weakly.
    private var keepAlive: FastCGIConnection?
    /// The socket: buffering, interest, connect completion and backpressure.
    private let io: BufferedStream
    private var outBuffer: ByteBuffer { io.output.bytes }
    private var inBuffer: ByteBuffer { io.input }
    private var decoder = FastCGIRecordDecoder()
    private var scratch: [UInt8] = []
    private(set) var streams: [UInt16: FastCGIMuxStream] = [:]
    private var nextId: UInt16 = 0
    var lastActivity: UInt64 { io.lastActivity }
    var connecting: Bool { io.isConnecting }
    private var readBlocked = false
    /// Learnt from FCGI_GET_VALUES_RESULT.
    private(set) var multiplexes: Bool? = nil
    private(set) var maxRequests = 1
    /// Told when the connection has no more streams (back to the pool, `BackendConnectionPool`,
    /// which also closes it after a while idle) or died.
    var onIdle: ((FastCGIConnection) -> Void)?
    var onClose: ((FastCGIConnection) -> Void)?
    var onCapabilities: ((Bool, Int) -> Void)?

    static let writeHighWatermark = 256 * 1024
    static let parkLimit = 1 << 20
    static let stallLimit = 10.0
    private var stallTimer: TimerID?

    /// How long an aborted request may keep its id reserved before the connection is given up.
    let abortGrace: Double
    /// Requests aborted on a kept connection, waiting for their FCGI_END_REQUEST, and since when.
    private var abortedSince: [UInt16: UInt64] = [:]
    private var abortTimer: TimerID?

    init(fd: Int32, loop: EventLoop, label: String, connecting: Bool, keepConnection: Bool, askCapabilities: Bool,
         abortGrace: Double = 10) throws {
        self.fd = fd
        self.abortGrace = abortGrace
        self.loop = loop
        self.label = label
        self.keepConnection = keepConnection
        var options = BufferedStreamOptions()
        options.highWatermark = FastCGIConnection.writeHighWatermark
        options.lowWatermark = 0
        options.readSize = FastCGIRecordDecoder.maxRecordLength
        options.inputCapacity = 512   // grows with what arrives (see BufferedStream.readInput)
        io = BufferedStream(transport: SocketTransport(fd: fd), loop: loop, connecting: connecting, options: options)
        // Strong owner (let go of in `teardown`), and timers that capture strongly (cancelled in
        // `teardown`): a weak reference would give the connection a side table, and every retain
        // and release of it on the per-record path would take the runtime's slow path.
        io.owner = self
        do { try io.start() } catch {   // on failure the caller closes fd
            io.owner = nil
            throw error
        }
        keepAlive = self
        if askCapabilities {
            scratch.removeAll(keepingCapacity: true)
            FastCGIRecordEncoder.getValues(names: ["FCGI_MAX_CONNS", "FCGI_MAX_REQS", "FCGI_MPXS_CONNS"], into: &scratch)
            outBuffer.append(scratch)
        }
    }

    var activeCount: Int { streams.count }

    /// The host already told an earlier connection that it multiplexes, and how many requests a
    /// connection may carry (its FCGI_MAX_REQS): every later connection gets the same, not a guess.
    func markMultiplexing(maxRequests announced: Int = 64) {
        if multiplexes == nil { multiplexes = true; maxRequests = max(maxRequests, announced) }
    }
    /// An unanswered abort makes the connection suspect (its app may be stuck or gone): no new
    /// request is sent on it until the app ends the aborted one.
    var canTakeAnother: Bool {
        !closed && abortedSince.isEmpty && (streams.isEmpty || (multiplexes == true && streams.count < maxRequests))
    }

    /// Starts a request on this connection.
    func openStream(_ request: BackendRequest, label: String) -> FastCGIMuxStream {
        repeat { nextId = nextId == UInt16.max ? 1 : nextId + 1 } while streams[nextId] != nil
        let stream = FastCGIMuxStream(id: nextId, connection: self, label: label)
        streams[nextId] = stream
        scratch.removeAll(keepingCapacity: true)
        FastCGIRecordEncoder.beginRequest(requestId: nextId, keepConnection: keepConnection, into: &scratch)
        FastCGIRecordEncoder.params(request.cgiEnvironment(), requestId: nextId, into: &scratch)
        outBuffer.append(scratch)
        flushSoon()
        return stream
    }

    // MARK: writing

    /// False when the connection is behind (its streams hear `streamWritable` once it drained).
    @discardableResult
    func writeStream(_ type: FastCGIRecordType, id: UInt16, _ bytes: UnsafeRawBufferPointer) -> Bool {
        outBuffer.append(writing: FastCGIRecordEncoder.streamLength(contentLength: bytes.count)) {
            FastCGIRecordEncoder.stream(type, requestId: id, body: bytes, into: $0)
        }
        if io.pendingOutputBytes >= FastCGIConnection.writeHighWatermark { return io.flush() }
        io.flushSoon()
        return true
    }

    /// Records queued during one pass of the event loop leave in one write at its end. A request
    /// without a body then reaches the app as BEGIN_REQUEST + PARAMS + empty STDIN in one piece,
    /// which libfcgi needs to keep an FCGI_KEEP_CONN connection (it closes a connection whose
    /// STDIN was not at its end when the app finished).
    private func flushSoon() { io.flushSoon() }

    func writeAbort(id: UInt16) {
        scratch.removeAll(keepingCapacity: true)
        FastCGIRecordEncoder.abortRequest(requestId: id, into: &scratch)
        outBuffer.append(scratch)
        flush()
    }

    var pendingWriteBytes: Int { io.pendingOutputBytes }

    /// A quiet connection's read and write buffers back to the allocator: a pooled connection
    /// carrying one idle WebSocket would otherwise keep the record-sized buffer its last burst grew.
    /// The encoding scratch goes too: it kept the size of the last request's PARAMS.
    func shrinkIdleBuffers() -> Int {
        guard !closed else { return 0 }
        let scratchBytes = scratch.capacity
        scratch = []
        return io.shrinkIdleBuffers(to: 0) + scratchBytes
    }

    private func flush() { io.flush() }

    // MARK: stream events

    func streamDidDrain(_ stream: BufferedStream) {
        for s in Array(streams.values) { s.delegate?.streamWritable() }
    }

    func streamHasInput(_ stream: BufferedStream) { decodeRecords() }

    func streamInputDidEnd(_ stream: BufferedStream) {
        teardown(streams.isEmpty ? nil : .ioError("\(label): application closed the connection"))
    }

    func streamDidClose(_ stream: BufferedStream, error: BufferedStreamError?) {
        switch error {
        case .connectFailed(let e)?:
            teardown(.connectFailed("connect(\(label)): \(String(cString: strerror(e)))"))
        case .readFailed(let e)?:
            teardown(.ioError("read(\(label)): \(String(cString: strerror(e)))"))
        case .writeFailed?, .idleTimeout?, .writeTimeout?, nil:
            teardown(.ioError("\(label): write failed, application closed the connection"))
        }
    }

    private func decodeRecords() {
        while !closed {
            let input = inBuffer.readable
            let next: (header: FastCGIRecordDecoder.Header, content: Range<Int>, consumed: Int)?
            do { next = try decoder.next(input) } catch {
                teardown(.protocolError("\(label): malformed record: \(error)"))
                return
            }
            guard let (header, content, consumed) = next else { return }
            let payload = UnsafeRawBufferPointer(rebasing: input[content])
            dispatch(header, payload)
            if closed { return }
            inBuffer.consume(consumed)
        }
    }

    private func dispatch(_ header: FastCGIRecordDecoder.Header, _ payload: UnsafeRawBufferPointer) {
        if header.requestId == 0 {
            if header.type == FastCGIRecordType.getValuesResult.rawValue {
                if let pairs = try? FastCGINameValuePairs.decode(payload) {
                    var announced = false
                    for (name, value) in pairs {
                        if name == "FCGI_MPXS_CONNS" { multiplexes = value == "1" }
                        if name == "FCGI_MAX_REQS", let n = Int(value), n > 0 { maxRequests = min(n, 1000); announced = true }
                    }
                    if multiplexes == nil { multiplexes = false }
                    // Multiplexing without a stated limit: the same 64 a later connection assumes.
                    if multiplexes == true && !announced { maxRequests = 64 }
                    onCapabilities?(multiplexes ?? false, maxRequests)
                }
            }
            return   // FCGI_UNKNOWN_TYPE and other management records need no action
        }
        guard let stream = streams[header.requestId] else { return }  // aborted request: swallow the rest
        switch FastCGIRecordType(rawValue: header.type) {
        case .stdout: if payload.count > 0 { stream.deliverStdout(payload) }
        case .stderr: if payload.count > 0 { stream.delegate?.streamStderr(payload) }
        case .endRequest:
            guard let end = FastCGIEndRequest(content: payload) else {
                teardown(.protocolError("\(label): malformed END_REQUEST"))
                return
            }
            streams[header.requestId] = nil
            abortedSince[header.requestId] = nil
            stream.ended(protocolStatus: end.protocolStatus)
            if streams.isEmpty {
                if keepConnection { onIdle?(self) } else { teardown(nil) }
            }
        default:
            teardown(.protocolError("\(label): unexpected record type \(header.type) for request \(header.requestId)"))
        }
    }

    /// A stream parked too much output: stop reading the connection until it drains.
    func streamBacklogChanged() {
        let blocked = streams.values.contains { $0.parkedBytes > FastCGIConnection.parkLimit }
        if blocked != readBlocked {
            readBlocked = blocked
            if blocked { io.pauseReading() } else { io.resumeReading() }
            if blocked {
                stallTimer = loop.schedule(afterSeconds: FastCGIConnection.stallLimit) { self.stallExpired() }
            } else {
                if let t = stallTimer { loop.cancel(t); stallTimer = nil }
                if !inBuffer.isEmpty { decodeRecords() }
            }
        }
    }

    /// The connection has been blocked for `stallLimit` by streams whose clients do not read.
    private func stallExpired() {
        stallTimer = nil
        guard !closed, readBlocked else { return }
        for s in Array(streams.values) where s.parkedBytes > FastCGIConnection.parkLimit {
            s.fail(.timeout("\(label): request \(s.id) kept more than \(FastCGIConnection.parkLimit) bytes unread by its client for \(Int(FastCGIConnection.stallLimit)) s on a shared connection: aborted"))
        }
        streamBacklogChanged()
    }

    func streamAborted(_ id: UInt16) {
        guard streams[id] != nil else { return }
        if keepConnection || multiplexes == true {
            // Keep the id reserved until END_REQUEST arrives; the app was told to stop. What the
            // stream had parked is dropped now, so it no longer holds the connection back.
            writeAbort(id: id)
            streams[id]?.delegate = nil
            streamBacklogChanged()
            if abortedSince[id] == nil { abortedSince[id] = loop.now }
            armAbortTimer(after: abortGrace)
        } else {
            streams[id] = nil
            teardown(nil)
        }
    }

    /// An application that does not end an aborted request within `abortGrace` is stuck or dead
    /// (e.g. a grandchild still holds its socket): the connection is torn down, or it would hold
    /// its descriptor - and, multiplexed, swallow new requests - forever.
    private func armAbortTimer(after delay: Double) {
        guard abortTimer == nil, !closed else { return }
        abortTimer = loop.schedule(afterSeconds: delay) {
            self.abortTimer = nil
            guard !self.closed, let oldest = self.abortedSince.values.min() else { return }
            let limit = UInt64(self.abortGrace * 1e9)
            let waited = self.loop.now - oldest
            if waited >= limit {
                self.teardown(.timeout("\(self.label): the application did not end an aborted request within \(Int(self.abortGrace)) s: connection closed"))
            } else {
                self.armAbortTimer(after: Double(limit - waited) / 1e9)
            }
        }
    }

    // MARK: ending

    func teardown(_ failure: BackendFailure?) {
        guard !closed else { return }
        closed = true
        if let t = stallTimer { loop.cancel(t); stallTimer = nil }
        if let t = abortTimer { loop.cancel(t); abortTimer = nil }
        abortedSince.removeAll()
        io.close()
        io.owner = nil
        keepAlive = nil
        let pending = streams
        streams.removeAll()
        for s in pending.values { s.connectionFailed(failure ?? .ioError("\(label): connection closed")) }
        onClose?(self)
        onClose = nil
        onIdle = nil
    }
}

extension FastCGIConnection: PooledBackendConnection {
    var isClosed: Bool { closed }
    func closeFromPool() { teardown(nil) }
}

/// One request on a (possibly shared) FastCGI connection.
final class FastCGIMuxStream: BackendStream {
    let id: UInt16
    private var connection: FastCGIConnection?
    /// Strong, and let go of on every way out (`finish`, `abort`, the connection's
    /// `streamAborted`; an exchange that lets go early sets it to nil first), like `FDBackendStream`'s.
    var delegate: BackendStreamDelegate?
    let label: String
    private var paused = false
    private let parked = ByteBuffer(capacity: 0)   // grows only for a client that reads slowly
    private var endedStatus: UInt8?
    private var finished = false
    /// `resumeReading` is handing a slice of `parked` to the delegate.
    private var delivering = false

    init(id: UInt16, connection: FastCGIConnection, label: String) {
        self.id = id
        self.connection = connection
        self.label = label
    }

    var lastActivity: UInt64 { connection?.lastActivity ?? 0 }
    var pendingWriteBytes: Int { connection?.pendingWriteBytes ?? 0 }
    var parkedBytes: Int { parked.readableBytes }
    var isConnecting: Bool { connection?.connecting ?? false }
    var isFinished: Bool { finished }

    func send(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let connection, !finished, bytes.count > 0 else { return true }
        return connection.writeStream(.stdin, id: id, bytes)
    }

    func endBody(upgraded: Bool) {
        guard let connection, !finished else { return }
        connection.writeStream(.stdin, id: id, UnsafeRawBufferPointer(start: nil, count: 0))
    }

    func deliverStdout(_ bytes: UnsafeRawBufferPointer) {
        guard !finished else { return }   // aborted: the rest of its output is swallowed
        if paused || !parked.isEmpty {
            parked.append(bytes)
            connection?.streamBacklogChanged()
        } else {
            delegate?.streamStdout(bytes)
        }
    }

    func pauseReading() { paused = true }

    func resumeReading() {
        guard paused else { return }
        paused = false
        while !parked.isEmpty && !paused {
            let chunk = min(parked.readableBytes, 64 * 1024)
            let slice = UnsafeRawBufferPointer(start: parked.readPointer, count: chunk)
            delivering = true
            delegate?.streamStdout(slice)
            delivering = false
            // The delivery can end the stream (the client's write failed, it went away): its abort
            // or finish already dropped what was parked, and the stream has let go of everything.
            if finished {
                parked.shrinkIfIdle(to: 0)
                return
            }
            parked.consume(chunk)
        }
        if parked.isEmpty { parked.shrinkIfIdle(to: 0) }
        connection?.streamBacklogChanged()
        if parked.isEmpty, let status = endedStatus, !finished { finish(nil, status) }
    }

    func ended(protocolStatus: UInt8) {
        endedStatus = protocolStatus
        if parked.isEmpty { finish(nil, protocolStatus) }
    }

    func connectionFailed(_ failure: BackendFailure) {
        finish(failure, nil)
    }

    private func finish(_ failure: BackendFailure?, _ status: UInt8?) {
        guard !finished else { return }
        finished = true
        dropParked()
        connection = nil
        let d = delegate
        delegate = nil
        d?.streamEnded(failure, protocolStatus: status)
    }

    func abort() {
        guard !finished else { return }
        finished = true
        delegate = nil
        dropParked()
        connection?.streamAborted(id)
        connection = nil
    }

    private func dropParked() {
        parked.clear()
        // Not while `resumeReading` hands out a slice of it: the storage must outlive the call.
        if !delivering { parked.shrinkIfIdle(to: 0) }
    }

    func shrinkIdleBuffers() -> Int {
        parked.shrinkIfIdle(to: 0) + (connection?.shrinkIdleBuffers() ?? 0)
    }

    func fail(_ failure: BackendFailure) {
        let c = connection
        finish(failure, nil)
        c?.streamAborted(id)
    }
}
