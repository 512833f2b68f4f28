import Glibc
import SwitchyardOS

/// One listening descriptor of one worker.
struct BoundListener {
    let fd: Int32
    let info: ListenerInfo
    /// "http://127.0.0.1:8080/" or "unix:/path", as announced.
    let shown: String
}

extension Server {
    /// The configured addresses (`server.bind`/`server.port` plus `$SERVER["socket"]` blocks), each
    /// as a listening socket per worker: one `SO_REUSEPORT` socket each for TCP, one shared socket
    /// for a unix path. With systemd socket activation a passed socket whose address matches a
    /// configured one is used instead of binding (shared by every worker), and passed sockets
    /// matching none are served too, with a log line. Returns the listeners per worker and the
    /// unix path this process bound itself (removed at exit; a passed one belongs to systemd).
    func bindListeners(loops: Int) throws -> (perWorker: [[BoundListener]], ownedUnixPath: SocketAddress?) {
        var specs: [(address: SocketAddress, text: String)] = []
        let mainAddress: SocketAddress
        if settings.bind.hasPrefix("/") { mainAddress = .unix(settings.bind) }
        else { mainAddress = try SocketAddress.resolve(host: settings.bind, port: settings.port) }
        specs.append((mainAddress, settings.bind.hasPrefix("/") ? settings.bind : "\(settings.bind):\(settings.port)"))
        for socket in settings.extraSockets {
            specs.append((try SocketAddress.parse(socket), socket))
        }
        var passed = try takeActivatedSockets()
        var perWorker: [[BoundListener]] = Array(repeating: [], count: loops)
        var ownedUnixPath: SocketAddress? = nil
        for (index, spec) in specs.enumerated() {
            let isMain = index == 0   // not by address: a socket block may name the same one (port 0)
            if let i = passed.firstIndex(where: { SocketAddress.local(of: $0)?.description == spec.address.description }) {
                let fd = passed.remove(at: i)
                share(fd, text: spec.text, address: spec.address, into: &perWorker,
                      tls: tlsSlot(forSocket: spec.text, isMain: isMain))
                continue
            }
            var address = spec.address
            for w in 0..<loops {
                let reuse = loops > 1 && address.family != AF_UNIX
                let fd: Int32
                if w > 0 && address.family == AF_UNIX {
                    fd = Socket.dupCloexec(perWorker[0].first(where: { $0.info.serverSocket == spec.text })!.fd)
                } else {
                    fd = try Socket.listen(address, options: .init(backlog: settings.listenBacklog, reusePort: reuse))
                }
                if w == 0, address.port == 0, let bound = SocketAddress.local(of: fd) {
                    address = bound   // port 0: every worker binds the port the kernel picked
                }
                let info = listenerInfo(text: spec.text, isMain: isMain, port: address.port)
                perWorker[w].append(BoundListener(fd: fd, info: info, shown: Self.shown(address, tls: info.tls != nil)))
            }
            if spec.address.description == mainAddress.description, case .unix = mainAddress { ownedUnixPath = mainAddress }
        }
        for fd in passed {
            let address = SocketAddress.local(of: fd)
            let text = address?.description ?? "fd \(fd)"
            errorLog.info("server", "systemd passed a socket the configuration does not name (\(text)): serving it too")
            share(fd, text: text, address: address, into: &perWorker)
        }
        return (perWorker, ownedUnixPath)
    }

    /// Sockets passed by systemd, when activation is on; a passed descriptor that is not a
    /// listening stream socket is a start-up error (an HTTP server cannot serve it).
    private func takeActivatedSockets() throws -> [Int32] {
        let fds = Systemd.takeListenFDs()
        guard !fds.isEmpty else { return [] }
        guard settings.socketActivation else {
            errorLog.warning("server", "systemd passed \(fds.count) socket(s) but server.systemd-socket-activation = \"disable\": binding as configured")
            for fd in fds { close(fd) }
            return []
        }
        for fd in fds where !Systemd.isListeningStream(fd) {
            throw ServerError.config("systemd socket activation: descriptor \(fd) is not a listening stream socket (ListenStream= in the .socket unit)")
        }
        return fds
    }

    /// A passed socket is one kernel socket: every worker polls it (a `dup` each, so each loop
    /// owns what it closes) and whichever accepts first takes the connection.
    private func share(_ fd: Int32, text: String, address: SocketAddress?, into perWorker: inout [[BoundListener]],
                       tls: TLSContextSlot? = nil) {
        var info = ListenerInfo(scheme: "http", serverSocket: text, port: address?.port ?? 0)
        if let tls { info.scheme = "https"; info.tls = tls }
        let shown = address.map { Self.shown($0, tls: tls != nil) } ?? text
        for w in perWorker.indices {
            perWorker[w].append(BoundListener(fd: w == 0 ? fd : Socket.dupCloexec(fd), info: info, shown: shown))
        }
    }

    static func shown(_ address: SocketAddress, tls: Bool = false) -> String {
        if case .unix(let p) = address { return tls ? "unix:\(p) (TLS)" : "unix:\(p)" }
        return "\(tls ? "https" : "http")://\(address.description)/"
    }

    /// A listener's scheme and TLS context (`ssl.engine` in its scope).
    private func listenerInfo(text: String, isMain: Bool, port: Int) -> ListenerInfo {
        guard let context = tlsSlot(forSocket: text, isMain: isMain) else {
            return ListenerInfo(scheme: "http", serverSocket: text, port: port)
        }
        return ListenerInfo(scheme: "https", serverSocket: text, port: port, tls: context)
    }
}
