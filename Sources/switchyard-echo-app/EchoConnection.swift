import Glibc
import SwitchyardOS

/// One gateway connection's socket: an input buffer the protocol subclass parses in place, an
/// output buffer replies are encoded into, and the rules for reading, writing and ending, all on
/// a `BufferedStream`:
///
/// - One read per readiness event (more only while reads fill the buffer), every decodable
///   message handled, then one write for the whole batch (the stream flushes after delivering).
/// - Backpressure: above `outputHighWatermark` bytes of unsent output the connection stops
///   reading until the output drains below `outputLowWatermark`.
/// - Ending (`closeAfterFlush`): input is read and dropped, the output flushed, the write side
///   shut, and the socket closed at the peer's EOF (or `lingerSeconds` after the shutdown), so
///   unread input never turns into a reset that destroys the last reply.
class EchoConnection: BufferedStreamDelegate {
    static let outputHighWatermark = 1 << 20
    static let outputLowWatermark = 256 << 10
    static let initialBufferSize = 16 * 1024
    static let readReserve = 16 * 1024
    static let lingerSeconds = 2.0

    let stream: BufferedStream
    unowned let server: EchoServer
    var inBuffer: ByteBuffer { stream.input }
    var outBuffer: ByteBuffer { stream.output.bytes }
    /// Monotonic time of the last input or output (for the idle buffer trim).
    var lastActivity: UInt64 { stream.lastActivity }

    private(set) var closed = false
    /// `closeAfterFlush` was called: input is dropped from now on.
    private(set) var discarding = false

    init(fd: Int32, server: EchoServer) {
        self.server = server
        var options = BufferedStreamOptions()
        options.highWatermark = EchoConnection.outputHighWatermark
        options.lowWatermark = EchoConnection.outputLowWatermark
        options.readSize = EchoConnection.readReserve
        options.readsPerEvent = 8
        options.inputCapacity = EchoConnection.initialBufferSize
        options.outputCapacity = EchoConnection.initialBufferSize
        stream = BufferedStream(transport: SocketTransport(fd: fd), loop: server.loop, options: options)
        stream.delegate = self
    }

    var loop: EventLoop { server.loop }
    var log: EchoLog { server.log }

    func start() {
        do { try stream.start() } catch { closeNow() }
    }

    // MARK: subclass hooks

    /// New bytes are in `inBuffer`: handle every complete message, consume what was used.
    func inputReceived() {}

    /// The peer half-closed (EOF). Default: finish the output, then close.
    func inputEnded() { closeAfterFlush() }

    /// Give back memory that grew for a burst (called when idle).
    func trimBuffers() {
        stream.shrinkIdleBuffers(to: EchoConnection.initialBufferSize)
    }

    // MARK: stream events

    final func streamHasInput(_ stream: BufferedStream) {
        inputReceived()
        if !closed && stream.pendingOutputBytes > EchoConnection.outputHighWatermark && !stream.flush() {
            stream.pauseReading()
        }
    }

    final func streamInputDidEnd(_ stream: BufferedStream) { inputEnded() }

    final func streamDidDrain(_ stream: BufferedStream) { stream.resumeReading() }

    final func streamDidClose(_ stream: BufferedStream, error: BufferedStreamError?) { ended() }

    // MARK: closing

    /// Ends the connection once the output is written (see the type's comment).
    final func closeAfterFlush() {
        guard !closed, !discarding else { return }
        discarding = true
        stream.closeAfterFlush(linger: EchoConnection.lingerSeconds)
    }

    /// Closes at once (malformed input, I/O error, end of lingering).
    final func closeNow() {
        guard !closed else { return }
        stream.close()
        ended()
    }

    private func ended() {
        guard !closed else { return }
        closed = true
        connectionClosed()
        server.forget(self)
    }

    /// Hook: release per-connection state (the socket is already closed).
    func connectionClosed() {}
}
