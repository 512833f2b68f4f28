import Glibc
import SwitchyardOS
import CSwitchyardShims

/// The listening socket: fd 0 inherited from the spawner (lighttpd `bin-path`, spawn-fcgi), or
/// one we create for `--listen`/`--socket`. Accepts on the loop and hands each connection to
/// `onAccept`; when out of descriptors it pauses for 100 ms instead of spinning on EMFILE.
final class BridgeListener: EventHandler {
    let fd: Int32
    let loop: EventLoop
    let log: BridgeLog
    /// The unix socket file we created, removed again on close.
    let createdPath: String?
    var onAccept: ((Int32) -> Void)?
    private var active = false
    private var closed = false

    private init(fd: Int32, loop: EventLoop, log: BridgeLog, createdPath: String?) {
        self.fd = fd
        self.loop = loop
        self.log = log
        self.createdPath = createdPath
    }

    struct SetupError: Error, CustomStringConvertible {
        var description: String
    }

    /// Opens (or adopts) the listening socket named by `source`.
    static func open(_ source: BridgeListenSource, loop: EventLoop, log: BridgeLog) throws -> BridgeListener {
        switch source {
        case .inheritedStdin:
            var accepting: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(0, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) == 0, accepting != 0 else {
                throw SetupError(description: "fd 0 is not a listening socket (start me from lighttpd/spawn-fcgi, or use --socket PATH / --listen HOST:PORT)")
            }
            Socket.setNonBlocking(0, true)
            _ = sy_set_cloexec(0)
            return BridgeListener(fd: 0, loop: loop, log: log, createdPath: nil)
        case .tcp(let text):
            let address = try SocketAddress.parse(text)
            let fd = try Socket.listen(address)
            return BridgeListener(fd: fd, loop: loop, log: log, createdPath: nil)
        case .unix(let path):
            let fd = try Socket.listen(.unix(path))
            return BridgeListener(fd: fd, loop: loop, log: log, createdPath: path)
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
