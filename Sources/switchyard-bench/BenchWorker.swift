import SwitchyardBenchCore
import SwitchyardOS
import SwitchyardWebSocket

/// One event-loop thread's share of the run: its connections, counters and timers. Everything
/// here is touched only by that loop's thread (the main thread talks to it through
/// `loop.execute` and reads `stats` after joining the thread).
final class BenchWorker {
    let loop: EventLoop
    let context: BenchContext
    let progress = WorkerProgress()
    var stats = WorkerStats()
    var random = FastRandom()
    /// Messages and latencies are counted only while this is set (after the warm-up).
    private(set) var measuring = false
    /// Cleared at the end: no new messages, connections or cycles.
    private(set) var running = false
    private(set) var connections: [BenchConnection] = []
    private let connectionIDs: [Int]

    /// Connections started but neither open nor failed yet; opening is throttled to `maxOpening`.
    private var opening = 0
    private var nextToStart = 0
    private let maxOpening = 128
    private var startScheduled = false

    /// Preflight: one upgrade cycle, errors kept in `firstError` instead of printed, then stop.
    let probe: Bool
    /// The context's mode; a preflight runs one upgrade cycle whatever the mode.
    let mode: BenchMode
    private(set) var firstError: String? = nil
    private(set) var probeDone = false
    /// Connections open when `finish()` ran.
    private(set) var openAtEnd = 0

    init(name: String, context: BenchContext, connectionIDs: [Int], probe: Bool = false) throws {
        loop = try EventLoop(name: name)
        self.context = context
        self.connectionIDs = connectionIDs
        self.probe = probe
        self.mode = probe ? (context.mode == .handshakes ? .handshakes : .upgrades) : context.mode
        progress.pending.store(connectionIDs.count, ordering: .relaxed)
    }

    // MARK: control (on the loop thread)

    func start() {
        running = true
        connections = connectionIDs.map { BenchConnection(id: $0, worker: self, context: context) }
        if mode.cycles {
            for c in connections { c.open() }
            nextToStart = connections.count
        } else {
            startMore()
        }
        publish()
        scheduleSweep()
    }

    func beginMeasurement() {
        stats.resetMeasurement()
        measuring = true
    }

    /// Stops counting, closes every connection and stops the loop.
    func finish() {
        measuring = false
        running = false
        openAtEnd = stats.openNow
        for c in connections { c.shutdown() }
        publish()
        loop.stop()
    }

    // MARK: connection callbacks

    func connectionStarted() {
        opening += 1
    }

    func connectionOpened() {
        opening -= 1
        stats.connectionsOK &+= 1
        stats.openNow += 1
        if stats.openNow > stats.maxOpen { stats.maxOpen = stats.openNow }
        context.gauge.opened()
        if !mode.cycles {
            scheduleStartMore()
            publishIfAllOpened()
        }
    }

    /// A clean end of an upgrade cycle.
    func connectionClosed(_ connection: BenchConnection, failed: Bool) {
        stats.openNow -= 1
        context.gauge.closed()
        if probe {
            probeDone = true
            loop.stop()
            return
        }
        if running && mode.cycles {
            // Deferred: the connection is still inside its event handler.
            loop.defer_ { [weak connection] in
                if let connection, self.running && connection.state == .idle { connection.open() }
            }
        }
    }

    func connectionFailed(_ connection: BenchConnection, message: String, wasOpen: Bool, wasOpening: Bool) {
        guard running else { return }
        stats.errors &+= 1
        if wasOpening {
            opening -= 1
            stats.connectionsFailed &+= 1
        }
        if wasOpen {
            stats.openNow -= 1
            context.gauge.closed()
        }
        if probe {
            if firstError == nil { firstError = message }
            probeDone = true
            loop.stop()
            return
        }
        context.errorLog.report(message)
        switch mode {
        case .upgrades, .handshakes:
            // Try again shortly, so a refusing server is not hammered in a tight loop.
            loop.schedule(afterSeconds: 0.01) { [weak connection] in
                if let connection, self.running && connection.state == .idle { connection.open() }
            }
        case .pingpong, .pipeline, .hold:
            scheduleStartMore()
            publishIfAllOpened()
        }
    }

    /// Tells the main thread at once when the last connection has opened (or failed).
    private func publishIfAllOpened() {
        if opening == 0 && nextToStart == connections.count { publish() }
    }

    // MARK: internals

    private func scheduleStartMore() {
        guard !startScheduled, nextToStart < connections.count else { return }
        startScheduled = true
        loop.defer_ {
            self.startScheduled = false
            self.startMore()
        }
    }

    private func startMore() {
        while running && opening < maxOpening && nextToStart < connections.count {
            let c = connections[nextToStart]
            nextToStart += 1
            c.open()
        }
    }

    private func scheduleSweep() {
        loop.schedule(afterSeconds: 0.1) { [weak self] in
            guard let self, self.running else { return }
            let now = EventLoop.monotonicNanoseconds()
            for c in self.connections { c.checkTimeout(now: now) }
            self.publish()
            self.scheduleSweep()
        }
    }

    /// Copies the counters the main thread shows into atomics.
    private func publish() {
        progress.messages.store(Int(stats.messages), ordering: .relaxed)
        progress.upgrades.store(Int(stats.upgrades), ordering: .relaxed)
        progress.errors.store(Int(stats.errors), ordering: .relaxed)
        progress.mismatches.store(Int(stats.mismatches), ordering: .relaxed)
        progress.open.store(stats.openNow, ordering: .relaxed)
        progress.pending.store(connections.count - nextToStart + opening, ordering: .relaxed)
    }
}
