import Glibc
import SwitchyardOS

/// Starts and watches the programs named by `bin-path` (lighttpd's spawning, spawn-fcgi's
/// convention): the gateway creates the listening socket, removes a stale unix socket file first,
/// and passes the listening socket as the child's fd 0. Children that exit are restarted with
/// exponential backoff; at shutdown they get `kill-signal` and the socket file is removed.
/// Runs on the main loop; workers only connect to the sockets.
final class BackendSupervisor {
    final class Managed {
        let config: BackendHostConfig
        let argv: [String]
        var listenFD: Int32 = -1
        var children: [ChildProcess?]
        var backoff: Double = 0.5
        var startedAt: [UInt64]
        /// Left the configuration (live reload): drained, then stopped, never restarted.
        var retired = false
        /// The configuration generations this backend served: from `startedGeneration` up to
        /// (not including) `retiredGeneration`. Retired host states in the workers say which
        /// generation they served last, so their exchanges are counted against this backend only,
        /// not against a later one at the same address.
        var startedGeneration = 0
        var retiredGeneration = Int.max
        /// The unix socket file this backend removes when it stops (nil: none, or a replacement
        /// took the path over).
        var socketFile: String?
        init(config: BackendHostConfig, argv: [String]) {
            self.config = config
            self.argv = argv
            children = Array(repeating: nil, count: max(config.maxProcs, config.minProcs, 1))
            startedAt = Array(repeating: 0, count: children.count)
        }
    }

    let loop: EventLoop
    let errorLog: ErrorLog
    let availability: BackendAvailability
    var managed: [Managed] = []
    /// Spawned backends a reload removed, running until no exchange uses them (`Server+Reload`).
    var retiredManaged: [Managed] = []
    private var stopping = false

    init(loop: EventLoop, errorLog: ErrorLog, availability: BackendAvailability) {
        self.loop = loop
        self.errorLog = errorLog
        self.availability = availability
    }

    /// Creates sockets and starts every spawned backend. Throws a start-up error naming bin-path.
    func start(tables: [GatewayRouteTable]) throws {
        for host in Self.spawnedHosts(tables) { managed.append(try launch(host)) }
        try checkStarted(managed)
    }

    /// Every `bin-path` host of `tables`, once per address (the first one written wins).
    static func spawnedHosts(_ tables: [GatewayRouteTable]) -> [BackendHostConfig] {
        var seen = Set<String>()
        var hosts: [BackendHostConfig] = []
        for table in tables {
            for route in table.routes {
                for host in route.hosts where host.binPath != nil {
                    if seen.insert(host.addressDescription).inserted { hosts.append(host) }
                }
            }
        }
        return hosts
    }

    /// The listening socket and the processes of one spawned backend.
    /// `listenPath`: bind the unix socket there instead of at `socket` (a replacement that is
    /// renamed into place once the reload is committed).
    func launch(_ host: BackendHostConfig, listenPath: String? = nil, generation: Int = 0) throws -> Managed {
        let binPath = host.binPath ?? ""
        let argv = binPath.split(separator: " ").map(String.init)
        guard let program = argv.first, access(program, X_OK) == 0 else {
            throw ServerError.backend("\(host.location): bin-path \"\(binPath)\" is not an executable file (\(String(cString: strerror(errno))))")
        }
        let m = Managed(config: host, argv: argv)
        m.startedGeneration = generation
        let address: SocketAddress
        if let socket = host.socket {
            address = .unix(listenPath ?? socket)
            m.socketFile = listenPath ?? socket
        }
        else { address = try SocketAddress.resolve(host: host.host ?? "127.0.0.1", port: host.port ?? 0) }
        do {
            m.listenFD = try Socket.listen(address, options: .init(backlog: host.listenBacklog))
        } catch {
            throw ServerError.backend("\(host.location): bin-path \"\(binPath)\": cannot listen on \(host.addressDescription): \(error)")
        }
        // The child accepts on fd 0 with blocking calls.
        Socket.setNonBlocking(m.listenFD, false)
        // lighttpd 1.4 starts max-procs processes; they all accept on the one listening socket.
        for i in 0..<max(host.maxProcs, host.minProcs, 1) {
            do { try spawn(m, slot: i) } catch {
                discard(m)
                throw ServerError.backend("\(host.location): bin-path \"\(binPath)\" could not be started: \(error)")
            }
        }
        return m
    }

    /// A backend that dies at once (missing interpreter, bad arguments) is a start-up error.
    func checkStarted(_ list: [Managed]) throws {
        guard !list.isEmpty else { return }
        usleep(150_000)
        for m in list {
            for case let child? in m.children {
                if kill(child.pid, 0) != 0 || isZombie(child.pid) {
                    throw ServerError.backend("\(m.config.location): bin-path \"\(m.argv.joined(separator: " "))\" exited right after start")
                }
            }
        }
    }

    private func isZombie(_ pid: pid_t) -> Bool {
        guard let f = fopen("/proc/\(pid)/stat", "r") else { return true }
        defer { fclose(f) }
        var buf = [CChar](repeating: 0, count: 512)
        guard fgets(&buf, 512, f) != nil else { return false }
        let s = String(cString: buf)
        guard let close = s.lastIndex(of: ")") else { return false }
        let rest = s[s.index(after: close)...].trimmingCharacters(in: " ")
        return rest.hasPrefix("Z")
    }

    func spawn(_ m: Managed, slot: Int) throws {
        var env: [String] = []
        for name in m.config.binCopyEnvironment {
            if let v = getenv(name) { env.append("\(name)=\(String(cString: v))") }
        }
        for (k, v) in m.config.binEnvironment { env.append("\(k)=\(v)") }
        if !env.contains(where: { $0.hasPrefix("PATH=") }) {
            env.append("PATH=\(getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin")")
        }
        let devnull = open("/dev/null", O_RDWR | O_CLOEXEC)
        defer { close(devnull) }
        // stderr of the backend goes to a pipe we log line by line.
        let errPipe = try Pipe.make()
        Socket.setNonBlocking(errPipe.write, false)
        let dir = m.argv[0].contains("/") ? String(m.argv[0][..<m.argv[0].lastIndex(of: "/")!]) : nil
        let request = SpawnRequest(path: m.argv[0], arguments: m.argv, environment: env, stdin: m.listenFD,
                                   stdout: devnull, stderr: errPipe.write, workingDirectory: dir?.isEmpty == false ? dir : nil)
        let label = "backend \(m.argv[0])"
        let child: ChildProcess
        do {
            child = try ChildProcess.spawn(request, on: loop) { [weak self, weak m] status in
                guard let self, let m else { return }
                self.childExited(m, slot: slot, status: status)
            }
        } catch {
            close(errPipe.read)
            close(errPipe.write)
            throw error
        }
        close(errPipe.write)
        let reader = StderrReader(fd: errPipe.read, loop: loop, log: errorLog, label: label)
        try? reader.register()
        m.children[slot] = child
        m.startedAt[slot] = EventLoop.monotonicNanoseconds()
        availability.markUp(m.config.addressDescription)
        availability.processStarted(address: m.config.addressDescription, program: m.argv[0], slot: slot, pid: child.pid)
        errorLog.info(label, "started pid \(child.pid) on \(m.config.addressDescription)")
    }

    private func childExited(_ m: Managed, slot: Int, status: ExitStatus) {
        m.children[slot] = nil
        let label = "backend \(m.argv[0])"
        if m.retired {
            if m.children.allSatisfy({ $0 == nil }) { finishRetired(m) }
            return
        }
        if stopping {
            availability.processExited(address: m.config.addressDescription, slot: slot, state: "stopped")
            return
        }
        let uptime = Double(EventLoop.monotonicNanoseconds() - m.startedAt[slot]) / 1e9
        if uptime > 30 { m.backoff = 0.5 }
        let delay = m.backoff
        m.backoff = min(m.backoff * 2, 30)
        let allDown = m.children.allSatisfy { $0 == nil }
        availability.processExited(address: m.config.addressDescription, slot: slot,
                                   state: "restarting (exited: \(status); next start in \(delay) s)")
        if allDown {
            // Nobody accepts on the socket until the restart: requests get 503 at once meanwhile
            // (marked before the log line, so whoever reads the log sees the mark in effect).
            availability.markDown(m.config.addressDescription,
                                  reason: "bin-path process exited (\(status)), restarting in \(delay) s")
        }
        errorLog.error(label, "pid exited (\(status)); restarting in \(delay) s")
        if allDown {
            // Those already queued for the dead process are not handed to the next one.
            dropQueuedConnections(m, label: label)
            // A worker that checked just before the mark may still connect: look once more.
            loop.schedule(afterSeconds: 0.05) { [weak self, weak m] in
                guard let self, let m, !self.stopping, m.children.allSatisfy({ $0 == nil }) else { return }
                self.dropQueuedConnections(m, label: label)
            }
        }
        loop.schedule(afterSeconds: delay) { [weak self, weak m] in
            guard let self, let m, !self.stopping, !m.retired, m.children[slot] == nil else { return }
            do { try self.spawn(m, slot: slot) } catch {
                self.errorLog.error(label, "restart failed: \(error)")
                self.childExited(m, slot: slot, status: .exited(127))
            }
        }
    }

    /// Accepts and closes the connections waiting in a backend's listen backlog while none of its
    /// processes runs (each gateway request among them then fails at once with a 502), so a
    /// request that crashed the process is not replayed into its successor. The socket is
    /// non-blocking only while no child could be accepting on it (the flag is shared with them).
    private func dropQueuedConnections(_ m: Managed, label: String) {
        guard m.listenFD >= 0 else { return }
        Socket.setNonBlocking(m.listenFD, true)
        defer { Socket.setNonBlocking(m.listenFD, false) }
        var dropped = 0
        while dropped < 100_000, case .accepted(let fd, _) = Socket.accept(m.listenFD) {
            close(fd)
            dropped += 1
        }
        if dropped > 0 {
            errorLog.error(label, "closed \(dropped) connection(s) queued for the exited process")
        }
    }

    /// Sends kill-signal to every child and removes unix socket files.
    func stop() {
        stopping = true
        for m in managed + retiredManaged {
            for case let child? in m.children {
                child.signal(m.config.killSignal)
            }
            if m.listenFD >= 0 { close(m.listenFD) }
            if let socket = m.socketFile { unlink(socket) }
        }
    }

    /// Waits up to `seconds` for the children to exit, then SIGKILLs what is left.
    func waitForChildren(seconds: Double) {
        let deadline = EventLoop.monotonicNanoseconds() + UInt64(seconds * 1e9)
        for m in managed + retiredManaged {
            for case let child? in m.children {
                while EventLoop.monotonicNanoseconds() < deadline {
                    let r = waitpid(child.pid, nil, WNOHANG)
                    if r == child.pid || r < 0 { break }
                    usleep(20_000)
                }
                if kill(child.pid, 0) == 0 { child.signal(SIGKILL); _ = waitpid(child.pid, nil, 0) }
            }
        }
    }
}
