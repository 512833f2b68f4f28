import Glibc
import CSwitchyardShims

/// The error log: one line per event, "YYYY-MM-DD HH:MM:SS (level) context: message".
/// Lines go out with a single write(2) so threads never interleave inside a line; reopening for
/// SIGHUP swaps the descriptor with dup2, so writers in other threads never see a closed fd.
/// Sendable: nothing in it changes after `init` (the descriptor number stays; dup2 replaces what
/// it refers to, atomically for the writers).
public final class ErrorLog: Sendable {
    public enum Level: Int, Comparable, Sendable {
        case debug = 0, info, warning, error
        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
        var label: String {
            switch self {
            case .debug: return "debug"
            case .info: return "info"
            case .warning: return "warn"
            case .error: return "error"
            }
        }
    }

    public let path: String?
    private let fd: Int32
    public let minimumLevel: Level = .info

    /// `path` nil = standard error.
    public init(path: String?) throws {
        self.path = path
        if let path {
            fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
            if fd < 0 { throw ServerError.io(SystemErrorText.describe("open", path)) }
        } else {
            fd = 2
        }
    }

    public func reopen() {
        guard let path else { return }
        let nfd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        if nfd < 0 { return }
        _ = dup2(nfd, fd)
        _ = sy_set_cloexec(fd)
        close(nfd)
    }

    public func log(_ level: Level, _ context: String, _ message: String) {
        guard level >= minimumLevel else { return }
        var line = ErrorLog.timestamp()
        line += " (\(level.label)) "
        if !context.isEmpty { line += context + ": " }
        line += message
        line += "\n"
        line.withUTF8 { p in _ = write(fd, p.baseAddress, p.count) }
    }

    public func error(_ context: String, _ message: String) { log(.error, context, message) }
    public func warning(_ context: String, _ message: String) { log(.warning, context, message) }
    public func info(_ context: String, _ message: String) { log(.info, context, message) }
    public func debug(_ context: String, _ message: String) { log(.debug, context, message) }

    /// One line a backend program wrote on its stderr (a pipe, or FastCGI STDERR records), split
    /// by a `LineSplitter`.
    func stderrLine(_ context: String, _ line: UnsafeRawBufferPointer) {
        error(context, "stderr: " + String(decoding: line, as: UTF8.self))
    }

    static func timestamp() -> String {
        var t = time(nil)
        var tmv = tm()
        localtime_r(&t, &tmv)
        var buf = [CChar](repeating: 0, count: 32)
        strftime(&buf, 32, "%Y-%m-%d %H:%M:%S", &tmv)
        return String(cString: buf)
    }
}

enum SystemErrorText {
    static func describe(_ op: String, _ object: String) -> String {
        "\(op)(\(object)): \(String(cString: strerror(errno)))"
    }
}

/// The access log in the combined format, buffered per worker and flushed at least once a second.
/// Sendable for the same reason as `ErrorLog`.
public final class AccessLog: Sendable {
    public let path: String
    private let fd: Int32

    public init(path: String) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        if fd < 0 { throw ServerError.io(SystemErrorText.describe("open", path)) }
    }

    public func reopen() {
        let nfd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        if nfd < 0 { return }
        _ = dup2(nfd, fd)
        _ = sy_set_cloexec(fd)
        close(nfd)
    }

    /// Writes whole lines accumulated by one worker.
    public func write(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        bytes.withUnsafeBytes { p in _ = Glibc.write(fd, p.baseAddress, p.count) }
    }

    /// "[10/Oct/2000:13:55:36 +0000]"
    static func clfTime(_ seconds: Int) -> String {
        var t = time_t(seconds)
        var tmv = tm()
        localtime_r(&t, &tmv)
        var buf = [CChar](repeating: 0, count: 40)
        strftime(&buf, 40, "[%d/%b/%Y:%H:%M:%S %z]", &tmv)
        return String(cString: buf)
    }
}

/// Fatal start-up and configuration problems, each naming what it concerns.
public enum ServerError: Error, CustomStringConvertible {
    case config(String)
    case io(String)
    case backend(String)

    public var description: String {
        switch self {
        case .config(let s): return s
        case .io(let s): return s
        case .backend(let s): return s
        }
    }
}
