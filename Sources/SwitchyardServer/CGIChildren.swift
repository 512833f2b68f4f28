import Glibc
import SwitchyardOS

/// The CGI processes one worker has running, so that none outlives what it was started for.
///
/// - An exchange that ends (response delivered, client gone, relay closed) stops its CGI: SIGTERM
///   to the process group at once when the client went away, after `cleanGrace` when the response
///   was complete (a CGI may still be cleaning up), then SIGKILL `killGrace` later.
/// - A CGI that exits leaves nothing behind in its process group: a grandchild still holding the
///   output pipe would hold the response (or the upgraded relay) open forever.
/// - At server stop every CGI gets SIGTERM; `Server` waits `killGrace` after the workers stop and
///   then SIGKILLs the groups that are left (`stopAll` / `reapAfterStop`). None is orphaned to init.
final class CGIChildren {
    private let loop: EventLoop
    private let errorLog: ErrorLog
    private var running: [pid_t: ChildProcess] = [:]
    static let cleanGrace = 10.0
    static let killGrace = 5.0
    /// How long after a CGI exits its process group may still hold on (finishing writes).
    static let leftoverGrace = 0.5

    init(loop: EventLoop, errorLog: ErrorLog) {
        self.loop = loop
        self.errorLog = errorLog
    }

    var count: Int { running.count }

    func add(_ child: ChildProcess) { running[child.pid] = child }

    /// The CGI exited: forget it and stop what it left in its process group.
    func exited(_ child: ChildProcess, label: String) {
        running[child.pid] = nil
        guard child.processGroup else { return }
        let pgid = child.pid
        loop.schedule(afterSeconds: CGIChildren.leftoverGrace) { [errorLog] in
            guard kill(-pgid, 0) == 0 else { return }
            errorLog.warning(label, "the CGI exited but its process group \(pgid) lives on (holding its output?): SIGTERM")
            _ = kill(-pgid, SIGTERM)
            self.loop.schedule(afterSeconds: CGIChildren.killGrace) {
                if kill(-pgid, 0) == 0 { _ = kill(-pgid, SIGKILL) }
            }
        }
    }

    /// The exchange of `child` is over; `clean` = the response was delivered completely.
    func exchangeEnded(_ child: ChildProcess, clean: Bool) {
        guard child.isRunning else { return }
        if !clean {
            child.terminate(grace: CGIChildren.killGrace)
            return
        }
        loop.schedule(afterSeconds: CGIChildren.cleanGrace) { [weak child] in
            guard let child, child.isRunning else { return }
            child.terminate(grace: CGIChildren.killGrace)
        }
    }

    /// Server stop: SIGTERM to every CGI (the loop stops next, so no timer would run). Returns the
    /// pids for `reapAfterStop`.
    func stopAll() -> [pid_t] {
        for child in running.values { child.signal(SIGTERM) }
        return Array(running.keys)
    }

    /// After the workers stopped: waits up to `seconds` for the CGIs (reaping them), then SIGKILLs
    /// the process groups that are left. Runs on the main thread once the loops are gone.
    static func reapAfterStop(_ pids: [pid_t], seconds: Double) {
        var left = Set(pids)
        let deadline = EventLoop.monotonicNanoseconds() + UInt64(seconds * 1e9)
        while !left.isEmpty && EventLoop.monotonicNanoseconds() < deadline {
            for pid in left {
                let r = waitpid(pid, nil, WNOHANG)
                if r == pid || (r < 0 && errno == ECHILD) { left.remove(pid) }
            }
            if !left.isEmpty { usleep(20_000) }
        }
        for pid in pids {
            _ = kill(-pid, SIGKILL)   // the group: grandchildren included
            if left.contains(pid) { _ = kill(pid, SIGKILL); _ = waitpid(pid, nil, 0) }
        }
    }
}
