import Glibc
import Testing
@testable import SwitchyardOS

/// A handler that forwards to a closure.
private final class Probe: EventHandler {
    var calls = 0
    let body: (Int32, IOEvents) -> Void
    init(_ body: @escaping (Int32, IOEvents) -> Void = { _, _ in }) { self.body = body }
    func handleEvent(fd: Int32, events: IOEvents) {
        calls += 1
        body(fd, events)
    }
}

private func makePipe() throws -> (read: Int32, write: Int32) { try Pipe.make() }

/// Runs `loop` on this thread until something calls `stop()`; a watchdog stops it after `limit`
/// seconds and the test sees `timedOut`.
private func run(_ loop: EventLoop, limit: Double = 3) -> (timedOut: Bool, seconds: Double) {
    var timedOut = false
    let start = EventLoop.monotonicNanoseconds()
    let watchdog = loop.schedule(afterSeconds: limit) { timedOut = true; loop.stop() }
    loop.run()
    loop.cancel(watchdog)
    return (timedOut, Double(EventLoop.monotonicNanoseconds() - start) / 1e9)
}

/// The loop's contract under both readiness sources (`server.event-handler`): level-triggered
/// readiness, interest changes, removal on unregister, timers and cross-thread wake-ups.
@Suite("EventLoop readiness, epoll and io_uring")
struct EventHandlerKindTests {
    /// The handler reads one byte per event and leaves the rest: only a level-triggered source
    /// (a one-shot poll re-armed after the handler ran) reports the bytes still buffered; an
    /// edge-triggered one (multishot poll) would stall after the first byte.
    @Test(arguments: EventHandlerKind.allCases)
    func pipeStaysReadableWhileBytesRemain(kind: EventHandlerKind) throws {
        let loop = try EventLoop(name: "level", eventHandler: kind)
        let (r, w) = try makePipe()
        defer { Syscall.close(r); Syscall.close(w) }
        var got: [UInt8] = []
        try loop.register(fd: r, events: .input, handler: Probe { fd, _ in
            var byte: UInt8 = 0
            if Glibc.read(fd, &byte, 1) == 1 { got.append(byte) }
            if got.count == 5 { loop.unregister(fd: fd); loop.stop() }
        })
        #expect(Glibc.write(w, "abcde", 5) == 5)
        let outcome = run(loop)
        #expect(!outcome.timedOut)
        #expect(got == Array("abcde".utf8))
    }

    /// Interest changes take effect: output fires at once on an idle socket, then input only
    /// after the peer wrote; a socket with no interest stays silent.
    @Test(arguments: EventHandlerKind.allCases)
    func socketInterestChanges(kind: EventHandlerKind) throws {
        let loop = try EventLoop(name: "interest", eventHandler: kind)
        let (a, b) = try Socket.pair()
        defer { Syscall.close(a); Syscall.close(b) }
        var seen: [IOEvents] = []
        let probe = Probe { fd, events in
            seen.append(events.intersection([.input, .output]))
            if events.contains(.output) {
                loop.setInterest(fd: fd, .input)
                loop.schedule(afterNanoseconds: 20_000_000) { _ = Glibc.write(b, "x", 1) }
            } else if events.contains(.input) {
                loop.setInterest(fd: fd, [])
                loop.schedule(afterNanoseconds: 50_000_000) { loop.stop() }   // no further events meanwhile
            }
        }
        try loop.register(fd: a, events: [], handler: probe)
        loop.schedule(afterNanoseconds: 20_000_000) { loop.setInterest(fd: a, .output) }
        let outcome = run(loop)
        #expect(!outcome.timedOut)
        #expect(seen == [.output, .input])
    }

    /// Unregistering removes the poll: no event reaches the handler afterwards, and closing the
    /// socket really closes it (the peer reads end of stream), so no poll kept the file alive.
    @Test(arguments: EventHandlerKind.allCases)
    func unregisterCancelsAndCloseReachesThePeer(kind: EventHandlerKind) throws {
        let loop = try EventLoop(name: "cancel", eventHandler: kind)
        let (a, b) = try Socket.pair()
        defer { Syscall.close(b) }
        let probe = Probe()
        try loop.register(fd: a, events: .input, handler: probe)
        var peerRead: Int = -2
        loop.schedule(afterNanoseconds: 20_000_000) {
            loop.unregister(fd: a)
            Syscall.close(a)
            loop.schedule(afterNanoseconds: 20_000_000) {
                var byte: UInt8 = 0
                peerRead = Glibc.read(b, &byte, 1)   // 0: end of stream, -1 (EAGAIN): still open
                loop.stop()
            }
        }
        let outcome = run(loop)
        #expect(!outcome.timedOut)
        #expect(probe.calls == 0)
        #expect(peerRead == 0)
    }

    /// A descriptor closed in its handler and reused at once by a new registration: the new
    /// handler sees only its own readiness, never the old descriptor's.
    @Test(arguments: EventHandlerKind.allCases)
    func reusedDescriptorGetsNoStaleEvent(kind: EventHandlerKind) throws {
        let loop = try EventLoop(name: "reuse", eventHandler: kind)
        let first = try makePipe()
        var second: (read: Int32, write: Int32)? = nil
        defer { if let second { Syscall.close(second.read); Syscall.close(second.write) } }
        let late = Probe()
        let early = Probe { fd, _ in
            loop.unregister(fd: fd)
            Syscall.close(fd)
            Syscall.close(first.write)
            second = try? makePipe()                       // typically takes the same numbers
            if let second { try? loop.register(fd: second.read, events: .input, handler: late) }
            loop.schedule(afterNanoseconds: 50_000_000) { loop.stop() }
        }
        try loop.register(fd: first.read, events: .input, handler: early)
        #expect(Glibc.write(first.write, "z", 1) == 1)
        let outcome = run(loop)
        #expect(!outcome.timedOut)
        #expect(early.calls == 1)
        #expect(late.calls == 0)
    }

    /// Timers bound the wait (io_uring: the enter's timeout), and `execute` from another thread
    /// wakes a loop that has nothing else to do.
    @Test(arguments: EventHandlerKind.allCases)
    func timersAndCrossThreadWakeups(kind: EventHandlerKind) throws {
        let loop = try EventLoop(name: "timers", eventHandler: kind)
        var order: [String] = []
        let start = EventLoop.monotonicNanoseconds()
        var firedAfter: UInt64 = 0
        loop.schedule(afterNanoseconds: 40_000_000) { firedAfter = EventLoop.monotonicNanoseconds() - start; order.append("40ms") }
        let cancelled = loop.schedule(afterNanoseconds: 10_000_000) { order.append("cancelled") }
        loop.cancel(cancelled)
        let thread = try LoopThread(name: "waker") {
            usleep(100_000)
            loop.execute { loop.stop() }   // EventLoop is Sendable for `execute`
        }
        let outcome = run(loop)
        thread.join()
        order.append("woken")
        #expect(!outcome.timedOut)
        #expect(order == ["40ms", "woken"])
        #expect(firedAfter >= 40_000_000 && firedAfter < 1_000_000_000)
        #expect(outcome.seconds >= 0.09 && outcome.seconds < 2)
    }

    /// A writer that went away: the reader gets hangup and reads end of stream.
    @Test(arguments: EventHandlerKind.allCases)
    func hangupOfAPipe(kind: EventHandlerKind) throws {
        let loop = try EventLoop(name: "hangup", eventHandler: kind)
        let (r, w) = try makePipe()
        defer { Syscall.close(r) }
        var events: IOEvents = []
        var readResult = -2
        try loop.register(fd: r, events: .input, handler: Probe { fd, e in
            events = e
            var byte: UInt8 = 0
            readResult = Glibc.read(fd, &byte, 1)
            loop.unregister(fd: fd)
            loop.stop()
        })
        Syscall.close(w)
        let outcome = run(loop)
        #expect(!outcome.timedOut)
        #expect(events.contains(.hangup))
        #expect(readResult == 0)
    }
}

/// Records the order deferred work ran in.
private final class DeferredProbe: LoopDeferredWork {
    let name: String
    let log: (String) -> Void
    init(_ name: String, _ log: @escaping (String) -> Void) { self.name = name; self.log = log }
    func runDeferredWork() { log(name) }
}

@Suite("EventLoop deferred work")
struct EventLoopDeferredWorkTests {
    /// Objects queued with `deferWork` and closures queued with `defer_` run once each, after the
    /// current pass, in the order queued; what they defer in turn runs in a later round of the same
    /// pass (the loop does not wait in between), again in order, and nothing runs twice.
    @Test func deferredWorkAndClosuresRunInOrder() throws {
        let loop = try EventLoop(name: "deferred")
        var order: [String] = []
        let a = DeferredProbe("a") { order.append($0) }
        let b = DeferredProbe("b") { order.append($0) }
        let later = DeferredProbe("later") { order.append($0); loop.stop() }
        loop.defer_ {
            loop.deferWork(a)
            loop.defer_ { order.append("closure") }
            loop.deferWork(b)
            loop.defer_ { loop.deferWork(later) }
        }
        let outcome = run(loop)
        #expect(!outcome.timedOut)
        #expect(order == ["a", "closure", "b", "later"])
    }
}
