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

    /// Why the backend at `address` cannot take a request now, or nil when it can.
    func unavailableReason(_ address: String) -> String? {
        down.withLock { $0[address] }
    }
}
