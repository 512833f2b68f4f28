import Glibc
import CSwitchyardShims

/// The readiness source of an `EventLoop`, chosen by `server.event-handler` (lighttpd's key; its
/// value names): epoll, or io_uring used for readiness (see `URingPoller`).
public enum EventHandlerKind: String, Sendable, CaseIterable {
    case epoll = "linux-sysepoll"
    case ioUring = "io_uring"
}

/// io_uring as a readiness source beside epoll: each armed descriptor has one one-shot
/// IORING_OP_POLL_ADD in flight; interest changes and closes queue IORING_OP_POLL_REMOVE; every
/// entry queued during a loop pass (re-arms, changes, removals across all connections) goes to the
/// kernel in the single io_uring_enter that also waits, so a pass costs one system call however
/// many descriptors it touched (epoll needs an epoll_ctl for each change).
///
/// One-shot, not multishot (IORING_POLL_ADD_MULTI): a multishot poll posts a completion per
/// wake-up, that is edge-triggered, while the loop promises level-triggered readiness (a stream
/// reads at most `readsPerEvent` times per event and a paused reader resumes on data already
/// buffered); a one-shot poll re-armed after its handler ran checks readiness again at arm time,
/// which is exactly level-triggered.
///
/// Each arm has a token (packed with the fd in the user data, like the epoll generation), so a
/// completion of a poll that was removed, or of a descriptor closed and reused, is recognised as
/// stale and dropped. Loop-confined, like the loop.
final class URingPoller {
    private let ring: UnsafeMutableRawPointer
    /// Completions of the last wait: user data and result (a poll mask, or -errno).
    let completionData: UnsafeMutablePointer<UInt64>
    let completionResults: UnsafeMutablePointer<Int32>
    static let completionCapacity = 256
    private var lastToken: UInt32 = 0
    /// Entries that did not fit the submission queue (the kernel was busy): queued again first
    /// thing on the next wait. A fd of -1 marks a removal.
    private var backlog: [(fd: Int32, events: UInt32, userData: UInt64)] = []

    /// `entries` bounds how many entries one pass may queue before an early submit; the completion
    /// queue is larger, and the kernel keeps overflowing completions (IORING_FEAT_NODROP).
    init(entries: UInt32 = 1024) throws {
        guard let ring = sy_uring_open(entries, entries * 8) else { throw SystemError("io_uring_setup") }
        self.ring = ring
        completionData = .allocate(capacity: URingPoller.completionCapacity)
        completionResults = .allocate(capacity: URingPoller.completionCapacity)
    }

    deinit {
        sy_uring_close(ring)
        completionData.deallocate()
        completionResults.deallocate()
    }

    static func userData(fd: Int32, token: UInt32) -> UInt64 {
        (UInt64(token) << 32) | UInt64(UInt32(bitPattern: fd))
    }

    /// Queues a one-shot poll for `events` and returns the token naming it (never 0).
    func arm(fd: Int32, events: UInt32) -> UInt32 {
        lastToken &+= 1
        if lastToken == 0 { lastToken = 1 }
        let data = URingPoller.userData(fd: fd, token: lastToken)
        if sy_uring_poll_add(ring, fd, events, data) != 0 { backlog.append((fd, events, data)) }
        return lastToken
    }

    /// Queues the removal of the poll `token` armed for `fd`; its completion (-ECANCELED) is stale.
    func disarm(fd: Int32, token: UInt32) {
        let data = URingPoller.userData(fd: fd, token: token)
        if sy_uring_poll_remove(ring, data) != 0 { backlog.append((-1, 0, data)) }
    }

    /// Submits everything queued and waits up to `timeoutMilliseconds` (-1: until something
    /// completes); returns how many completions were copied into `completionData`/`completionResults`.
    /// The loop's thread, before its first wait: it becomes the ring's single submitter.
    func enable() {
        let rc = sy_uring_enable(ring)
        if rc < 0 { fatalError("io_uring_register(ENABLE_RINGS): \(SystemError("io_uring_register", errno: -rc))") }
    }

    func wait(timeoutMilliseconds: Int32) -> Int {
        if !backlog.isEmpty { requeueBacklog() }
        let rc = sy_uring_submit_wait(ring, timeoutMilliseconds)
        // ETIME: the timeout passed; EINTR: a signal; EBUSY/EAGAIN: completions must be reaped first.
        if rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY && rc != -EAGAIN {
            fatalError("io_uring_enter: \(SystemError("io_uring_enter", errno: -rc))")
        }
        return Int(sy_uring_reap(ring, completionData, completionResults, Int32(URingPoller.completionCapacity)))
    }

    private func requeueBacklog() {
        let pending = backlog
        backlog.removeAll(keepingCapacity: true)
        for (i, entry) in pending.enumerated() {
            let rc = entry.fd < 0 ? sy_uring_poll_remove(ring, entry.userData)
                : sy_uring_poll_add(ring, entry.fd, entry.events, entry.userData)
            if rc != 0 { backlog.append(contentsOf: pending[i...]); return }
        }
    }
}
