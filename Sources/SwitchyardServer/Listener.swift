import Glibc
import SwitchyardOS

/// Accepts connections on one listening socket for one worker. Each worker has its own
/// SO_REUSEPORT socket, so the kernel spreads connections across loops without a shared accept lock.
///
/// Running out of descriptors (EMFILE/ENFILE) is handled the lighttpd/libev way: a spare descriptor
/// is kept open; when accept fails for lack of descriptors it is released, the pending connection
/// accepted and closed at once, and the spare reopened — the backlog drains instead of spinning.
final class Listener: EventHandler {
    let fd: Int32
    let info: ListenerInfo
    unowned let worker: Worker
    private var spareFD: Int32
    private(set) var paused = false

    init(fd: Int32, info: ListenerInfo, worker: Worker) {
        self.fd = fd
        self.info = info
        self.worker = worker
        spareFD = open("/dev/null", O_RDONLY | O_CLOEXEC)
    }

    func start() throws {
        try worker.loop.register(fd: fd, events: .input, handler: self)
    }

    func handleEvent(fd: Int32, events: IOEvents) {
        for _ in 0..<64 {
            if !worker.canAccept { pause(); return }
            switch Socket.accept(fd) {
            case .accepted(let cfd, let addr):
                worker.accepted(fd: cfd, remote: addr, listener: info)
            case .wouldBlock:
                return
            case .error(let e):
                if e == EMFILE || e == ENFILE {
                    shedOneConnection()
                } else {
                    worker.errorLog.warning("accept(\(info.serverSocket))", String(cString: strerror(e)))
                }
                return
            }
        }
    }

    /// One warning a second at most, with how many were refused since the last one: a flood of
    /// connections at the descriptor limit must not become a flood of log lines.
    private var shedSince = 0
    private var lastShedWarning: UInt64 = 0

    private func shedOneConnection() {
        shedSince += 1
        let now = worker.loop.now
        if lastShedWarning == 0 || now - lastShedWarning >= 1_000_000_000 {
            worker.errorLog.warning("accept(\(info.serverSocket))", "out of file descriptors: refused \(shedSince) connection(s) (raise the limit or lower server.max-connections)")
            shedSince = 0
            lastShedWarning = now
        }
        if spareFD >= 0 { close(spareFD); spareFD = -1 }
        if case .accepted(let cfd, _) = Socket.accept(fd) { close(cfd) }
        spareFD = open("/dev/null", O_RDONLY | O_CLOEXEC)
    }

    func pause() {
        guard !paused else { return }
        paused = true
        worker.loop.setInterest(fd: fd, [])
    }

    func resume() {
        guard paused else { return }
        paused = false
        worker.loop.setInterest(fd: fd, .input)
    }

    func closeListener() {
        worker.loop.unregister(fd: fd)
        close(fd)
        if spareFD >= 0 { close(spareFD); spareFD = -1 }
    }
}
