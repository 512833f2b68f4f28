import Glibc
import CSwitchyardShims

/// systemd's two process protocols, written by hand so no libsystemd is needed:
/// socket activation (`sd_listen_fds(3)`: `LISTEN_PID`, `LISTEN_FDS`, descriptors from 3 on) and
/// readiness notification (`sd_notify(3)`: a datagram to `$NOTIFY_SOCKET`). Both read and then
/// remove their variables, so spawned CGIs and backends neither inherit nor misuse them.
public enum Systemd {
    /// The first descriptor the service manager passes.
    public static let firstListenFD: Int32 = 3

    /// The listening sockets passed to this process (empty without activation, or when the
    /// variables name another process — a parent's leftovers). Each comes back close-on-exec and
    /// non-blocking; the variables are removed. Call before any thread starts (setenv is not
    /// thread-safe).
    public static func takeListenFDs() -> [Int32] {
        defer {
            unsetenv("LISTEN_PID")
            unsetenv("LISTEN_FDS")
            unsetenv("LISTEN_FDNAMES")
        }
        guard let pidText = getenv("LISTEN_PID").map({ String(cString: $0) }), let pid = Int32(pidText), pid == getpid(),
              let countText = getenv("LISTEN_FDS").map({ String(cString: $0) }), let count = Int32(countText),
              count > 0, count < 4096 else { return [] }
        var fds: [Int32] = []
        for fd in firstListenFD..<(firstListenFD + count) {
            let flags = fcntl(fd, F_GETFD)
            guard flags >= 0 else { continue }          // not open: the manager's word was wrong
            _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC)
            Socket.setNonBlocking(fd, true)
            fds.append(fd)
        }
        return fds
    }

    /// Whether `fd` is a listening stream socket (what activation must pass for an HTTP server).
    public static func isListeningStream(_ fd: Int32) -> Bool {
        var type: Int32 = 0, listening: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 else { return false }
        len = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 else { return false }
        return type == Int32(SOCK_STREAM.rawValue) && listening != 0
    }
}

/// `sd_notify(3)` for `Type=notify` services: "READY=1" once listening, "STOPPING=1" when a
/// graceful stop begins, "STATUS=…" for `systemctl status`. A no-op without `$NOTIFY_SOCKET`.
public final class ServiceNotifier: Sendable {
    private let path: [UInt8]?

    /// Reads and removes `$NOTIFY_SOCKET` (call before threads start).
    public init() {
        if let p = getenv("NOTIFY_SOCKET"), p[0] != 0 {
            let bytes = Array(String(cString: p).utf8)
            path = (bytes.first == UInt8(ascii: "/") || bytes.first == UInt8(ascii: "@")) && bytes.count < 108 ? bytes : nil
        } else {
            path = nil
        }
        unsetenv("NOTIFY_SOCKET")
    }

    public var isActive: Bool { path != nil }

    /// Sends one state message ("READY=1\nSTATUS=…"); returns false when it could not be sent.
    @discardableResult
    public func notify(_ state: String) -> Bool {
        guard let path else { return false }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in path.enumerated() { raw[i] = b }
            if path.first == UInt8(ascii: "@") { raw[0] = 0 }     // abstract namespace
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count)
        let sent = Array(state.utf8).withUnsafeBytes { message in
            withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, message.baseAddress, message.count, Int32(MSG_NOSIGNAL), $0, length)
                }
            }
        }
        return sent == state.utf8.count
    }
}
