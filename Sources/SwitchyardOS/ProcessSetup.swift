import Glibc
import CSwitchyardShims

/// Process-wide start-up steps that must happen before any thread exists.
public enum ProcessSetup {
    /// Signals the server handles through signalfd (must be blocked in every thread).
    public static let handledSignals: [Int32] = [SIGTERM, SIGINT, SIGHUP, SIGUSR1]

    /// Blocks the handled signals (inherited by threads created later), ignores SIGPIPE and
    /// raises RLIMIT_NOFILE to the hard limit. Returns the new descriptor limit.
    @discardableResult
    public static func prepare(blockSignals: Bool = true) -> Int {
        Glibc.signal(SIGPIPE, SIG_IGN)
        if blockSignals {
            _ = handledSignals.withUnsafeBufferPointer { sy_block_signals($0.baseAddress, Int32($0.count)) }
        }
        return Int(sy_raise_nofile_limit())
    }

    /// The CPUs this process may run on: its affinity mask (taskset, a cgroup cpuset, systemd's
    /// CPUAffinity=), not every online CPU — more event loops than usable CPUs only add context
    /// switches. Falls back to the online count when the mask cannot be read.
    public static var usableCPUs: Int {
        let n = Int(sy_usable_cpus())
        return n > 0 ? n : max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }
}

/// Delivers SIGTERM/SIGINT/SIGHUP as readable events on a loop (signalfd).
public final class SignalSource: EventHandler {
    private let fd: Int32
    private let handler: (Int32) -> Void

    public init(signals: [Int32], loop: EventLoop, handler: @escaping (Int32) -> Void) throws {
        fd = signals.withUnsafeBufferPointer { sy_signalfd_for($0.baseAddress, Int32($0.count)) }
        if fd < 0 { throw SystemError("signalfd") }
        self.handler = handler
        try loop.register(fd: fd, events: .input, handler: self)
    }

    public func handleEvent(fd: Int32, events: IOEvents) {
        while true {
            let signo = sy_signalfd_read(fd)
            if signo == 0 { break }
            handler(Int32(signo))
        }
    }
}
