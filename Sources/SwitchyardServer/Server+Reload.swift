import Glibc
import SwitchyardOS
import SwitchyardConfig

/// SIGUSR1: the configuration file is read again and, if it passes every check `switchyard -t`
/// makes, put in place without a new process. Parsing and checking run on the main thread; each
/// worker gets the new `ConfigSnapshot` through its loop's task queue (`Worker.apply`), so
/// connections accepted and requests routed after that use it, while requests already routed -
/// open WebSockets and other upgraded streams included - keep the settings they captured.
/// A file that fails a check, or that changes what only a restart can change (the listeners,
/// which listeners speak TLS, a spawned backend whose processes hold its address), is refused
/// with a log line naming the file and line, and the running configuration stays.
extension Server {
    func reloadConfiguration() {
        guard !stopRequested else { return }
        guard let configPath else {
            errorLog.info("config", "SIGUSR1: started without -f: the built-in configuration has nothing to reload")
            return
        }
        // systemd (Type=notify or notify-reload) shows the unit reloading until READY=1 again.
        _ = notifier.notify("RELOADING=1\nMONOTONIC_USEC=\(EventLoop.monotonicNanoseconds() / 1000)")
        defer { _ = notifier.notify("READY=1") }
        let snapshot: ConfigSnapshot
        do {
            snapshot = try ConfigSnapshot.load(configPath: configPath, generation: config.generation + 1)
        } catch {
            refuseReload(configPath, "\(error)")
            return
        }
        if let why = listenerChange(to: snapshot) {
            refuseReload(configPath, why)
            return
        }
        let fresh: TLSSettings
        do { fresh = try TLSSettings(document: snapshot.document) } catch {
            refuseReload(configPath, "\(error)")
            return
        }
        if let why = tlsListenerChange(to: fresh) {
            refuseReload(configPath, why)
            return
        }
        var plan = BackendSupervisor.ReloadPlan()
        if let supervisor {
            do { plan = try supervisor.prepareReload(tables: snapshot.gatewayTables, generation: snapshot.generation) } catch {
                refuseReload(configPath, "\(error)")
                return
            }
            supervisor.commit(plan)
        }
        // Committed from here on: nothing below can refuse.
        for w in snapshot.warnings { errorLog.warning("config", "\(w)") }
        for w in fresh.warnings { errorLog.warning("tls", "\(w)") }
        if let warning = snapshot.documentRootWarning { errorLog.warning("config", warning) }
        warnRestartOnly(snapshot)
        for (socket, slot) in tlsSlots {
            if let context = socket == nil ? fresh.main : fresh.sockets[socket!] { slot.replace(with: context) }
        }
        install(snapshot)
        for w in workers {
            let bound = LoopBound(w, on: w.loop)
            w.loop.execute { bound.value.apply(snapshot) }
        }
        errorLog.info("config", "SIGUSR1: \(configPath) reloaded (generation \(snapshot.generation)): new requests use it, "
                      + "requests and upgraded streams already running keep theirs; spawned backends: \(plan.started.count) started, "
                      + "\(plan.retire.count) retired (stopped once unused)")
        if !plan.retire.isEmpty { scheduleDrainCheck() }
    }

    private func refuseReload(_ path: String, _ why: String) {
        errorLog.error("config", "SIGUSR1: \(path) refused, the running configuration stays: \(why)")
    }

    /// Listening sockets are bound once at start (before privileges are dropped): a reload that
    /// adds, removes or moves one is refused.
    private func listenerChange(to new: ConfigSnapshot) -> String? {
        let old = settings, now = new.settings
        func at(_ key: String) -> String {
            new.document.global[key].map { "\($0.location): " } ?? "\(configPath ?? ""): "
        }
        if old.bind != now.bind { return "\(at("server.bind"))server.bind changed (\"\(old.bind)\" -> \"\(now.bind)\"): listeners change only at a restart" }
        if old.port != now.port { return "\(at("server.port"))server.port changed (\(old.port) -> \(now.port)): listeners change only at a restart" }
        if old.extraSockets != now.extraSockets {
            let block = new.document.serverSocketContexts.first.map { "\(new.document.contexts[$0].location): " } ?? "\(configPath ?? ""): "
            return "\(block)$SERVER[\"socket\"] blocks changed (\(old.extraSockets) -> \(now.extraSockets)): listeners change only at a restart"
        }
        return nil
    }

    /// Certificates may change on reload (as on SIGHUP); which listeners speak TLS may not.
    private func tlsListenerChange(to fresh: TLSSettings) -> String? {
        var keys = Set(fresh.sockets.keys.map { Optional($0) })
        if fresh.main != nil { keys.insert(nil) }
        guard keys != Set(tlsSlots.keys) else { return nil }
        return "\(configPath ?? ""): ssl.engine changed for a listener: which listeners speak TLS changes only at a restart"
    }

    /// Settings read once at start: a reload keeps the running values and says so.
    private func warnRestartOnly(_ new: ConfigSnapshot) {
        let old = settings, now = new.settings
        var changed: [String] = []
        if old.eventLoops != now.eventLoops { changed.append("server.event-loops") }
        if old.eventHandler != now.eventHandler { changed.append("server.event-handler") }
        if old.username != now.username { changed.append("server.username") }
        if old.groupname != now.groupname { changed.append("server.groupname") }
        if old.pidFile != now.pidFile { changed.append("server.pid-file") }
        if old.errorLogPath != now.errorLogPath { changed.append("server.errorlog") }
        if old.accessLogPath != now.accessLogPath { changed.append("accesslog.filename") }
        if old.listenBacklog != now.listenBacklog { changed.append("server.listen-backlog") }
        if old.socketActivation != now.socketActivation { changed.append("server.systemd-socket-activation") }
        if !changed.isEmpty {
            errorLog.warning("config", "SIGUSR1: \(changed.joined(separator: ", ")) changed: applied only at a restart, the running values stay")
        }
    }

    // MARK: retired spawned backends

    /// Counts, in every worker, the exchanges still on retired spawned backends; each backend
    /// nobody uses is stopped, and while some are in use the count is taken again shortly.
    func scheduleDrainCheck() {
        guard !drainCheckScheduled, let mainLoop else { return }
        drainCheckScheduled = true
        mainLoop.schedule(afterSeconds: Server.drainCheckSeconds) { [weak self] in
            guard let self else { return }
            self.drainCheckScheduled = false
            self.countRetiredUsers()
        }
    }
    static let drainCheckSeconds = 0.25

    private func countRetiredUsers() {
        guard let mainLoop, let supervisor, !stopRequested, supervisor.hasDrainingBackends else { return }
        // Each worker answers after every configuration handed to it before (its queue is FIFO).
        let tally = LoopBound(DrainTally(expected: workers.count, generation: config.generation), on: mainLoop)
        let me = LoopBound(self, on: mainLoop)
        for w in workers {
            let bound = LoopBound(w, on: w.loop)
            w.loop.execute {
                let users = bound.value.backends.retiredSpawnedUsers()
                mainLoop.execute {
                    guard tally.value.add(users) else { return }
                    me.value.retiredUsersCounted(tally.value.users, generation: tally.value.generation)
                }
            }
        }
    }

    private func retiredUsersCounted(_ users: [SpawnedUse: Int], generation: Int) {
        guard let supervisor, !stopRequested else { return }
        if supervisor.stopUnused(users, counted: generation) { scheduleDrainCheck() }
    }
}

/// The workers' answers to one drain count; touched only on the main loop's thread.
final class DrainTally {
    private var remaining: Int
    private(set) var users: [SpawnedUse: Int] = [:]
    /// The configuration every worker had taken when it counted.
    let generation: Int
    init(expected: Int, generation: Int) {
        remaining = expected
        self.generation = generation
    }
    /// True when the last worker answered.
    func add(_ share: [SpawnedUse: Int]) -> Bool {
        users.merge(share, uniquingKeysWith: +)
        remaining -= 1
        return remaining == 0
    }
}
