import Glibc
import CSwitchyardShims

/// A failed system call, with the operation and the object it concerned, so a log line can say
/// "connect(/tmp/app.sock): Connection refused" rather than a bare errno.
public struct SystemError: Error, CustomStringConvertible, Sendable {
    public var operation: String
    public var errno: Int32
    public var context: String

    public init(_ operation: String, errno: Int32 = Glibc.errno, context: String = "") {
        self.operation = operation
        self.errno = errno
        self.context = context
    }

    public var message: String { String(cString: strerror(errno)) }

    public var description: String {
        context.isEmpty ? "\(operation): \(message)" : "\(operation)(\(context)): \(message)"
    }
}

/// Outcome of a non-blocking read or write: distinguishes "try later" from end of stream and failure
/// without exceptions on the hot path.
public enum IOResult: Equatable {
    case bytes(Int)
    case wouldBlock
    case eof
    case error(Int32)
}

/// Thin wrappers that retry EINTR and map EAGAIN to `.wouldBlock` (swift-nio's syscall discipline).
/// The calls go to the kernel without glibc's cancellation-point bracketing (`sy_read` in the shim).
public enum Syscall {
    @inline(__always)
    public static func read(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> IOResult {
        while true {
            let n = sy_read(fd, buffer, count)
            if n > 0 { return .bytes(n) }
            if n == 0 { return .eof }
            let e = Glibc.errno
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK { return .wouldBlock }
            return .error(e)
        }
    }

    @inline(__always)
    public static func write(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> IOResult {
        while true {
            let n = sy_write(fd, buffer, count)
            if n >= 0 { return .bytes(n) }
            let e = Glibc.errno
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK { return .wouldBlock }
            return .error(e)
        }
    }

    /// `send` with MSG_NOSIGNAL so a vanished peer yields EPIPE instead of a signal.
    @inline(__always)
    public static func send(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> IOResult {
        while true {
            let n = sy_send(fd, buffer, count, Int32(MSG_NOSIGNAL))
            if n >= 0 { return .bytes(n) }
            let e = Glibc.errno
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK { return .wouldBlock }
            if e == ENOTSOCK { return write(fd, buffer, count) }
            return .error(e)
        }
    }

    public static func close(_ fd: Int32) {
        if fd >= 0 { _ = Glibc.close(fd) }
    }

    /// Writes all of `text` to standard error, unbuffered, with write(2): no C `FILE *` global (which
    /// Swift 6 cannot prove thread-safe) and no interleaving inside a line written by one call.
    public static func writeStderr(_ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        bytes.withUnsafeMutableBytes { raw in
            while offset < raw.count {
                let n = Glibc.write(2, raw.baseAddress! + offset, raw.count - offset)
                if n > 0 { offset += n } else if n < 0 && Glibc.errno == EINTR { continue } else { return }
            }
        }
    }
}
