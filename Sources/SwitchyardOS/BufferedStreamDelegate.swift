import Glibc

/// Why a `BufferedStream` closed itself.
public enum BufferedStreamError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The non-blocking connect failed (SO_ERROR).
    case connectFailed(Int32)
    /// read(2) failed: ECONNRESET for a peer that reset the connection.
    case readFailed(Int32)
    /// Sending failed: EPIPE/ECONNRESET for a peer that went away.
    case writeFailed(Int32)
    /// No byte moved either way for `idleTimeout`.
    case idleTimeout
    /// Output was pending and the peer took none of it for `writeTimeout`.
    case writeTimeout

    /// The errno behind the failure, if there is one.
    public var errorNumber: Int32? {
        switch self {
        case .connectFailed(let e), .readFailed(let e), .writeFailed(let e): return e
        case .idleTimeout, .writeTimeout: return nil
        }
    }

    public var description: String {
        switch self {
        case .connectFailed(let e): return "connect: \(String(cString: strerror(e)))"
        case .readFailed(let e): return "read: \(String(cString: strerror(e)))"
        case .writeFailed(let e): return "write: \(String(cString: strerror(e)))"
        case .idleTimeout: return "idle timeout"
        case .writeTimeout: return "write timeout"
        }
    }
}

/// What a `BufferedStream` tells its owner. The stream holds its delegate weakly (the owner keeps
/// the stream), so neither keeps the other alive through the other.
///
/// Callbacks come from the event loop (readiness, timers). A close the stream detects inside a
/// call the owner made (`write`, `flush`, `shutdownOutput`, `closeAfterFlush`) is reported from a
/// deferred task, and so is a drain, so an owner never re-enters itself from its own call.
public protocol BufferedStreamDelegate: AnyObject {
    /// The non-blocking connect completed; queued output is on its way.
    func streamDidConnect(_ stream: BufferedStream)
    /// New bytes are in `stream.input`: consume what you use, leave the rest there.
    func streamHasInput(_ stream: BufferedStream)
    /// The peer's EOF, once, after every byte before it was delivered. Output may go on.
    func streamInputDidEnd(_ stream: BufferedStream)
    /// The write queue fell to the low watermark after `write` or `flush` returned false.
    func streamDidDrain(_ stream: BufferedStream)
    /// The stream closed itself, once: `error` nil after `closeAfterFlush` completed. Not called
    /// for the owner's own `close()`.
    func streamDidClose(_ stream: BufferedStream, error: BufferedStreamError?)
    /// `options.reportsIdle`: nothing moved for `idleTimeout` (or since the last report). The
    /// stream stays open; the next report comes one `idleTimeout` later.
    func streamIsIdle(_ stream: BufferedStream)
}

public extension BufferedStreamDelegate {
    func streamDidConnect(_ stream: BufferedStream) {}
    func streamDidDrain(_ stream: BufferedStream) {}
    func streamIsIdle(_ stream: BufferedStream) {}
}

/// Tuning of one `BufferedStream`.
public struct BufferedStreamOptions: Sendable {
    /// `write` returns false once this many bytes are queued.
    public var highWatermark = 256 * 1024
    /// `streamDidDrain` when the queue is back down to this many bytes (0: empty).
    public var lowWatermark = 64 * 1024
    /// Room made in `input` for one read.
    public var readSize = 64 * 1024
    /// Reading stops while `input` holds this many unconsumed bytes (it may overshoot by less than
    /// one read); the owner consumes, then calls `resumeReading()`.
    public var inputLimit = Int.max
    /// Reads per readiness event at most, so one busy peer cannot starve the others.
    public var readsPerEvent = 16
    public var inputCapacity = 16 * 1024
    public var outputCapacity = 16 * 1024
    /// Seconds without any byte moving before the stream closes with `.idleTimeout` (0: never).
    public var idleTimeout: Double = 0
    /// Seconds with output pending and none taken before `.writeTimeout` (0: never).
    public var writeTimeout: Double = 0
    /// A failed write ends only the output (queue dropped, output half-closed) and reading goes on:
    /// a CGI that closed its stdin may still be writing its answer.
    public var writeErrorEndsOutputOnly = false
    /// `idleTimeout` is reported (`streamIsIdle`) instead of closing the stream: an owner whose
    /// limits depend on its own state (keep-alive idle, a stalled request body) decides.
    public var reportsIdle = false

    public init() {}
}
