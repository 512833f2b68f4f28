import Glibc
import SwitchyardOS

/// A live reload's part for spawned backends (`bin-path`): a backend configured the same way at
/// the same address keeps running; a new one is started before the reload is committed (a
/// failure refuses the reload and stops what this reload started); one that left the
/// configuration is retired - it keeps its processes and socket until no exchange routed before
/// the reload uses it (the server counts them in every worker), then gets its `kill-signal`.
/// One whose options changed at the same unix socket is replaced: the new processes listen on a
/// socket renamed over the old path at the commit (new connections reach them; the old ones
/// keep what they accepted and are retired). At a TCP address the old processes hold the port,
/// so such a change is refused.
extension BackendSupervisor {
    /// What `prepareReload` decided; `commit` or `rollBack` it.
    struct ReloadPlan {
        var keep: [Managed] = []
        var started: [Managed] = []
        var retire: [Managed] = []
        /// Retired by an earlier reload, still draining, and configured again the same way.
        var revive: [Managed] = []
        /// The configuration generation the reload installs.
        var generation = 0
        /// Changed at the same unix socket: the new one listens at `temporary` until the commit.
        var replace: [(fresh: Managed, temporary: String, path: String)] = []
    }

    /// Starts the backends the new tables add and finds those they drop. Throws (after stopping
    /// what it started) when a new backend cannot start, or when a backend changed its options at
    /// an address its running processes still hold: both are refusals of the whole reload.
    func prepareReload(tables: [GatewayRouteTable], generation: Int) throws -> ReloadPlan {
        var plan = ReloadPlan()
        plan.generation = generation
        let wanted = Self.spawnedHosts(tables)
        var byAddress: [String: BackendHostConfig] = [:]
        for host in wanted { byAddress[host.addressDescription] = host }
        var changed: [(old: Managed, host: BackendHostConfig)] = []
        for m in managed {
            guard let host = byAddress[m.config.addressDescription] else { plan.retire.append(m); continue }
            if host.isSameBackend(as: m.config) { plan.keep.append(m); continue }
            guard host.socket != nil else {
                throw ServerError.backend("\(host.location): the spawned backend on \(host.addressDescription) changed (bin-path or its options); "
                                          + "its running processes hold that TCP port, so a reload cannot replace it: give it another port or a unix socket, or restart switchyard")
            }
            changed.append((m, host))
        }
        let running = Set(managed.map(\.config.addressDescription))
        do {
            for (old, host) in changed {
                let path = host.socket!
                let temporary = path + ".new"
                let fresh = try launch(host, listenPath: temporary, generation: generation)
                plan.started.append(fresh)
                plan.replace.append((fresh, temporary, path))
                plan.retire.append(old)
            }
            for host in wanted where !running.contains(host.addressDescription) {
                // Still draining (its socket open, and still the one at its path: not one a
                // replacement took the path from): the same backend comes back into service.
                if let m = retiredManaged.last(where: { $0.listenFD >= 0 && $0.config.addressDescription == host.addressDescription
                                                        && ($0.socketFile != nil || $0.config.socket == nil) }) {
                    if host.isSameBackend(as: m.config) {
                        plan.revive.append(m)
                        continue
                    }
                    // Other options: a replacement takes the path over, the old one keeps draining.
                    guard let path = host.socket else {
                        throw ServerError.backend("\(host.location): the spawned backend on \(host.addressDescription) was removed by an earlier reload "
                                                  + "and its processes still hold that TCP port for open exchanges: the port is not free yet")
                    }
                    let fresh = try launch(host, listenPath: path + ".new", generation: generation)
                    plan.started.append(fresh)
                    plan.replace.append((fresh, path + ".new", path))
                    continue
                }
                plan.started.append(try launch(host, generation: generation))
            }
            try checkStarted(plan.started)
        } catch {
            rollBack(plan)
            throw error
        }
        return plan
    }

    /// The reload was refused elsewhere: what `prepareReload` started is stopped again.
    func rollBack(_ plan: ReloadPlan) {
        for m in plan.started { discard(m) }
    }

    func commit(_ plan: ReloadPlan) {
        managed = plan.keep + plan.started + plan.revive
        for r in plan.replace {
            // Atomic: a connect finds the old socket or the new one, never no socket.
            if rename(r.temporary, r.path) != 0 {
                errorLog.error("backend \(r.fresh.argv[0])", "rename \(r.temporary) -> \(r.path): \(String(cString: strerror(errno)))")
            }
            r.fresh.socketFile = r.path
            for old in plan.retire + retiredManaged where old.config.addressDescription == r.path { old.socketFile = nil }
            errorLog.info("backend \(r.fresh.argv[0])", "replaced on \(r.path) (changed options): new connections reach the new processes")
        }
        for m in plan.revive {
            m.retired = false
            m.retiredGeneration = Int.max
            retiredManaged.removeAll { $0 === m }
            errorLog.info("backend \(m.argv[0])", "configured again: \(m.config.addressDescription) stays in service")
            for slot in m.children.indices where m.children[slot] == nil {
                do { try spawn(m, slot: slot) } catch { errorLog.error("backend \(m.argv[0])", "restart failed: \(error)") }
            }
        }
        for m in plan.retire {
            m.retired = true
            m.retiredGeneration = plan.generation
            retiredManaged.append(m)
            errorLog.info("backend \(m.argv[0])", "removed from the configuration: stops once no exchange uses \(m.config.addressDescription)")
        }
    }

    /// Whether retired backends still run (their socket not yet closed).
    var hasDrainingBackends: Bool { retiredManaged.contains { $0.listenFD >= 0 } }

    /// Stops each retired backend no exchange uses any more. `uses`: the workers' exchanges on
    /// retired host states, by address and the generation each state served last, counted once
    /// every worker had taken configuration `counted` (a backend retired by a later reload was
    /// not retired in those counts: it waits for the next). True while some are still in use.
    func stopUnused(_ uses: [SpawnedUse: Int], counted: Int) -> Bool {
        var waiting = false
        for m in retiredManaged where m.listenFD >= 0 {
            if m.retiredGeneration > counted { waiting = true; continue }
            let address = m.config.addressDescription
            if Self.users(of: address, served: m.startedGeneration..<m.retiredGeneration, in: uses) > 0 { waiting = true; continue }
            errorLog.info("backend \(m.argv[0])", "no exchange uses \(address) any more: stopping it")
            terminate(m)
        }
        return waiting
    }

    /// The exchanges of `uses` that may be on the backend at `address` that served the
    /// generations `served`. One generation before its start counts too: a worker routes with
    /// the old configuration until it takes the new one, and such a request may already connect
    /// to this backend's socket, renamed into place at the commit.
    static func users(of address: String, served: Range<Int>, in uses: [SpawnedUse: Int]) -> Int {
        uses.reduce(0) { sum, use in
            use.key.address == address && use.key.generation + 1 >= served.lowerBound
                && use.key.generation < served.upperBound ? sum + use.value : sum
        }
    }

    /// Kill-signal to the processes (SIGKILL if still there after `retiredKillGrace`), the
    /// socket closed and removed. The managed entry stays in `retiredManaged` until the last
    /// process exited, so each is reaped (`finishRetired`).
    private func terminate(_ m: Managed) {
        if m.listenFD >= 0 { close(m.listenFD); m.listenFD = -1 }
        if let socket = m.socketFile { unlink(socket) }
        for case let child? in m.children { child.signal(m.config.killSignal) }
        if m.children.allSatisfy({ $0 == nil }) { finishRetired(m); return }
        loop.schedule(afterSeconds: BackendSupervisor.retiredKillGrace) { [weak m] in
            guard let m else { return }
            for case let child? in m.children { child.signal(SIGKILL) }
        }
    }
    static let retiredKillGrace = 5.0

    /// The last process of a retired backend exited: it is forgotten (status pages included).
    func finishRetired(_ m: Managed) {
        guard let i = retiredManaged.firstIndex(where: { $0 === m }) else { return }
        retiredManaged.remove(at: i)
        if m.listenFD >= 0 { close(m.listenFD); m.listenFD = -1 }
        let address = m.config.addressDescription
        if !managed.contains(where: { $0.config.addressDescription == address }) {
            availability.forget(address)
        }
        errorLog.info("backend \(m.argv[0])", "stopped (removed from the configuration)")
    }

    /// Stops a backend this process started but will not keep (a failed start or a refused reload).
    func discard(_ m: Managed) {
        m.retired = true
        if !retiredManaged.contains(where: { $0 === m }) { retiredManaged.append(m) }
        terminate(m)
        let address = m.config.addressDescription
        if !managed.contains(where: { $0 !== m && $0.config.addressDescription == address }) { availability.forget(address) }
    }
}
