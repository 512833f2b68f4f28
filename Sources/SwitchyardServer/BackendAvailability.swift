import Synchronization

/// Which spawned backends (`bin-path`) have no live process at the moment, shared between the
/// supervisor (main loop) and the workers (their own threads).
///
/// The supervisor keeps a dead backend's listening socket open across its restart backoff (the
/// restarted process inherits it), so a connect still succeeds and the request would sit in the
/// listen backlog for the whole backoff (up to 30 s), then be handed to the new process - which,
/// when the request is what crashed the old one, crashes again. Workers ask here first and answer
/// 503 at once instead. Only hosts with a `bin-path` are ever listed, so the lock is taken only
/// for requests to spawned backends.
final class BackendAvailability: Sendable {
    /// Host address (`BackendHostConfig.addressDescription`) -> why it is unavailable.
    private let down = Mutex<[String: String]>([:])

    func markDown(_ address: String, reason: String) {
        down.withLock { $0[address] = reason }
    }

    func markUp(_ address: String) {
        down.withLock { _ = $0.removeValue(forKey: address) }
    }

    /// The supervisor's `bin-path` process slots for status pages ("address#slot" -> info).
    private let processes = Mutex<[String: BackendProcessInfo]>([:])

    func processStarted(address: String, program: String, slot: Int, pid: Int32) {
        processes.withLock { all in
            let key = "\(address)#\(slot)"
            let restarts = all[key].map { $0.restarts + 1 } ?? 0
            all[key] = BackendProcessInfo(host: address, program: program, slot: slot, pid: pid, restarts: restarts, state: "running")
        }
    }

    /// `state`: "restarting in N s" while the backoff runs, "stopped" at shutdown.
    func processExited(address: String, slot: Int, state: String) {
        processes.withLock { all in
            let key = "\(address)#\(slot)"
            all[key]?.pid = nil
            all[key]?.state = state
        }
    }

    var processList: [BackendProcessInfo] {
        processes.withLock { Array($0.values) }.sorted { ($0.host, $0.slot) < ($1.host, $1.slot) }
    }

    /// The backend at `address` left the configuration and stopped: no mark, no process rows.
    func forget(_ address: String) {
        markUp(address)
        processes.withLock { all in all = all.filter { $0.value.host != address } }
    }

    /// Why the backend at `address` cannot take a request now, or nil when it can.
    func unavailableReason(_ address: String) -> String? {
        down.withLock { $0[address] }
    }
}
