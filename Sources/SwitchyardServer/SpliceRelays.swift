import Glibc
import SwitchyardOS

/// A worker's kernel relays (`SpliceRelay`): one table of values, one event handler for all of
/// their descriptors, and their timeouts checked on the worker's once-a-second tick.
///
/// Why not an object (and a timer) per relay: an idle WebSocket spends its life here, and the
/// small objects it kept were scattered over the pages its own and other connections'
/// handshakes had used and freed; each kept its page resident (massif: 0.93 KB live per relay,
/// 5.2 KiB of RSS). Here a relay keeps nothing on the heap of its own (the table is one block),
/// so those pages go back to the kernel at the next trim (`Worker.trimAfterBurst`).
final class SpliceRelays: EventHandler {
    /// What a relay does when it closes.
    struct Release {
        /// The backend host whose load count the relayed connection holds (a dedicated connection
        /// counts until it closes): one less when the relay closes. Weak: a retired host may go.
        weak var host: BackendRuntime.HostState?
        /// The route's counters: the relay holds one of its open-upgraded gauge and adds what splice moved.
        var stats: RouteStats?
        /// Anything else (a CGI's end), told `clean` when the backend ended the stream (its EOF
        /// was relayed), false when the client left, a timeout hit or the server stopped.
        var onClose: ((_ clean: Bool) -> Void)?

        init(host: BackendRuntime.HostState? = nil, stats: RouteStats? = nil, onClose: ((_ clean: Bool) -> Void)? = nil) {
            self.host = host
            self.stats = stats
            self.onClose = onClose
        }

        func run(clean: Bool) {
            stats?.openUpgraded -= 1
            host?.active -= 1
            onClose?(clean)
        }
    }

    private unowned let worker: Worker
    private let loop: EventLoop
    private let relays = SlotTable<SpliceRelay>(vacant: .vacant)
    /// Descriptor → slot (-1: not a relay's); grows to the highest descriptor seen.
    private var slotOfFD: [Int32] = []
    /// Relays started since the worker last trimmed the heap (see `Worker.trimAfterBurst`).
    var startedSinceTrim = 0

    init(worker: Worker) {
        self.worker = worker
        self.loop = worker.loop
    }

    var count: Int { relays.count }
    var isEmpty: Bool { relays.isEmpty }

    /// Takes over both descriptors; on failure closes them and runs `release` (unclean).
    func start(clientFD: Int32, clientInput: ByteBuffer, backendRead: Int32, backendWrite: Int32, label: String,
               writeIdle: Int, readTimeout: Int, release: Release) {
        var relay: SpliceRelay
        do {
            relay = try SpliceRelay(clientFD: clientFD, backendRead: backendRead, backendWrite: backendWrite,
                                    writeIdle: Seconds.nanoseconds(writeIdle), readTimeout: Seconds.nanoseconds(readTimeout),
                                    release: release, label: label, now: loop.now)
        } catch {
            release.run(clean: false)
            worker.errorLog.error(label, "splice relay: \(error)")
            close(clientFD)
            close(backendRead)
            if backendWrite != backendRead { close(backendWrite) }
            worker.relayClosed()   // the detached connection's count (it was kept before: a leak per failure)
            return
        }
        if !clientInput.isEmpty { relay.clientLeftover = clientInput }
        let slot = relays.insert(relay)
        startedSinceTrim += 1
        do {
            try register(clientFD, slot)
            try register(backendRead, slot)
            if backendWrite != backendRead { try register(backendWrite, slot) }
        } catch {
            shutdown(slot, log: "relay closed: register: \(error)")
            return
        }
        if pump(slot, up: true, down: true) { updateInterest(slot) }
    }

    private func register(_ fd: Int32, _ slot: Int) throws {
        if Int(fd) >= slotOfFD.count {
            slotOfFD.append(contentsOf: repeatElement(-1, count: Int(fd) - slotOfFD.count + 64))
        }
        slotOfFD[Int(fd)] = Int32(slot)
        try loop.register(fd: fd, events: [], handler: self)
    }

    private func forget(_ fd: Int32, _ slot: Int) {
        if Int(fd) < slotOfFD.count && slotOfFD[Int(fd)] == Int32(slot) { slotOfFD[Int(fd)] = -1 }
    }

    func handleEvent(fd: Int32, events: IOEvents) {
        guard Int(fd) < slotOfFD.count else { return }
        let slot = Int(slotOfFD[Int(fd)])
        guard relays.isOccupied(slot) else { return }
        // Pump only the direction this readiness concerns: an idle direction would cost a
        // splice that fails with EAGAIN plus a FIONREAD on every message.
        let broken = !events.isDisjoint(with: [.error, .hangup, .readHangup])
        var pumpUp = broken, pumpDown = broken
        // Read in place (`update`): a copy of the relay retains and releases all it holds.
        let (clientFD, backendRead, backendWrite) = relays.update(slot) { ($0.clientFD, $0.backendRead, $0.backendWrite) }
        if fd == clientFD {
            if events.contains(.input) { pumpUp = true }
            if events.contains(.output) { pumpDown = true }
        } else {
            if fd == backendRead && events.contains(.input) { pumpDown = true }
            if fd == backendWrite && events.contains(.output) { pumpUp = true }
        }
        if pump(slot, up: pumpUp, down: pumpDown) { updateInterest(slot) }
    }

    /// Pumps the asked directions (up first); false when the relay closed.
    private func pump(_ slot: Int, up: Bool, down: Bool) -> Bool {
        if up {
            let step = relays.update(slot) { $0.pumpUp(loop: loop) }
            countMoved(slot)
            if case .close(let log) = step { shutdown(slot, log: log); return false }
        }
        if down {
            let step = relays.update(slot) { $0.pumpDown(loop: loop) }
            countMoved(slot)
            if case .close(let log) = step { shutdown(slot, log: log); return false }
        }
        return true
    }

    /// Adds what splice moved to the worker's and the route's counters.
    private func countMoved(_ slot: Int) {
        let (movedUp, movedDown, routeStats) = relays.update(slot) { r -> (Int, Int, RouteStats?) in
            let moved = (r.up.moved, r.down.moved)
            guard moved.0 > 0 || moved.1 > 0 else { return (0, 0, nil) }
            r.up.moved = 0
            r.down.moved = 0
            return (moved.0, moved.1, r.release.stats)
        }
        guard movedUp > 0 || movedDown > 0 else { return }
        worker.stats.bytesSent += movedDown
        guard let stats = routeStats else { return }
        stats.bytesFromClients += movedUp
        stats.bytesToClients += movedDown
    }

    private func updateInterest(_ slot: Int) {
        let (want, clientFD, backendRead, backendWrite, watchWrite) = relays.update(slot) { r in
            (r.interests(), r.clientFD, r.backendRead, r.backendWrite, r.backendIsPipe && !r.backendWriteClosed)
        }
        loop.setInterest(fd: clientFD, want.client)
        loop.setInterest(fd: backendRead, want.backendRead)
        if watchWrite { loop.setInterest(fd: backendWrite, want.backendWrite) }
    }

    /// The worker's once-a-second tick: the relays' timeouts. Closing one while walking the
    /// table is safe (slots only go free; the storage does not move).
    func tick(now: UInt64) {
        var slot = 0
        while slot < relays.capacity {
            defer { slot += 1 }
            guard relays.isOccupied(slot) else { continue }
            if case .close(let log) = relays.update(slot, { $0.timeoutCheck(now: now) }) { shutdown(slot, log: log) }
        }
    }

    /// Graceful stop, first step: every backend sees EOF on its input (see `SpliceRelay.closeBackendInput`).
    func closeBackendInputs() {
        for slot in relays.occupiedSlots where relays.isOccupied(slot) {
            relays.update(slot) { $0.closeBackendInput(loop: loop) }
            updateInterest(slot)
        }
    }

    /// Closes every relay (graceful stop deadline or worker shutdown).
    func closeAll() {
        for slot in relays.occupiedSlots where relays.isOccupied(slot) { shutdown(slot, log: nil) }
    }

    private func shutdown(_ slot: Int, log: String?) {
        guard let r = relays.remove(slot) else { return }
        if let log { worker.errorLog.info(r.label, log) }
        forget(r.clientFD, slot)
        forget(r.backendRead, slot)
        forget(r.backendWrite, slot)
        loop.unregister(fd: r.clientFD)
        loop.unregister(fd: r.backendRead)
        if !r.backendWriteClosed && r.backendIsPipe { loop.unregister(fd: r.backendWrite) }
        r.closeDescriptors()
        r.release.run(clean: r.down.srcEOF)
        worker.relayClosed()
    }
}
