import Glibc
@testable import SwitchyardOS

/// Records what a `BufferedStream` reports; consumes input unless told not to.
final class StreamRecorder: BufferedStreamDelegate {
    var received: [UInt8] = []
    var consume = true
    var connected = 0
    var eofCount = 0
    /// How many bytes had been received when EOF was reported.
    var receivedAtEOF = -1
    var drained = 0
    var closes: [BufferedStreamError?] = []
    var closedAt: UInt64 = 0

    func streamDidConnect(_ stream: BufferedStream) { connected += 1 }

    func streamHasInput(_ stream: BufferedStream) {
        guard consume else { return }
        received += stream.input.readable
        stream.input.consume(stream.input.readableBytes)
    }

    func streamInputDidEnd(_ stream: BufferedStream) {
        eofCount += 1
        receivedAtEOF = received.count
    }

    func streamDidDrain(_ stream: BufferedStream) { drained += 1 }

    var idleReports: [UInt64] = []
    func streamIsIdle(_ stream: BufferedStream) { idleReports.append(EventLoop.monotonicNanoseconds()) }

    func streamDidClose(_ stream: BufferedStream, error: BufferedStreamError?) {
        closes.append(error)
        closedAt = EventLoop.monotonicNanoseconds()
    }
}

/// Runs `loop` on this thread, calling `tick` every millisecond, until `done` holds or `timeout`
/// seconds passed. Returns whether `done` held.
@discardableResult
func runLoop(_ loop: EventLoop, timeout: Double = 5, tick: @escaping () -> Void = {}, until done: @escaping () -> Bool) -> Bool {
    let deadline = EventLoop.monotonicNanoseconds() + UInt64(timeout * 1e9)
    var satisfied = false
    func step() {
        tick()
        if done() { satisfied = true; loop.stop(); return }
        if EventLoop.monotonicNanoseconds() >= deadline { loop.stop(); return }
        loop.schedule(afterNanoseconds: 1_000_000) { step() }
    }
    loop.schedule(afterNanoseconds: 0) { step() }
    loop.run()
    return satisfied
}

/// Runs `loop` for `seconds` (to show that something does not happen).
func runLoop(_ loop: EventLoop, for seconds: Double) {
    runLoop(loop, timeout: seconds) { false }
}

/// Reads what `fd` has now (non-blocking); nil at EOF.
func drain(_ fd: Int32, into bytes: inout [UInt8]) -> Bool {
    var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    while true {
        let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
        if n > 0 { bytes += chunk[0..<n]; continue }
        return n != 0   // 0: EOF
    }
}

/// Writes `bytes` to a non-blocking `fd`, waiting while it is full (someone else must read),
/// for at most 5 s; gives up on an error (a failing test must not hang the run).
func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
    var offset = 0
    let deadline = EventLoop.monotonicNanoseconds() + 5_000_000_000
    while offset < bytes.count && EventLoop.monotonicNanoseconds() < deadline {
        let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
        if n > 0 { offset += n; continue }
        if n < 0 && errno == ENOTSOCK {
            let w = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if w > 0 { offset += w; continue }
        }
        if errno != EAGAIN { return }
        usleep(1000)
    }
}

func pattern(_ count: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) } }

func isOpen(_ fd: Int32) -> Bool { fcntl(fd, F_GETFD) >= 0 }
