import Glibc
import CSwitchyardShims

/// Where a spawned application's listening socket comes from.
public enum ListenSource: Equatable, Sendable {
    /// fd 0, created by the spawner (the gateway's or lighttpd's `bin-path`, spawn-fcgi): the default.
    case inheritedStdin
    /// `--listen HOST:PORT` / `--listen :PORT`.
    case tcp(String)
    /// `--socket PATH`: a unix socket we create (a stale file is removed first, ours on close).
    case unix(String)
}

/// The listening socket of a long-running backend program (the `scgi-cgi`/`fcgi-cgi` bridges, the
/// native echo app): fd 0 inherited from the spawner, or one created for `--listen`/`--socket`.
/// Accepts on the loop and hands each connection to `onAccept`; when out of descriptors it pauses
/// for 100 ms instead of spinning on EMFILE.
public final class AppListener: EventHandler {
    public let fd: Int32
    public let loop: EventLoop
    /// The unix socket file we created, removed again on close.
    public let createdPath: String?
    /// TCP connections want TCP_NODELAY; unix ones have no such option.
    public let isTCP: Bool
    public var onAccept: ((Int32) -> Void)?
    /// Accept failures, for the program's log.
    public var onError: ((String) -> Void)?
    private var active = false
    private var closed = false

    private init(fd: Int32, loop: EventLoop, createdPath: String?) {
        self.fd = fd
        self.loop = loop
        self.createdPath = createdPath
        switch SocketAddress.local(of: fd) {
        case .ipv4?, .ipv6?: isTCP = true
        default: isTCP = false
        }
    }

    public struct SetupError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Opens (or adopts) the listening socket named by `source`.
    public static func open(_ source: ListenSource, loop: EventLoop) throws -> AppListener {
        switch source {
        case .inheritedStdin:
            var accepting: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(0, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) == 0, accepting != 0 else {
                throw SetupError(description: "fd 0 is not a listening socket (start me from a gateway's bin-path or spawn-fcgi, or use --socket PATH / --listen HOST:PORT)")
            }
            Socket.setNonBlocking(0, true)
            _ = sy_set_cloexec(0)
            return AppListener(fd: 0, loop: loop, createdPath: nil)
        case .tcp(let text):
            let fd = try Socket.listen(try SocketAddress.parse(text))
            return AppListener(fd: fd, loop: loop, createdPath: nil)
        case .unix(let path):
            let fd = try Socket.listen(.unix(path))
            return AppListener(fd: fd, loop: loop, createdPath: path)
        }
    }

    public func start() throws {
        try loop.register(fd: fd, events: .input, handler: self)
        active = true
    }

    public func handleEvent(fd: Int32, events: IOEvents) {
        for _ in 0..<64 {
            guard active else { return }
            switch Socket.accept(fd) {
            case .accepted(let cfd, _):
                onAccept?(cfd)
            case .wouldBlock:
                return
            case .error(let e):
                onError?("accept: \(String(cString: strerror(e)))")
                if e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM {
                    loop.unregister(fd: fd)
                    active = false
                    loop.schedule(afterSeconds: 0.1) { [weak self] in
                        guard let self, !self.closed else { return }
                        try? self.start()
                    }
                }
                return
            }
        }
    }

    /// Stops accepting: closes the socket and removes a unix socket file we created.
    public func close() {
        guard !closed else { return }
        closed = true
        if active { loop.unregister(fd: fd) }
        active = false
        Syscall.close(fd)
        if let createdPath { unlink(createdPath) }
    }
}
