import Glibc

/// One buffered, non-blocking byte stream on the event loop, over any `ByteTransport`: a socket
/// (one descriptor) or a pipe pair (`PipeTransport`, two). Everything that moves bytes to a peer
/// (backend streams, FastCGI connections, the bridges' and the echo app's front-end sockets) sits
/// on it, so reading, writing, interest, half-close and timeouts are written once.
///
/// - Input: read into `input` (`readSize` room per read, at most `readsPerEvent` reads, stopping
///   at a short read), delivered after each read. The owner can pause reading; reading also stops
///   while `input` holds `inputLimit` bytes. EOF is delivered once, after the bytes before it.
/// - Output: `write` (or append to `output` then `flush`) sends at once what the transport
///   takes; the rest waits for writability. `write` returns false at `highWatermark`; the owner
///   hears `streamDidDrain` at `lowWatermark`. `output` is an `OutputQueue`, so a file region or
///   shared bytes can follow the queued bytes (sendfile where the transport has a kernel path).
/// - Ending: `shutdownOutput` half-closes once the queue is empty; `closeAfterFlush` also drops
///   further input until the peer's EOF (bounded by a linger timer), so a last reply is not
///   destroyed by a reset caused by unread input; `close` ends at once; `detach` hands the
///   descriptors to a splice relay.
/// - Timers: one loop timer, re-armed lazily, for `idleTimeout` and `writeTimeout`.
///
/// No interest means the descriptor is out of epoll (the loop disarms it), so a paused reader
/// of a peer that half-closed never spins on level-triggered EPOLLRDHUP/EPOLLHUP.
public final class BufferedStream: EventHandler, LoopDeferredWork {
    public let loop: EventLoop
    public let transport: ByteTransport
    /// Settable: an owner may retune reads (an upgraded stream's read size) as it goes.
    public var options: BufferedStreamOptions
    /// Received bytes not consumed yet.
    public let input: ByteBuffer
    /// Bytes (and optionally one file region) waiting for the peer.
    public let output: OutputQueue
    public weak var delegate: BufferedStreamDelegate?
    /// A strong delegate, used before `delegate` (see `BufferedStream+Owner.swift`).
    public var owner: BufferedStreamDelegate?
    @inline(__always) var listener: BufferedStreamDelegate? { owner ?? delegate }
    /// Loop time of the last byte moved either way (or of the connect's completion).
    public private(set) var lastActivity: UInt64

    private let readFD: Int32
    private let writeFD: Int32
    private let split: Bool
    /// The transport may need writability to read on (TLS); plain sockets and pipes never do, and
    /// their hot path then skips asking.
    private let transportMayWantWrite: Bool
    public private(set) var isConnecting: Bool
    public private(set) var isClosed = false
    /// The peer's EOF was read.
    public private(set) var isInputClosed = false
    /// Our side is half-closed (or, on a pipe pair, the write pipe closed).
    public private(set) var isOutputClosed = false
    public private(set) var isReadingPaused = false
    /// `closeAfterFlush` was called: input is dropped, the stream closes at EOF.
    public private(set) var isLingering = false
    var registered = false
    /// What the loop watches (it starts registered with none): on a single descriptor its events;
    /// on a pipe pair `.input` for the read end and `.output` for the write end.
    private var interest: IOEvents = []
    private var shutdownRequested = false
    var behind = false
    /// The queue was empty at the last flush: the write-progress clock starts with the next bytes.
    private var outputWasEmpty = true
    /// Loop time of the last byte sent, or of the first byte queued after the queue was empty.
    public internal(set) var lastWriteProgress: UInt64
    /// When idleness was last reported (`reportsIdle`): the next report is one `idleTimeout` later.
    var idleReportedAt: UInt64 = 0
    /// Depth of public calls the owner is making: callbacks detected inside them are deferred.
    private var ownerCalls = 0
    /// The last read filled the space it was given: more is likely waiting (read in place).
    private var lastReadFilled = false
    var timer: TimerID?
    private var lingerTimer: TimerID?
    private var lingerSeconds = 0.0

    private static let readableEvents = IOEvents(rawValue: IOEvents.input.rawValue | IOEvents.readHangup.rawValue
                                                 | IOEvents.hangup.rawValue | IOEvents.error.rawValue)
    private static let writableEvents = IOEvents(rawValue: IOEvents.output.rawValue | IOEvents.error.rawValue
                                                 | IOEvents.hangup.rawValue)
    private static let hangupEvents = IOEvents(rawValue: IOEvents.readHangup.rawValue | IOEvents.hangup.rawValue)

    /// Takes ownership of the transport's descriptors. `connecting`: a non-blocking connect is in
    /// progress on it (output waits, the connect's result arrives as writability).
    public init(transport: ByteTransport, loop: EventLoop, connecting: Bool = false,
                options: BufferedStreamOptions = BufferedStreamOptions()) {
        self.loop = loop
        self.transport = transport
        self.options = options
        self.isConnecting = connecting
        readFD = transport.descriptor
        writeFD = (transport as? SplitDescriptorTransport)?.outputDescriptor ?? transport.descriptor
        split = readFD != writeFD
        transportMayWantWrite = !(transport is SocketTransport) && !(transport is PipeTransport)
        input = ByteBuffer(capacity: options.inputCapacity)
        output = OutputQueue(capacity: options.outputCapacity)
        lastActivity = loop.now
        lastWriteProgress = loop.now
    }

    /// Joins the event loop. On failure nothing is registered (the owner still owns the stream
    /// and closes it with `close()`).
    public func start() throws {
        try loop.register(fd: readFD, events: [], handler: self)
        if split {
            do { try loop.register(fd: writeFD, events: [], handler: self) } catch {
                loop.unregister(fd: readFD)
                throw error
            }
        }
        registered = true
        updateInterest()
        armTimer()
    }

    public var pendingOutputBytes: Int { output.backlog }
    /// The queue is at or above the high watermark.
    public var isBehind: Bool { output.backlog >= options.highWatermark }

    // MARK: input

    public func pauseReading() {
        guard !isReadingPaused else { return }
        isReadingPaused = true
        updateInterest()
    }

    /// Also the way to read on after consuming from an `input` that had reached `inputLimit`.
    public func resumeReading() {
        isReadingPaused = false
        updateInterest()
    }

    private var wantsInput: Bool {
        !isClosed && !isInputClosed && (isLingering || (!isReadingPaused && input.readableBytes < options.inputLimit))
    }

    private func readInput(hangup: Bool) {
        var reads = 0
        while wantsInput && reads < options.readsPerEvent {
            reads += 1
            if isLingering { input.clear() }
            let room = isLingering ? options.readSize : min(options.readSize, options.inputLimit - input.readableBytes)
            // A stream whose buffer lacks the room, and whose last read did not fill what it had,
            // reads into the loop's scratch buffer and keeps only the bytes that came: a thousand
            // quiet WebSockets that each get a small message now and then must not each grow a
            // read-sized buffer. A busy stream (its last read filled the space) reads in place.
            let viaScratch = !isLingering && !lastReadFilled && input.capacity - input.readableBytes < room
            let target = viaScratch ? loop.readScratch : input
            if viaScratch { target.clear() }
            target.reserve(room)
            let space = target.writableBytes
            switch transport.receive(into: target, minimumSpace: room) {
            case .bytes(let n):
                lastActivity = loop.now
                lastReadFilled = n >= space
                if viaScratch {
                    input.append(target.readable)
                    target.clear()
                }
                if isLingering { input.clear(); continue }
                listener?.streamHasInput(self)
                if n < space && !hangup { return }   // drained: no EAGAIN round trip
            case .wouldBlock:
                return
            case .eof:
                inputEnded()
                return
            case .error(let e):
                fail(.readFailed(e))
                return
            }
        }
    }

    private func inputEnded() {
        isInputClosed = true
        if isLingering {
            if isOutputClosed { finish(nil) }   // else: closes when the output is out
            return
        }
        updateInterest()
        listener?.streamInputDidEnd(self)
    }

    // MARK: output

    /// Queues `bytes` and sends what the transport takes now. False: the queue is at the high
    /// watermark (stop producing until `streamDidDrain`). Bytes after a half-close are dropped.
    @discardableResult
    public func write(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard !isClosed, !isOutputClosed, !shutdownRequested else { return true }
        // A TLS transport too, unless a read left it waiting for writability: after a `.wouldBlock`
        // the queue offers the same bytes again, as its send contract asks.
        if output.isEmpty && registered && !isConnecting && !bytes.isEmpty
            && !(transportMayWantWrite && transport.wantsWritability) {
            return writeDirectly(bytes)
        }
        output.bytes.append(bytes)
        return flush()
    }

    /// Nothing queued (a relay's usual case): sends from the caller's bytes, and queues only what
    /// the socket did not take, so a message that fits is neither copied nor queued.
    private func writeDirectly(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let result = transport.send(bytes, UnsafeRawBufferPointer(start: nil, count: 0), more: false)
        guard case .bytes(let n) = result, n > 0 else {
            output.bytes.append(bytes)
            if case .wouldBlock = result {
                // Queued whole; writability sends it (no second try now), as after `flushOutput`.
                lastWriteProgress = loop.now
                outputWasEmpty = false
                armTimer()
                updateInterest()
                if output.backlog >= options.highWatermark {
                    behind = true
                    return false
                }
                return true
            }
            return flush()   // the error is handled (and reported) where every write's is
        }
        output.countSentDirectly(n)
        lastActivity = loop.now
        lastWriteProgress = loop.now
        if n == bytes.count { return true }
        output.bytes.append(UnsafeRawBufferPointer(rebasing: bytes[n...]))
        return flush()
    }

    @discardableResult
    public func write(_ bytes: [UInt8]) -> Bool { bytes.withUnsafeBytes { write($0) } }

    /// Sends what was appended to `output` directly (encoders write in place). Same result as `write`.
    @discardableResult
    public func flush() -> Bool {
        guard !isClosed, !isOutputClosed else { return true }
        // Nothing queued since the last flush drained the queue: that flush did all there is to do.
        if outputWasEmpty && output.isEmpty && !behind && !shutdownRequested { return true }
        ownerCalls += 1
        defer { ownerCalls -= 1 }
        if !isConnecting { flushOutput() }
        if isClosed || isOutputClosed { return true }
        if output.backlog >= options.highWatermark {
            behind = true
            return false
        }
        return true
    }

    private var flushScheduled = false
    /// Flushes at the end of this pass of the loop, so records queued by several calls leave in
    /// one write.
    public func flushSoon() {
        guard !flushScheduled, !isClosed else { return }
        flushScheduled = true
        // Strong: it runs at the end of this pass and `flush` checks for a closed stream. A weak
        // reference would give the stream a side table, and every retain and release of it (several
        // per message on an HTTP/2 or FastCGI connection) would take the runtime's slow path.
        loop.deferWork(self)
    }

    public func runDeferredWork() {
        flushScheduled = false
        flush()
    }

    private func flushOutput() {
        if outputWasEmpty { lastWriteProgress = loop.now }
        outputWasEmpty = false
        let before = output.bytesWritten
        let result = output.flush(to: transport)
        if output.bytesWritten != before {
            lastActivity = loop.now
            lastWriteProgress = loop.now
        }
        switch result {
        case .bytes:
            outputWasEmpty = true
            if shutdownRequested { closeOutput() }
        case .wouldBlock:
            armTimer()
        case .eof, .error:
            let e: Int32
            if case .error(let code) = result { e = code } else { e = EPIPE }
            guard options.writeErrorEndsOutputOnly else { fail(.writeFailed(e)); return }
            output.discard()
            outputWasEmpty = true
            closeOutput()
        }
        updateInterest()
        if behind && output.backlog <= options.lowWatermark {
            behind = false
            notify { stream, delegate in if !stream.isClosed { delegate.streamDidDrain(stream) } }
        }
    }

    /// Half-closes once the queue is empty (at once if it is). Reading goes on.
    public func shutdownOutput() {
        guard !isClosed, !isOutputClosed, !shutdownRequested else { return }
        shutdownRequested = true
        if output.isEmpty && !isConnecting {
            ownerCalls += 1
            defer { ownerCalls -= 1 }
            closeOutput()
            updateInterest()
        }
    }

    private func closeOutput() {
        guard !isOutputClosed else { return }
        isOutputClosed = true
        shutdownRequested = false
        if split && registered { loop.unregister(fd: writeFD) }
        transport.shutdownOutput()
        if isLingering { lingerAfterOutputClosed() }
    }

    /// Our FIN is out: wait for the peer's EOF, at most `lingerSeconds`.
    private func lingerAfterOutputClosed() {
        if isInputClosed { finish(nil); return }
        guard lingerTimer == nil else { return }
        lingerTimer = loop.schedule(afterSeconds: lingerSeconds) { [self] in   // strong: see armTimer
            self.lingerTimer = nil
            if !self.isClosed { self.finish(nil) }
        }
    }

    /// Ends politely: flush, half-close, drop what the peer still sends until its EOF (at most
    /// `linger` seconds after our FIN), then close and report `streamDidClose(error: nil)`.
    /// Flushing itself is bounded only by `writeTimeout`/`idleTimeout`.
    public func closeAfterFlush(linger: Double) {
        guard !isClosed, !isLingering else { return }
        ownerCalls += 1
        defer { ownerCalls -= 1 }
        isLingering = true
        lingerSeconds = linger
        input.clear()
        if isOutputClosed { lingerAfterOutputClosed() } else { shutdownOutput() }
        updateInterest()
    }

    // MARK: events

    private func updateInterest() {
        guard registered, !isClosed else { return }
        if isConnecting {
            if split { interest.insert(.output) } else { interest = .output }
            loop.setInterest(fd: writeFD, .output)
            return
        }
        let wantsOutput = !isOutputClosed && !output.isEmpty || transportMayWantWrite && transport.wantsWritability
        // Asked several times per event: only a change reaches the loop.
        var events: IOEvents = wantsInput ? .input : []
        if wantsOutput { events.insert(.output) }
        guard events != interest else { return }
        if !split {
            loop.setInterest(fd: readFD, events)
        } else {
            // A pipe pair: `.input` is the read end's interest, `.output` the write end's.
            if events.contains(.input) != interest.contains(.input) {
                loop.setInterest(fd: readFD, events.intersection(.input))
            }
            if !isOutputClosed && events.contains(.output) != interest.contains(.output) {
                loop.setInterest(fd: writeFD, events.intersection(.output))
            }
        }
        interest = events
    }

    public func handleEvent(fd: Int32, events: IOEvents) {
        guard !isClosed else { return }
        if isConnecting {
            completeConnect()
            if isClosed { return }
        }
        if transportMayWantWrite && transport.wantsWritability && !events.isDisjoint(with: BufferedStream.writableEvents) {
            readInput(hangup: false)   // the transport's own write (a TLS handshake message) goes on
            if isClosed { return }
        }
        if fd == writeFD && !isOutputClosed && !output.isEmpty && !events.isDisjoint(with: BufferedStream.writableEvents) {
            flushOutput()
            if isClosed { return }
        }
        if fd == readFD && wantsInput && !events.isDisjoint(with: BufferedStream.readableEvents) {
            readInput(hangup: !events.isDisjoint(with: BufferedStream.hangupEvents))
            if isClosed { return }
            // Replies the owner queued while handling the input leave in one write.
            if !isConnecting && !isOutputClosed && !output.isEmpty { flushOutput() }
        }
        updateInterest()
    }

    private func completeConnect() {
        let err = Socket.pendingError(writeFD)
        if err != 0 {
            fail(.connectFailed(err))
            return
        }
        isConnecting = false
        lastActivity = loop.now
        listener?.streamDidConnect(self)
        if isClosed { return }
        if !output.isEmpty || shutdownRequested { flushOutput() }
        updateInterest()
    }

    // MARK: ending

    func fail(_ error: BufferedStreamError) { finish(error) }

    private func finish(_ error: BufferedStreamError?) {
        guard !isClosed else { return }
        release()
        transport.close()
        notify { $1.streamDidClose($0, error: error) }
    }

    /// Closes at once; what is queued is dropped. No `streamDidClose` (the owner knows).
    public func close() {
        guard !isClosed else { return }
        release()
        transport.close()
    }

    /// Leaves the loop and hands both descriptors to the caller (a splice relay), who then owns
    /// them; `input` and `output` keep what they hold. Nil when the transport cannot give its
    /// descriptors up (TLS) or the stream is closed, connecting or half-closed.
    public func detach() -> (input: Int32, output: Int32)? {
        guard !isClosed, !isConnecting, !isOutputClosed, !shutdownRequested else { return nil }
        let fds: (input: Int32, output: Int32)
        if let pair = transport as? SplitDescriptorTransport {
            releaseKeepingBuffers()
            fds = pair.detachDescriptors()
        } else if let kernel = transport.kernelPath, kernel.canDetachDescriptor {
            releaseKeepingBuffers()
            let fd = kernel.detachDescriptor()
            fds = (fd, fd)
        } else {
            return nil
        }
        return fds
    }

    private func release() {
        releaseKeepingBuffers()
        output.discard()
        input.clear()
    }

    private func releaseKeepingBuffers() {
        isClosed = true
        if let t = timer { loop.cancel(t); timer = nil }
        if let t = lingerTimer { loop.cancel(t); lingerTimer = nil }
        if registered {
            loop.unregister(fd: readFD)
            if split && !isOutputClosed { loop.unregister(fd: writeFD) }
            registered = false
        }
    }

    /// Calls the delegate now from the loop's own events, or after the owner's call returns.
    private func notify(_ callback: @escaping (BufferedStream, BufferedStreamDelegate) -> Void) {
        if ownerCalls == 0 {
            if let d = listener { callback(self, d) }
            return
        }
        loop.defer_ { [self] in
            if let d = listener { callback(self, d) }
        }
    }
}
