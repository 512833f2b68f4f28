import Glibc
import SwitchyardOS
import CSwitchyardShims

/// The listening socket: fd 0 inherited from the spawner, or one we create for `--socket` /
/// `--listen`. Accepts on the loop and hands each connection to `onAccept`; out of descriptors it
/// pauses for 100 ms instead of spinning on EMFILE.
final class EchoListener: EventHandler {
    let fd: Int32
    let loop: EventLoop
    let log: EchoLog
    /// TCP connections get TCP_NODELAY (small echo replies must not wait for Nagle).
    let isTCP: Bool
    /// The unix socket file we created, removed again on close.
    let createdPath: String?
    var onAccept: ((Int32) -> Void)?
    private var active = false
    private var closed = false

    private init(fd: Int32, loop: EventLoop, log: EchoLog, createdPath: String?) {
        self.fd = fd
        self.loop = loop
        self.log = log
        self.createdPath = createdPath
        switch SocketAddress.local(of: fd) {
        case .ipv4?, .ipv6?: isTCP = true
        default: isTCP = false
        }
    }

    struct SetupError: Error, CustomStringConvertible {
        var description: String
    }

    static func open(_ source: EchoListenSource, loop: EventLoop, log: EchoLog) throws -> EchoListener {
        switch source {
        case .inheritedStdin:
            var accepting: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(0, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) == 0, accepting != 0 else {
                throw SetupError(description: "fd 0 is not a listening socket (start me from the gateway's bin-path or spawn-fcgi, or use --socket PATH / --listen HOST:PORT)")
            }
            Socket.setNonBlocking(0, true)
            _ = sy_set_cloexec(0)
            return EchoListener(fd: 0, loop: loop, log: log, createdPath: nil)
        case .tcp(let text):
            let fd = try Socket.listen(try SocketAddress.parse(text))
            return EchoListener(fd: fd, loop: loop, log: log, createdPath: nil)
        case .unix(let path):
            let fd = try Socket.listen(.unix(path))
            return EchoListener(fd: fd, loop: loop, log: log, createdPath: path)
        }
    }

    func start() throws {
        try loop.register(fd: fd, events: .input, handler: self)
        active = true
    }

    func handleEvent(fd: Int32, events: IOEvents) {
        for _ in 0..<64 {
            guard active else { return }
            switch Socket.accept(fd) {
            case .accepted(let cfd, _):
                onAccept?(cfd)
            case .wouldBlock:
                return
            case .error(let e):
                log.error("accept: \(String(cString: strerror(e)))")
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
    func close() {
        guard !closed else { return }
        closed = true
        if active { loop.unregister(fd: fd) }
        active = false
        Syscall.close(fd)
        if let createdPath { unlink(createdPath) }
    }
}
