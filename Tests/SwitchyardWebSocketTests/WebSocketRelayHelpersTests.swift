import Testing
@testable import SwitchyardWebSocket

@Suite struct WebSocketFrameBoundaryTrackerTests {
    /// Frames of every header form, masked (as the seed ws_echo.py sends them) and not.
    var stream: (bytes: [UInt8], boundaries: [Int]) {
        var bytes: [UInt8] = []
        var boundaries: [Int] = []
        let frames: [(WebSocketOpcode, Int, UInt32?, Bool)] = [(.text, 5, nil, true), (.binary, 300, 0x01020304, false),
                                                              (.ping, 0, nil, true), (.continuation, 70_000, nil, true),
                                                              (.binary, 125, 0xAABBCCDD, true), (.close, 2, nil, true)]
        for (opcode, count, key, fin) in frames {
            WebSocketFrameEncoder.encode(opcode: opcode, payload: [UInt8](repeating: 0x7E, count: count), fin: fin, maskKey: key, into: &bytes)
            boundaries.append(bytes.count)
        }
        return (bytes, boundaries)
    }

    @Test func findsEveryBoundaryWhateverTheReadSizes() {
        let (bytes, boundaries) = stream
        for size in [1, 2, 3, 7, 13, 64, 4096, bytes.count] {
            var tracker = WebSocketFrameBoundaryTracker()
            var offset = 0
            while offset < bytes.count {
                let end = min(offset + size, bytes.count)
                // The last frame end inside this read, relative to the read.
                let expected = boundaries.last { $0 > offset && $0 <= end }.map { $0 - offset }
                #expect(tracker.advance(Array(bytes[offset..<end])) == expected, "read size \(size) at \(offset)")
                #expect(tracker.isAtBoundary == boundaries.contains(end), "read size \(size) ending at \(end)")
                offset = end
            }
        }
    }

    @Test func lostOnAnImpossibleLength() {
        var tracker = WebSocketFrameBoundaryTracker()
        #expect(tracker.advance([0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 1]) == nil)
        #expect(tracker.lost && !tracker.isAtBoundary)
        #expect(tracker.advance([0x81, 0x00]) == nil)
    }
}

@Suite struct WebSocketKeepaliveTests {
    let second: UInt64 = 1_000_000_000

    @Test func pingsOnScheduleAndDetectsADeadPeer() {
        var k = WebSocketKeepalive(interval: 30 * second, pongTimeout: 10 * second, now: 0)
        #expect(k.next(now: 29 * second) == .wait(until: 30 * second))
        guard case .sendPing(let payload) = k.next(now: 30 * second) else { Issue.record("no ping"); return }
        #expect(k.next(now: 35 * second) == .wait(until: 40 * second))
        k.pongReceived([1, 2, 3], now: 36 * second)              // unsolicited PONG: proves nothing
        #expect(k.next(now: 40 * second) == .peerUnresponsive)
        var alive = WebSocketKeepalive(interval: 30 * second, pongTimeout: 10 * second, now: 0)
        guard case .sendPing(let p) = alive.next(now: 30 * second) else { Issue.record("no ping"); return }
        #expect(p == payload)
        alive.pongReceived(p, now: 31 * second)
        #expect(alive.next(now: 45 * second) == .wait(until: 60 * second))
        guard case .sendPing(let second2) = alive.next(now: 60 * second) else { Issue.record("no second ping"); return }
        #expect(second2 != p, "each PING has its own payload")
    }

    @Test func trafficPostponesThePingAndZeroDisablesIt() {
        var k = WebSocketKeepalive(interval: 30 * second, pongTimeout: 10 * second, now: 0)
        k.peerActive(now: 20 * second)
        #expect(k.next(now: 30 * second) == .wait(until: 50 * second))
        var off = WebSocketKeepalive(interval: 0, pongTimeout: 10 * second, now: 0)
        #expect(off.next(now: .max - 1) == .wait(until: .max))
    }
}
