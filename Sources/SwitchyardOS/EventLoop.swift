import Glibc
import CSwitchyardShims
import Synchronization

/// Readiness interest for a descriptor (level-triggered). Output interest is added only while a
/// writer has something pending, so idle sockets never wake the loop for writability.
public struct IOEvents: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    // Linux's epoll bits as literals (kernel ABI; `IOEventsTests` checks them against the C
    // headers): a value computed by a C call would make each a lazily initialised global, and every
    // use on the relay's path would pay a `swift_once` check.
    public static let input = IOEvents(rawValue: 0x001)         // EPOLLIN
    public static let output = IOEvents(rawValue: 0x004)        // EPOLLOUT
    public static let readHangup = IOEvents(rawValue: 0x2000)   // EPOLLRDHUP
    public static let hangup = IOEvents(rawValue: 0x010)        // EPOLLHUP
    public static let error = IOEvents(rawValue: 0x008)         // EPOLLERR
}

/// Something the loop calls back when its descriptor is ready.
public protocol EventHandler: AnyObject {
    func handleEvent(fd: Int32, events: IOEvents)
}

/// Handle for a scheduled timer; cancelling an already-fired timer is harmless.
public struct TimerID: Hashable, Sendable { let value: UInt64 }

/// One epoll instance (or an io_uring, `URingPoller`, by `server.event-handler`) driven by one
/// thread. Everything registered on a loop is touched only by that loop's thread; other threads
/// talk to it through `execute(_:)` (an eventfd wake-up).
///
/// Sendable, checked by hand: `execute(_:)` is the only member meant for other threads, and its
/// queue is behind a `Mutex`; everything else is touched by the loop's own thread (once `run()`
/// started; before that, by the thread setting the loop up), which debug builds assert
/// (`assertInLoop`).
///
/// Each registration carries a generation number packed with the fd in the epoll user data, so an
/// event still queued for a descriptor that was closed and reused in the same batch is recognised
/// as stale and dropped (the trick from swift-nio's SelectorEpoll).
public final class EventLoop: @unchecked Sendable {
    private struct Registration {
        var handler: EventHandler
        var generation: UInt32
        var events: IOEvents
        /// In the epoll set. A descriptor with no interest is taken out, because EPOLLHUP and
        /// EPOLLERR cannot be masked: a paused reader of a hung-up pipe would otherwise wake the
        /// loop forever.
        var armed: Bool
        /// io_uring: the token of the one-shot poll in flight, 0 when none.
        var token: UInt32 = 0
    }

    private let epfd: Int32
    /// Non-nil when io_uring is the readiness source (then `epfd` is -1).
    private let uring: URingPoller?
    public let eventHandler: EventHandlerKind
    private var registrations: [Registration?] = []
    private var generationCounter: UInt32 = 0
    private var eventBuffer: UnsafeMutableRawPointer
    private let eventCapacity = 256
    static let keptDeferredCapacity = 1024
    private var running = false

    // Timers (deadlines in monotonic nanoseconds): only live ones are held (`TimerQueue`).
    private var timers = TimerQueue()

    // Cross-thread submissions.
    private let wakeFD: Int32
    private let pendingTasks = Mutex<[@Sendable () -> Void]>([])
    private var deferred: [DeferredItem] = []
    /// The batch `runDeferred` is running (swapped with `deferred`: both keep their capacity).
    private var deferredRunning: [DeferredItem] = []

    private enum DeferredItem {
        case action(() -> Void)
        case work(any LoopDeferredWork)
        /// What `runDeferred` leaves in an item's place once it took the item out to run it.
        case taken
    }
    /// The thread running `run()`; nil before it started.
    private var ownerThread: pthread_t?

    /// Monotonic time at the start of the current loop iteration, in nanoseconds.
    public private(set) var now: UInt64 = EventLoop.monotonicNanoseconds()
    /// Wall-clock seconds at the start of the current loop iteration (for Date headers and logs).
    public private(set) var wallSeconds: Int = Int(time(nil))

    /// Where streams without room of their own read (`BufferedStream`); loop-confined, reused by
    /// every read, holds nothing between two.
    public let readScratch = ByteBuffer(capacity: 64 * 1024)
    public let name: String

    public init(name: String = "loop", eventHandler: EventHandlerKind = .epoll) throws {
        self.name = name
        self.eventHandler = eventHandler
        if eventHandler == .ioUring {
            uring = try URingPoller()
            epfd = -1
        } else {
            uring = nil
            epfd = sy_epoll_create()
            if epfd < 0 { throw SystemError("epoll_create1") }
        }
        wakeFD = sy_eventfd()
        if wakeFD < 0 { throw SystemError("eventfd") }
        eventBuffer = sy_epoll_events_alloc(Int32(eventCapacity))!
        try register(fd: wakeFD, events: .input, handler: WakeHandler(loop: self))
    }

    deinit {
        sy_epoll_events_free(eventBuffer)
        Syscall.close(wakeFD)
        if epfd >= 0 { Syscall.close(epfd) }
    }

    public static func monotonicNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    // MARK: descriptors

    public func register(fd: Int32, events: IOEvents, handler: EventHandler) throws {
        precondition(fd >= 0)
        assertInLoop()
        if Int(fd) >= registrations.count {
            registrations.append(contentsOf: repeatElement(nil, count: Int(fd) - registrations.count + 64))
        }
        generationCounter &+= 1
        let generation = generationCounter
        let data = (UInt64(generation) << 32) | UInt64(UInt32(bitPattern: fd))
        let armed = !events.isEmpty
        if let uring {
            // A descriptor registered again without unregistering: its old poll must not linger.
            if let old = registrations[Int(fd)], old.token != 0 { uring.disarm(fd: fd, token: old.token) }
            registrations[Int(fd)] = Registration(handler: handler, generation: generation, events: events, armed: armed,
                                                  token: armed ? uring.arm(fd: fd, events: EventLoop.epollMask(events)) : 0)
            return
        }
        if armed && sy_epoll_ctl(epfd, sy_epoll_ctl_add(), fd, EventLoop.epollMask(events), data) != 0 {
            throw SystemError("epoll_ctl(ADD)", context: "fd \(fd)")
        }
        registrations[Int(fd)] = Registration(handler: handler, generation: generation, events: events, armed: armed)
    }

    /// Changes interest; a no-op when unchanged, so callers can state what they want without tracking it.
    public func setInterest(fd: Int32, _ events: IOEvents) {
        guard Int(fd) < registrations.count, var reg = registrations[Int(fd)] else { return }
        if reg.events == events { return }
        reg.events = events
        if let uring {
            if reg.token != 0 { uring.disarm(fd: fd, token: reg.token) }
            reg.token = events.isEmpty ? 0 : uring.arm(fd: fd, events: EventLoop.epollMask(events))
            registrations[Int(fd)] = reg
            return
        }
        let data = (UInt64(reg.generation) << 32) | UInt64(UInt32(bitPattern: fd))
        if events.isEmpty {
            if reg.armed { _ = sy_epoll_ctl(epfd, sy_epoll_ctl_del(), fd, 0, 0); reg.armed = false }
        } else if reg.armed {
            _ = sy_epoll_ctl(epfd, sy_epoll_ctl_mod(), fd, EventLoop.epollMask(events), data)
        } else {
            _ = sy_epoll_ctl(epfd, sy_epoll_ctl_add(), fd, EventLoop.epollMask(events), data)
            reg.armed = true
        }
        registrations[Int(fd)] = reg
    }

    public func interest(fd: Int32) -> IOEvents? {
        guard Int(fd) < registrations.count else { return nil }
        return registrations[Int(fd)]?.events
    }

    /// Removes the descriptor from the loop (call before closing it).
    public func unregister(fd: Int32) {
        guard fd >= 0, Int(fd) < registrations.count, let reg = registrations[Int(fd)] else { return }
        if let uring {
            if reg.token != 0 { uring.disarm(fd: fd, token: reg.token) }
        } else if reg.armed {
            _ = sy_epoll_ctl(epfd, sy_epoll_ctl_del(), fd, 0, 0)
        }
        registrations[Int(fd)] = nil
    }

    /// Half-close (EPOLLRDHUP) is level-triggered too: asking for it while not reading would wake
    /// the loop forever after the peer's FIN, so it goes with input interest only.
    private static func epollMask(_ events: IOEvents) -> UInt32 {
        events.contains(.input) ? events.rawValue | sy_epollrdhup() : events.rawValue
    }

    // MARK: timers

    @discardableResult
    public func schedule(afterNanoseconds delay: UInt64, _ action: @escaping () -> Void) -> TimerID {
        timers.schedule(deadline: EventLoop.monotonicNanoseconds() &+ delay, action)
    }

    @discardableResult
    public func schedule(afterSeconds seconds: Double, _ action: @escaping () -> Void) -> TimerID {
        schedule(afterNanoseconds: UInt64(max(0, seconds) * 1e9), action)
    }

    public func cancel(_ timer: TimerID) {
        timers.cancel(timer)
    }

    /// Runs `action` on this loop's thread after the current batch of events (same thread only).
    public func defer_(_ action: @escaping () -> Void) {
        deferred.append(.action(action))
    }

    /// Runs `work.runDeferredWork()` after the current batch of events, like `defer_`, without a
    /// closure: for what is deferred once a pass on every busy connection (its flush).
    public func deferWork(_ work: any LoopDeferredWork) {
        deferred.append(.work(work))
    }

    /// Runs `action` on this loop's thread; safe to call from any thread.
    public func execute(_ action: @escaping @Sendable () -> Void) {
        pendingTasks.withLock { $0.append(action) }
        var one: UInt64 = 1
        _ = Glibc.write(wakeFD, &one, 8)
    }

    fileprivate func drainWakeups() {
        var value: UInt64 = 0
        _ = Glibc.read(wakeFD, &value, 8)
        let tasks = pendingTasks.withLock { tasks in
            defer { tasks.removeAll() }
            return tasks
        }
        for task in tasks { task() }
    }

    // MARK: running

    public func stop() { running = false }

    /// True on the loop's thread, and on any thread before the loop started running.
    public var inLoop: Bool {
        guard let ownerThread else { return true }
        return pthread_equal(ownerThread, pthread_self()) != 0
    }

    /// Debug builds: traps when a loop-confined member is used from another thread.
    @inline(__always)
    public func assertInLoop(_ file: StaticString = #fileID, line: UInt = #line) {
        assert(inLoop, "EventLoop \(name) used off its thread", file: file, line: line)
    }

    public func run() {
        ownerThread = pthread_self()
        uring?.enable()
        defer { ownerThread = nil }   // stopped: whoever joins the thread may use the loop's objects
        running = true
        while running {
            let timeout = nextTimeoutMilliseconds()
            if let uring { ringPass(uring, timeout: timeout) } else { epollPass(timeout: timeout) }
            runDeferred()
            runExpiredTimers()
            runDeferred()
        }
    }

    private func epollPass(timeout: Int32) {
        let n = sy_epoll_wait(epfd, eventBuffer, Int32(eventCapacity), timeout)
        now = EventLoop.monotonicNanoseconds()
        wallSeconds = Int(time(nil))
        if n < 0 {
            if errno == EINTR { return }
            fatalError("epoll_wait: \(SystemError("epoll_wait"))")
        }
        for i in 0..<Int(n) {
            let data = sy_epoll_event_data(eventBuffer, Int32(i))
            let fd = Int32(bitPattern: UInt32(truncatingIfNeeded: data))
            let generation = UInt32(truncatingIfNeeded: data >> 32)
            guard Int(fd) < registrations.count, let reg = registrations[Int(fd)], reg.generation == generation else {
                continue  // stale: fd closed (and maybe reused) earlier in this batch
            }
            reg.handler.handleEvent(fd: fd, events: IOEvents(rawValue: sy_epoll_event_events(eventBuffer, Int32(i))))
        }
    }

    /// One io_uring pass: submit every queued poll change with the wait, deliver the completions,
    /// re-arm each delivered descriptor that still wants events (queued for the next pass's enter).
    private func ringPass(_ uring: URingPoller, timeout: Int32) {
        let n = uring.wait(timeoutMilliseconds: timeout)
        now = EventLoop.monotonicNanoseconds()
        wallSeconds = Int(time(nil))
        for i in 0..<n {
            let data = uring.completionData[i]
            let fd = Int32(bitPattern: UInt32(truncatingIfNeeded: data))
            let token = UInt32(truncatingIfNeeded: data >> 32)
            guard token != 0, fd >= 0, Int(fd) < registrations.count, var reg = registrations[Int(fd)], reg.token == token else {
                continue  // stale: removed, re-armed with other interest, or fd closed and reused
            }
            reg.token = 0
            registrations[Int(fd)] = reg
            let result = uring.completionResults[i]
            // A failed poll (EBADF: closed without unregistering) reads as an error and is not re-armed.
            reg.handler.handleEvent(fd: fd, events: result < 0 ? [.error, .hangup] : IOEvents(rawValue: UInt32(bitPattern: result)))
            if result >= 0 { rearm(uring, fd: fd) }
        }
    }

    private func rearm(_ uring: URingPoller, fd: Int32) {
        guard Int(fd) < registrations.count, var reg = registrations[Int(fd)], reg.token == 0, !reg.events.isEmpty else { return }
        reg.token = uring.arm(fd: fd, events: EventLoop.epollMask(reg.events))
        registrations[Int(fd)] = reg
    }

    private func runDeferred() {
        while !deferred.isEmpty {
            swap(&deferred, &deferredRunning)
            // Each item is moved out to run (a copy would be one more retain and release of its
            // object), `.taken` left in its place for the clear below. Work deferred meanwhile
            // goes to `deferred`, the other array, and runs in the next round of this loop.
            deferredRunning.withUnsafeMutableBufferPointer { items in
                guard let base = items.baseAddress else { return }
                for i in 0..<items.count {
                    let item = (base + i).move()
                    (base + i).initialize(to: .taken)
                    switch item {
                    case .action(let action): action()
                    case .work(let work): work.runDeferredWork()
                    case .taken: break
                    }
                }
            }
            deferredRunning.removeAll(keepingCapacity: deferredRunning.capacity <= EventLoop.keptDeferredCapacity)
        }
    }

    private func nextTimeoutMilliseconds() -> Int32 {
        if !deferred.isEmpty { return 0 }
        guard let deadline = timers.nextDeadline else { return -1 }
        let current = EventLoop.monotonicNanoseconds()
        if deadline <= current { return 0 }
        return Int32(min((deadline - current + 999_999) / 1_000_000, 60_000))
    }

    private func runExpiredTimers() {
        // Nothing due at the wake-up (`now`): no clock read. A timer that fell due since then runs
        // on the next pass, whose timeout `nextTimeoutMilliseconds` makes 0.
        guard let next = timers.nextDeadline, next <= now else { return }
        let current = EventLoop.monotonicNanoseconds()
        while let action = timers.popExpired(now: current) { action() }
    }
}

private final class WakeHandler: EventHandler {
    unowned let loop: EventLoop
    init(loop: EventLoop) { self.loop = loop }
    func handleEvent(fd: Int32, events: IOEvents) { loop.drainWakeups() }
}

/// An object with one piece of work for the end of a loop pass (`EventLoop.deferWork`). Queued as
/// itself rather than as a closure: a closure capturing its object is a heap context allocated and
/// freed each time, and a connection flushes once every pass it is busy (~250 instructions a
/// relayed message, callgrind).
public protocol LoopDeferredWork: AnyObject {
    func runDeferredWork()
}
