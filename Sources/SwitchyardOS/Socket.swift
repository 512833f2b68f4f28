import Glibc
import CSwitchyardShims

/// Socket creation and options. Every descriptor is created non-blocking and close-on-exec, so no
/// gateway descriptor can leak into a spawned program.
public enum Socket {
    public struct ListenOptions: Sendable {
        public var backlog: Int32 = 1024
        public var reusePort = false
        public var unixMode: mode_t? = nil
        public init(backlog: Int32 = 1024, reusePort: Bool = false) {
            self.backlog = backlog
            self.reusePort = reusePort
        }
    }

    /// Creates a listening socket. For unix sockets a stale file is removed first.
    public static func listen(_ address: SocketAddress, options: ListenOptions = .init()) throws -> Int32 {
        let fd = sy_socket(address.family, Int32(SOCK_STREAM.rawValue), 0)
        if fd < 0 { throw SystemError("socket", context: address.description) }
        var one: Int32 = 1
        if case .unix(let path) = address {
            unlink(path)
        } else {
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            if options.reusePort {
                setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<Int32>.size))
            }
            if address.family == AF_INET6 {
                setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size))
            }
        }
        let rc = address.withSockAddr { bind(fd, $0, $1) }
        if rc != 0 {
            let e = errno
            Syscall.close(fd)
            throw SystemError("bind", errno: e, context: address.description)
        }
        if case .unix(let path) = address, let mode = options.unixMode { chmod(path, mode) }
        if Glibc.listen(fd, options.backlog) != 0 {
            let e = errno
            Syscall.close(fd)
            throw SystemError("listen", errno: e, context: address.description)
        }
        return fd
    }

    public enum AcceptResult {
        case accepted(Int32, SocketAddress?)
        case wouldBlock
        case error(Int32)
    }

    public static func accept(_ listener: Int32) -> AcceptResult {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        while true {
            let fd = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sy_accept4(listener, $0, &len) }
            }
            if fd >= 0 { return .accepted(fd, SocketAddress(storage: &storage)) }
            let e = errno
            if e == EINTR || e == ECONNABORTED { continue }
            if e == EAGAIN || e == EWOULDBLOCK { return .wouldBlock }
            return .error(e)
        }
    }

    public enum ConnectResult {
        case connected(Int32)
        case inProgress(Int32)
    }

    /// Starts a non-blocking connect; `.inProgress` completes when the fd turns writable (check `pendingError`).
    public static func connect(_ address: SocketAddress) throws -> ConnectResult {
        let fd = sy_socket(address.family, Int32(SOCK_STREAM.rawValue), 0)
        if fd < 0 { throw SystemError("socket", context: address.description) }
        let rc = address.withSockAddr { Glibc.connect(fd, $0, $1) }
        if rc == 0 { return .connected(fd) }
        let e = errno
        if e == EINPROGRESS || e == EINTR { return .inProgress(fd) }
        Syscall.close(fd)
        throw SystemError("connect", errno: e, context: address.description)
    }

    /// The error of a completed non-blocking connect (0 when it succeeded).
    public static func pendingError(_ fd: Int32) -> Int32 {
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
        return err
    }

    public static func setNoDelay(_ fd: Int32, _ on: Bool = true) {
        var v: Int32 = on ? 1 : 0
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &v, socklen_t(MemoryLayout<Int32>.size))
    }

    public static func shutdownWrite(_ fd: Int32) {
        _ = Glibc.shutdown(fd, Int32(SHUT_WR))
    }

    public static func setNonBlocking(_ fd: Int32, _ on: Bool) {
        _ = sy_set_nonblocking(fd, on ? 1 : 0)
    }

    /// A close-on-exec duplicate (never plain `dup`, which drops FD_CLOEXEC).
    public static func dupCloexec(_ fd: Int32) -> Int32 { sy_dup_cloexec(fd) }

    /// A connected pair of unix stream sockets, non-blocking and close-on-exec.
    public static func pair() throws -> (Int32, Int32) {
        var fds: [Int32] = [0, 0]
        if socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) != 0 {
            throw SystemError("socketpair")
        }
        return (fds[0], fds[1])
    }
}

/// Pipes, splice and sendfile.
public enum Pipe {
    /// Non-blocking, close-on-exec pipe; `size` enlarges it with F_SETPIPE_SZ (0 = default).
    public static func make(size: Int32 = 0) throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [0, 0]
        if sy_pipe2(&fds, size) != 0 { throw SystemError("pipe2") }
        return (fds[0], fds[1])
    }

    /// Moves up to `count` bytes between descriptors in the kernel; one end must be a pipe.
    public static func splice(from: Int32, to: Int32, count: Int) -> IOResult {
        while true {
            let n = sy_splice(from, to, count, sy_splice_f_move() | sy_splice_f_nonblock())
            if n > 0 { return .bytes(n) }
            if n == 0 { return .eof }
            let e = errno
            if e == EINTR { continue }
            if e == EAGAIN { return .wouldBlock }
            return .error(e)
        }
    }

    public static func sendfile(to socket: Int32, from file: Int32, offset: inout Int, count: Int) -> IOResult {
        while true {
            var off = off_t(offset)
            let n = Glibc.sendfile(socket, file, &off, count)
            if n >= 0 { offset = Int(off); return n == 0 ? .eof : .bytes(n) }
            let e = errno
            if e == EINTR { continue }
            if e == EAGAIN { return .wouldBlock }
            return .error(e)
        }
    }
}
