import Glibc
import SwitchyardOS

/// The front-end connection's socket: a `BufferedStream` (input buffer, output queue with
/// watermarks, input pausing, orderly end: flush, half-close, drain the peer's remaining bytes,
/// close) in the vocabulary the bridge connections speak. On top of the stream it keeps two
/// promises the connections rely on: closes are reported from a deferred task (never from inside
/// a call the connection made), and `finishAfterFlush` is bounded from the moment it is asked.
final class BridgeSocket: BufferedStreamDelegate {
    static let highWatermark = 256 * 1024
    static let lowWatermark = 64 * 1024

    let stream: BufferedStream
    var loop: EventLoop { stream.loop }
    weak var delegate: BridgeSocketDelegate?
    var inBuffer: ByteBuffer { stream.input }
    var outBuffer: ByteBuffer { stream.output.bytes }

    private(set) var closed = false
    private var finishTimer: TimerID?

    /// `inputLimit`: the most `inBuffer` may hold before reading stops (the owner consumes below it).
    init(fd: Int32, loop: EventLoop, inputLimit: Int) {
        var options = BufferedStreamOptions()
        options.highWatermark = BridgeSocket.highWatermark
        options.lowWatermark = BridgeSocket.lowWatermark
        options.inputLimit = inputLimit
        options.inputCapacity = min(inputLimit, 64 * 1024)
        stream = BufferedStream(transport: SocketTransport(fd: fd), loop: loop, options: options)
        stream.delegate = self
    }

    func start() {
        do { try stream.start() } catch { closeNow(error: errno == 0 ? EBADF : errno) }
    }

    var readClosed: Bool { stream.isInputClosed }
    var outputBacklog: Int { stream.pendingOutputBytes }
    var isBehind: Bool { stream.isBehind }

    func pauseInput() { stream.pauseReading() }
    func resumeInput() { stream.resumeReading() }

    func write(_ bytes: UnsafeRawBufferPointer) { stream.write(bytes) }
    func write(_ bytes: [UInt8]) { stream.write(bytes) }
    /// Sends what was appended to `outBuffer`; the rest waits for writability.
    func flush() { stream.flush() }

    /// Ends the connection politely: flush, half-close, read and drop whatever the peer still
    /// sends until its EOF, then close and report `socketClosed(error: nil)`; all within `linger`
    /// seconds from now (a front end that reads nothing cannot hold a shutdown).
    func finishAfterFlush(linger: Double = 5) {
        guard !closed, finishTimer == nil else { return }
        finishTimer = loop.schedule(afterSeconds: linger) { [weak self] in
            guard let self else { return }
            self.finishTimer = nil
            self.closeNow(error: nil)
        }
        stream.closeAfterFlush(linger: linger)
    }

    /// Closes at once; the delegate hears about it from a deferred task.
    func closeNow(error: Int32?) {
        guard !closed else { return }
        stream.close()
        report(error)
    }

    // MARK: stream events

    func streamHasInput(_ stream: BufferedStream) { delegate?.socketReceived(self) }
    func streamInputDidEnd(_ stream: BufferedStream) { delegate?.socketReadClosed(self) }
    func streamDidDrain(_ stream: BufferedStream) { delegate?.socketWritable(self) }

    func streamDidClose(_ stream: BufferedStream, error: BufferedStreamError?) {
        guard !closed else { return }
        report(error.map { $0.errorNumber ?? ETIMEDOUT })
    }

    private func report(_ error: Int32?) {
        closed = true
        if let t = finishTimer { loop.cancel(t); finishTimer = nil }
        loop.defer_ { [self] in
            let d = delegate
            delegate = nil
            d?.socketClosed(self, error: error)
        }
    }
}
