import Glibc
import SwitchyardOS
import SwitchyardHTTP
import SwitchyardHTTP2
import SwitchyardWebSocket

/// One HTTP/2 client connection (RFC 9113): the client's `BufferedStream` (plain or TLS), the
/// sans-I/O `HTTP2ServerSession`, and one `HTTP2StreamExchange` per request stream.
///
/// It starts life as an `HTTP1Connection` (every accepted connection does): that one hands its
/// stream over when TLS negotiated ALPN `h2`, or when a plain connection opens with the client
/// preface (h2c with prior knowledge), so HTTP/1.1 stays exactly as it was.
///
/// Output is bounded twice: a stream's producer stops at `HTTP2StreamExchange.streamHighWatermark`
/// queued bytes, and no stream moves bytes into frames while the socket holds `highWatermark`
/// (a client that grants huge windows and never reads cannot grow the queue). Input is bounded by
/// the session's windows, credited only as handlers take bytes, and reading pauses while the
/// socket is behind (so control-frame answers cannot pile up either).
final class HTTP2Connection: BufferedStreamDelegate, LoopDeferredWork {
    let fd: Int32
    let stream: BufferedStream
    let worker: Worker
    let peer: ClientPeer
    let routing: any ExchangeRouting
    var session: HTTP2ServerSession
    /// By stream id (`HTTP2StreamMap`: no SipHash for the insertion and removal of every stream).
    private(set) var exchanges = HTTP2StreamMap<HTTP2StreamExchange>()
    /// Streams with output waiting, in the order they queued it (round-robin by the pump).
    private var ready: [HTTP2StreamExchange] = []
    private(set) var isClosed = false
    private var inPump = false
    private var pumpAgain = false
    private var flushScheduled = false
    /// Reading stopped because the socket is behind (not because of a stream).
    private var readPausedForOutput = false
    /// Some stream's producer was told to stop (`HTTP2StreamExchange.wantsDrain`): only then does
    /// `notifyDrained` look through the streams.
    var drainWaiting = false
    private var random = FastRandom()
    /// The Strings of the fields this client repeats (see `FieldStringCache`).
    private var fieldCache = FieldStringCache()
    private var requestMemo = RepeatedRequestMemo()
    private var scratch = [UInt8](repeating: 0, count: 16 * 1024)
    /// The events of the last read, kept empty between reads (`streamHasInput`): its capacity is reused.
    private var eventBuffer: [HTTP2Event] = []
    static let keptEventCapacity = 64
    /// The loop's payload buffer keeps its capacity up to this (one read's worth of bodies).
    static let keptPayloadCapacity = 64 * 1024
    /// The last plain static-file head sent here, reused for the same file (see `sendStaticHead`).
    var lastStaticHead: HTTP2StaticHead?
    private var lastStreamActivity: UInt64
    private let startedAt: UInt64
    static let settingsAckSeconds = 10

    static let highWatermark = 256 * 1024
    static let lowWatermark = 64 * 1024
    /// Bytes one stream moves per round of the pump before the next stream's turn.
    static let quantum = 16 * 1024
    static let writeBatch = 64 * 1024

    /// `session`: an upgraded one (`Upgrade: h2c`, see `HTTP1Connection.upgradeToH2C`); else a new one.
    init(stream: BufferedStream, worker: Worker, peer: ClientPeer, routing: any ExchangeRouting, session: HTTP2ServerSession? = nil) {
        self.fd = stream.transport.descriptor
        self.stream = stream
        self.worker = worker
        self.peer = peer
        self.routing = routing
        self.session = session ?? HTTP2ServerSession(limits: HTTP2Connection.limits(worker))
        self.lastStreamActivity = worker.loop.now
        self.startedAt = worker.loop.now
        stream.options.highWatermark = HTTP2Connection.highWatermark
        stream.options.lowWatermark = HTTP2Connection.lowWatermark
        stream.options.readSize = 16 * 1024
        stream.owner = self
    }

    /// Starts on the bytes the HTTP/1.1 side already read (the preface, maybe more).
    func begin() {
        writeSessionOutput()
        if !stream.input.isEmpty { streamHasInput(stream) }
    }

    /// The session limits of this worker's connections (one place for new and upgraded sessions).
    static func limits(_ worker: Worker) -> HTTP2Limits { worker.server.http2Limits }

    /// Starts after `101 Switching Protocols` (queued by the HTTP/1.1 side): our SETTINGS, then the
    /// request that asked for the upgrade answered as stream 1 (half-closed: it had no body).
    func beginUpgraded(_ head: HTTPRequestHead) {
        writeSessionOutput()
        worker.stats.requests += 1
        lastStreamActivity = worker.loop.now
        let ex = HTTP2StreamExchange(connection: self, streamID: 1, head: head, isTunnel: false, hasBody: false)
        exchanges[1] = ex
        ex.start(hasBody: false)
        if isClosed { return }
        if !stream.input.isEmpty { streamHasInput(stream) } else { pump() }
    }

    var isBehind: Bool { stream.output.backlog >= HTTP2Connection.highWatermark }

    // MARK: input

    func streamHasInput(_ s: BufferedStream) {
        guard !isClosed else { s.input.clear(); return }
        // The connection's event array, taken (a call nested in the handling below gets a new one).
        var events: [HTTP2Event] = []
        swap(&events, &eventBuffer)
        // The loop's payload buffer, taken the same way (a nested call finds it empty, uses its own).
        var payloads: [UInt8] = []
        swap(&payloads, &worker.http2Payloads)
        session.receive(s.input.readable, now: worker.loop.now / 1_000_000, into: &events, payloads: &payloads)
        s.input.consume(s.input.readableBytes)
        defer {
            events.removeAll(keepingCapacity: events.capacity <= HTTP2Connection.keptEventCapacity)
            swap(&events, &eventBuffer)
            payloads.removeAll(keepingCapacity: payloads.capacity <= HTTP2Connection.keptPayloadCapacity)
            swap(&payloads, &worker.http2Payloads)
        }
        // A stream opened and reset in the same read (rapid reset, CVE-2023-44487) never starts
        // its handler: no CGI is spawned, no backend connected for it.
        // Each event handled is moved out of the array (a trivial one left in its place): handed
        // over, not copied, its payload (a request head's field list) is neither retained for
        // the handler nor released twice. The array is this call's own (swapped out above).
        let finished: Bool = events.withUnsafeMutableBufferPointer { events in
            var resetAtOnce: Set<UInt32> = []
            for i in events.indices {
                if case .streamReset(let id, _, true) = events[i] { resetAtOnce.insert(id) }
            }
            guard let base = events.baseAddress else { return false }
            for i in events.indices {
                if !resetAtOnce.isEmpty, case .request(let id, _, _) = events[i], resetAtOnce.contains(id) { continue }
                let event = (base + i).move()
                (base + i).initialize(to: .windowOpened(streamID: 0))
                handle(event, payloads)
                if isClosed { return true }
            }
            return false
        }
        if finished { return }
        pump()
        afterIO()
    }

    private func handle(_ event: consuming HTTP2Event, _ payloads: [UInt8]) {
        switch event {
        case .request(let id, let head, let endStream):
            openStream(id, head: head, endStream: endStream)
        case .data(let id, let range, let endStream):
            guard let ex = exchanges[id] else { credit(id, range.count); break }
            payloads.withUnsafeBytes { ex.receiveData(UnsafeRawBufferPointer(rebasing: $0[range]), endStream: endStream) }
        case .trailers(let id, _):
            exchanges[id]?.receiveTrailers()
        case .streamReset(let id, _, _):
            exchanges[id]?.streamReset()
        case .windowOpened:
            break   // the pump after the events moves what waited
        case .connectionError(let error):
            worker.errorLog.info(peer.description, "HTTP/2 connection error: \(error)")
        case .goAway, .settings, .pingAcknowledged:
            break
        }
    }

    private func openStream(_ id: UInt32, head h2: HTTP2RequestHead, endStream: Bool) {
        worker.stats.requests += 1
        lastStreamActivity = worker.loop.now
        switch HTTP2RequestMapping.http1Head(h2, endStream: endStream, limits: worker.parserLimits, random: &random,
                                                 cache: &fieldCache, memo: &requestMemo) {
        case .success(let mapped):
            let ex = HTTP2StreamExchange(connection: self, streamID: id, head: mapped.head, isTunnel: mapped.isTunnel,
                                         hasBody: mapped.hasBody)
            exchanges[id] = ex
            ex.start(hasBody: mapped.hasBody)
        case .failure(let error):
            let ex = HTTP2StreamExchange(connection: self, streamID: id, head: nil, isTunnel: false, hasBody: !endStream)
            exchanges[id] = ex
            ex.fail(error)
        }
    }

    /// Body bytes a handler took (or nobody wanted): window goes back to the client.
    func credit(_ id: UInt32, _ count: Int) {
        guard count > 0, !isClosed else { return }
        session.consumed(streamID: id, count: count)
    }

    // MARK: output

    func sendHeaders(_ id: UInt32, _ fields: [HPACKHeaderField], endStream: Bool) {
        guard !isClosed else { return }
        do { try session.sendHeaders(streamID: id, fields: fields, endStream: endStream) } catch {
            exchanges[id]?.streamReset()
            return
        }
        writeSessionOutput(flush: false)
        flushSoon()
    }

    /// A response head (see `HTTP2FieldList`).
    func sendHeaders(_ id: UInt32, _ list: HTTP2FieldList, endStream: Bool) {
        guard !isClosed else { return }
        do { try session.sendHeaders(streamID: id, list: list, endStream: endStream) } catch {
            exchanges[id]?.streamReset()
            return
        }
        // The body usually follows in this pass of the loop: HEADERS and DATA leave in one write.
        writeSessionOutput(flush: false)
        flushSoon()
    }

    func sendWindow(_ id: UInt32) -> Int { session.sendWindow(streamID: id) }

    func sendData(_ id: UInt32, _ bytes: UnsafeRawBufferPointer, endStream: Bool) -> Int {
        // The clock dates a stall (`tick`'s zero-window limit): the last read may be long ago.
        (try? session.sendData(streamID: id, bytes, endStream: endStream, now: worker.loop.now / 1_000_000)) ?? 0
    }

    /// A stream has bytes no window lets out: dated for `tick`'s zero-window limit.
    func sendBlocked(_ id: UInt32) { session.noteSendBlocked(streamID: id, now: worker.loop.now / 1_000_000) }

    func resetStream(_ id: UInt32, code: HTTP2ErrorCode) {
        guard !isClosed else { return }
        session.resetStream(streamID: id, code: code)
        writeSessionOutput()
    }

    /// The stream's exchange is over: forgotten here, its link back cut.
    func forget(_ ex: HTTP2StreamExchange) {
        // One hash lookup: removed, and put back in the rare case it was another exchange's id.
        if let removed = exchanges.removeValue(forKey: ex.streamID), removed !== ex { exchanges[ex.streamID] = removed }
        if ex.isReady {
            ex.isReady = false
            ready.removeAll { $0 === ex }
        }
        ex.connection = nil
        lastStreamActivity = worker.loop.now
    }

    /// Moves queued response bytes into DATA frames, stream by stream, while the socket keeps up.
    /// `ex`: a stream that has just queued output (bytes, a file, its end) joins the round; the
    /// streams are never searched for output, so a pass costs the streams that have some, not
    /// every stream of the connection (each a retain and release through a side table).
    func pump(_ ex: HTTP2StreamExchange? = nil) {
        guard !isClosed else { return }
        if let ex, !ex.isReady, ex.connection === self, ex.hasOutput {
            ex.isReady = true
            ready.append(ex)
        }
        if inPump { pumpAgain = true; return }
        inPump = true
        defer { inPump = false }
        repeat {
            pumpAgain = false
            var progress = true
            while progress && !ready.isEmpty && !isBehind {
                progress = false
                for ex in ready {
                    if ex.pumpOutput(budget: HTTP2Connection.quantum, scratch: &scratch) > 0 { progress = true }
                    if ex.sendClosed && ex.ending { ex.sendSideFinished() }
                    if isClosed { return }
                    // Frames gather and leave in writes of 64 KiB or more.
                    writeSessionOutput(flush: false)
                    if isClosed { return }
                    if isBehind { break }
                }
                ready.removeAll { ex in
                    guard !ex.hasOutput || ex.connection == nil else { return false }
                    ex.isReady = false
                    return true
                }
            }
        } while pumpAgain && !isClosed
        // Not written yet: every stream answered in this pass of the loop (a read of 8 requests,
        // a response and its END_STREAM) leaves in one write and one TLS record, not one each.
        writeSessionOutput(flush: false)
        flushSoon()
        notifyDrained()
    }

    /// DATA a stream wrote itself (nothing was queued ahead of it): out with this pass's other
    /// frames, in writes of 64 KiB or at the end of the pass, as the pump's are.
    func wroteData() {
        writeSessionOutput(flush: false)
        flushSoon()
    }

    /// Writes the queued frames once the loop is done with this pass (before it waits again).
    /// Queued as itself (`LoopDeferredWork`), strongly: a weak reference gives the connection a
    /// side table, and then every retain and release of it (several per relayed message) takes the
    /// slow path. It runs at the end of this pass, so it holds a closed connection only that long.
    private func flushSoon() {
        guard !flushScheduled, !isClosed else { return }
        flushScheduled = true
        worker.loop.deferWork(self)
    }

    func runDeferredWork() {
        flushScheduled = false
        writeSessionOutput()
    }

    /// Producers that were told to stop hear they may go on (deferred: never inside their own call).
    private func notifyDrained() {
        guard drainWaiting, !isBehind || stream.output.backlog <= HTTP2Connection.lowWatermark else { return }
        drainWaiting = false
        for ex in exchanges.values where ex.wantsDrain {
            guard ex.pendingCount <= HTTP2StreamExchange.streamLowWatermark else { drainWaiting = true; continue }
            ex.wantsDrain = false
            // Strong: a weak capture would give the exchange a side table (see `flushSoon`); an
            // exchange that ended meanwhile has no handler.
            worker.loop.defer_ { ex.handler?.outputDrained() }
        }
    }

    /// Writes what the session produced (frames, acknowledgements, window updates). Without
    /// `flush` the frames stay in the session's buffer for this pass's write (the caller has called
    /// `flushSoon`), unless 64 KiB (`writeBatch`) are waiting: then they go now.
    func writeSessionOutput(flush: Bool = true) {
        guard !isClosed else { return }
        if !flush && session.outputByteCount + stream.output.backlog < HTTP2Connection.writeBatch { return }
        if session.hasOutput && stream.output.isEmpty && !stream.isLingering {
            // Nothing queued ahead: the frames are sent from the session's buffer, taken out and
            // given back emptied (no copy, and the session keeps its one buffer), and only what the
            // socket did not take is queued (`BufferedStream.write`; not once the stream is closing
            // after a flush: `write` drops bytes then, `flush` sends them).
            var frames: [UInt8] = []
            session.swapOutput(&frames)
            let more = stream.write(frames)
            frames.removeAll(keepingCapacity: frames.capacity <= HTTP2ServerSession.keptOutputCapacity)
            session.swapOutput(&frames)
            assert(frames.isEmpty, "the session wrote while its buffer was out")
            if !more { stream.requestDrainNotice() }
            if stream.isClosed { close() }
            return
        }
        if session.hasOutput {
            let queue = stream.output.bytes
            session.drainOutput { queue.append($0) }
        }
        guard !stream.output.isEmpty else { return }
        if !stream.flush() { stream.requestDrainNotice() }
        if stream.isClosed { close() }
    }

    /// After input or output: pause reading while the socket is behind, close when the session is done.
    private func afterIO() {
        guard !isClosed else { return }
        writeSessionOutput()
        if isClosed { return }
        if isBehind && !readPausedForOutput {
            readPausedForOutput = true
            stream.pauseReading()
            stream.requestDrainNotice()
        }
        if session.canClose {
            failAll()
            stream.closeAfterFlush(linger: 0)
            if stream.isClosed { close() }
        }
    }

    func streamDidDrain(_ s: BufferedStream) {
        guard !isClosed else { return }
        if readPausedForOutput && !isBehind {
            readPausedForOutput = false
            stream.resumeReading()
        }
        pump()
        afterIO()
    }

    func streamInputDidEnd(_ s: BufferedStream) {
        // The client is gone (a FIN mid-connection): its streams cannot complete.
        close()
    }

    func streamDidClose(_ s: BufferedStream, error: BufferedStreamError?) {
        if let reason = peer.tls?.failureReason { worker.logTLSFailure(peer.description, reason) }
        if error == .writeTimeout {
            worker.errorLog.info(peer.description, "HTTP/2 client did not read for \(worker.server.maxWriteIdle) s (server.max-write-idle): closing")
        }
        close()
    }

    /// No stream for `server.max-keep-alive-idle`: GOAWAY, then close.
    func streamIsIdle(_ s: BufferedStream) {
        let now = worker.loop.now
        guard exchanges.isEmpty, now &- lastStreamActivity > Seconds.nanoseconds(worker.server.maxKeepAliveIdle) else { return }
        session.goAway(code: .noError)
        writeSessionOutput()
        stream.closeAfterFlush(linger: 0)
        if stream.isClosed { close() }
    }

    // MARK: teardown and timers

    private func failAll() {
        for ex in Array(exchanges.values) { ex.connectionClosing() }
        exchanges.removeAll()
        ready.removeAll()
    }

    func clientVanished() { close() }

    func close() {
        guard !isClosed else { return }
        isClosed = true
        failAll()
        stream.owner = nil
        stream.close()
        worker.stats.bytesSent += stream.output.bytesWritten
        stream.output.discard()
        worker.http2ConnectionClosed(self)
    }

    /// Once a second: the streams' handlers, and streams stalled on a zero window for
    /// `server.max-write-idle` (a client that opens streams and never grants window) are reset.
    func tick(now: UInt64) {
        if session.isAwaitingSettingsAck && now &- startedAt > Seconds.nanoseconds(HTTP2Connection.settingsAckSeconds) {
            // RFC 9113 §6.5.3: a peer that never acknowledges our SETTINGS is not speaking HTTP/2.
            worker.errorLog.info(peer.description, "HTTP/2 SETTINGS not acknowledged within \(HTTP2Connection.settingsAckSeconds) s: closing")
            session.goAway(code: .settingsTimeout)
            writeSessionOutput()
            stream.closeAfterFlush(linger: 0)
            if stream.isClosed { close() }
            return
        }
        for ex in Array(exchanges.values) { ex.tick(now: now) }
        let limit = UInt64(max(1, worker.server.maxWriteIdle)) * 1000
        for id in session.flowControlStalledStreams(longerThan: limit, now: now / 1_000_000) {
            worker.errorLog.info(peer.description, "HTTP/2 stream \(id): no flow-control window for \(worker.server.maxWriteIdle) s: reset")
            exchanges[id]?.clientVanished()
        }
        writeSessionOutput()
    }

    var isIdleForShutdown: Bool { exchanges.isEmpty }

    /// Graceful stop: GOAWAY (open streams finish), upgraded streams see their end shortly before the deadline.
    func beginStop() {
        session.startGracefulShutdown()
        writeSessionOutput()
    }

    func endUpgradedInput() {
        for ex in Array(exchanges.values) where ex.phase == .upgraded { ex.receiveTrailers() }
    }
}
