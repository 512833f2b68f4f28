import Glibc
import SwitchyardOS
import SwitchyardConfig

/// The whole gateway: configuration, listeners, one worker per core, the main loop that handles
/// signals and supervises spawned backends.
public final class Server {
    /// The configuration in effect: set at load and by each applied reload (SIGUSR1), read and
    /// replaced only on the main thread once `run` started. Workers keep their own copy
    /// (`Worker.config`), handed over through their loops.
    private(set) var config: ConfigSnapshot
    public var document: ConfigDocument { config.document }
    public var settings: ServerSettings { config.settings }
    var globalSettings: RequestSettings { config.globalSettings }
    var gatewayTables: [GatewayRouteTable] { config.gatewayTables }
    /// The file a reload reads again (nil: the built-in defaults, which never change).
    let configPath: String?
    /// Which listeners speak TLS, with which certificates (`ssl.*`), as loaded at start.
    let tls: TLSSettings
    /// Each TLS listener's current context, keyed by its socket block's pattern (nil: the main
    /// listener); SIGHUP puts reloaded certificates here (`reloadCertificates`).
    let tlsSlots: [String?: TLSContextSlot]
    public let errorLog: ErrorLog
    var accessLog: AccessLog?
    let connectionCount = AtomicCounter()
    /// PATH handed to CGI programs (see README: CGI environment rule).
    let childPath: String
    private(set) var workers: [Worker] = []
    /// Every worker with its loop, for status pages to visit; set before the worker threads start.
    private(set) var statusTargets: [(loop: EventLoop, worker: LoopBound<Worker>)] = []
    /// When `run` began (wall clock), for the status pages' uptime.
    private(set) var startedAt = time(nil)
    private var threads: [LoopThread] = []
    private(set) var mainLoop: EventLoop?
    private(set) var supervisor: BackendSupervisor?
    /// Spawned backends between a crash and their restart (set by the supervisor, read by workers).
    let backendAvailability = BackendAvailability()
    private(set) var stopRequested = false
    public private(set) var boundAddresses: [String] = []
    /// systemd readiness (`Type=notify`); reads `$NOTIFY_SOCKET` before any thread starts.
    let notifier = ServiceNotifier()
    /// Whether the retired spawned backends' drain check is scheduled (`Server+Reload`).
    var drainCheckScheduled = false

    /// Loads and validates a configuration. `path` nil: serve the current directory on 127.0.0.1:8080.
    public static func load(configPath: String?, overrides: [String] = []) throws -> (Server, [ConfigDiagnostic]) {
        let snapshot = try ConfigSnapshot.load(configPath: configPath)
        let tls = try TLSSettings(document: snapshot.document)
        let log = try ErrorLog(path: snapshot.settings.errorLogPath)
        let server = try Server(snapshot: snapshot, configPath: configPath, errorLog: log, tls: tls)
        return (server, snapshot.warnings + tls.warnings)
    }

    init(snapshot: ConfigSnapshot, configPath: String?, errorLog: ErrorLog, tls: TLSSettings = TLSSettings()) throws {
        self.config = snapshot
        self.configPath = configPath
        self.tls = tls
        var slots: [String?: TLSContextSlot] = [:]
        if let main = tls.main { slots[nil] = TLSContextSlot(main) }
        for (socket, context) in tls.sockets { slots[socket] = TLSContextSlot(context) }
        self.tlsSlots = slots
        self.errorLog = errorLog
        self.childPath = getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin"
        if let warning = snapshot.documentRootWarning { errorLog.warning("config", warning) }
    }

    /// Only the reload replaces the configuration (`Server+Reload`).
    func install(_ snapshot: ConfigSnapshot) { config = snapshot }

    /// Binds, starts workers and backends, and blocks until SIGTERM/SIGINT and a graceful stop.
    public func run(announce: (String) -> Void) throws {
        if let path = settings.accessLogPath { accessLog = try AccessLog(path: path) }
        let mainLoop = try EventLoop(name: "main", eventHandler: settings.eventHandler)
        self.mainLoop = mainLoop
        let loops = settings.eventLoops > 0 ? settings.eventLoops : ProcessSetup.usableCPUs

        let (perWorkerFDs, ownedUnixPath) = try bindListeners(loops: loops)
        boundAddresses = perWorkerFDs.first.map { $0.map(\.shown) } ?? []

        try dropPrivileges()

        let supervisor = BackendSupervisor(loop: mainLoop, errorLog: errorLog, availability: backendAvailability)
        self.supervisor = supervisor
        try supervisor.start(tables: gatewayTables)

        if let pid = settings.pidFile {
            let text = "\(getpid())\n"
            let fd = open(pid, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            if fd >= 0 { _ = text.withCString { write(fd, $0, strlen($0)) }; close(fd) }
        }

        // Counted on the main loop's thread: each worker reports its stop through `execute`.
        let running = LoopBound(StopCountdown(loops), on: mainLoop)
        for w in 0..<loops {
            let worker = try Worker(index: w, server: self)
            for l in perWorkerFDs[w] { try worker.addListener(fd: l.fd, info: l.info) }
            worker.onStopped = {
                mainLoop.execute {
                    if running.value.countDown() { mainLoop.stop() }
                }
            }
            workers.append(worker)
        }
        _ = try SignalSource(signals: ProcessSetup.handledSignals, loop: mainLoop) { [weak self] sig in
            self?.handleSignal(sig)
        }
        statusTargets = workers.map { ($0.loop, LoopBound($0, on: $0.loop)) }
        startedAt = time(nil)
        for (i, worker) in workers.enumerated() {
            let bound = LoopBound(worker, on: worker.loop)   // the loop is not running yet: handed to its thread
            threads.append(try LoopThread(name: "worker-\(i)") { bound.value.run() })
        }
        for a in boundAddresses { announce(a) }
        logKernelTLSStatus()
        errorLog.info("server", "started \(SwitchyardVersion.string) with \(loops) event loop(s) on \(boundAddresses.joined(separator: ", "))")
        notifier.notify("READY=1\nSTATUS=serving on \(boundAddresses.joined(separator: ", "))\nMAINPID=\(getpid())")
        mainLoop.run()
        for t in threads { t.join() }
        CGIChildren.reapAfterStop(workers.flatMap(\.cgisAtStop), seconds: CGIChildren.killGrace)
        supervisor.stop()
        supervisor.waitForChildren(seconds: 3)
        if let pid = settings.pidFile { unlink(pid) }
        if case .unix(let path) = ownedUnixPath { unlink(path) }
        errorLog.info("server", "stopped")
    }

    private func handleSignal(_ sig: Int32) {
        switch sig {
        case SIGHUP:
            errorLog.reopen()
            accessLog?.reopen()
            errorLog.info("server", "SIGHUP: log files reopened")
            reloadCertificates()
        case SIGUSR1:
            reloadConfiguration()
        case SIGTERM, SIGINT:
            if stopRequested {
                errorLog.info("server", "second stop signal: stopping now")
                stopWorkers(grace: 0)
                return
            }
            stopRequested = true
            notifier.notify("STOPPING=1")
            errorLog.info("server", "signal \(sig): graceful stop (up to \(settings.gracefulShutdownTimeout) s)")
            stopWorkers(grace: settings.gracefulShutdownTimeout)
        default:
            break
        }
    }

    private func stopWorkers(grace: Int) {
        for w in workers {
            let bound = LoopBound(w, on: w.loop)
            w.loop.execute { bound.value.beginStop(grace: grace) }
        }
    }

    private func dropPrivileges() throws {
        guard getuid() == 0 else { return }
        if let group = settings.groupname {
            guard let gr = getgrnam(group) else { throw ServerError.config("server.groupname: unknown group \"\(group)\"") }
            if setgid(gr.pointee.gr_gid) != 0 { throw ServerError.io("setgid(\(group)) failed") }
            setgroups(0, nil)
        }
        if let user = settings.username {
            guard let pw = getpwnam(user) else { throw ServerError.config("server.username: unknown user \"\(user)\"") }
            if settings.groupname == nil {
                if setgid(pw.pointee.pw_gid) != 0 { throw ServerError.io("setgid for \(user) failed") }
                initgroups(user, pw.pointee.pw_gid)
            }
            if setuid(pw.pointee.pw_uid) != 0 { throw ServerError.io("setuid(\(user)) failed") }
        }
    }
}

/// How many workers are still running; touched only on the main loop's thread.
final class StopCountdown {
    private var remaining: Int
    init(_ count: Int) { remaining = count }
    /// True when the last one stopped.
    func countDown() -> Bool {
        remaining -= 1
        return remaining == 0
    }
}
