import Testing
@testable import SwitchyardWebSocket

/// Frames as a client sends them (masked) or a backend does (unmasked, or masked like the seed
/// ws_echo.py), with the offset where each one ends.
struct FrameStream {
    var bytes: [UInt8] = []
    var ends: [Int] = []

    mutating func add(_ opcode: WebSocketOpcode, _ payload: [UInt8], fin: Bool = true, mask: UInt32? = nil) {
        WebSocketFrameEncoder.encode(opcode: opcode, payload: payload, fin: fin, maskKey: mask, into: &bytes)
        ends.append(bytes.count)
    }

    /// `bytes` cut into reads of `size`.
    func reads(_ size: Int) -> [[UInt8]] {
        stride(from: 0, to: bytes.count, by: size).map { Array(bytes[$0..<min($0 + size, bytes.count)]) }
    }
}

@Suite struct WebSocketFrameBoundaryTrackerSplitTests {
    /// 7-, 16- and 64-bit lengths (at the edges 125/126, 65535/65536), masked and not, a message
    /// fragmented around a control frame.
    static var mixed: FrameStream {
        var s = FrameStream()
        s.add(.text, Array(repeating: 0x41, count: 125))
        s.add(.binary, Array(repeating: 1, count: 126), mask: 0x11223344)
        s.add(.binary, Array(repeating: 2, count: 65_535), fin: false)
        s.add(.ping, [9, 9], mask: 0xA1B2C3D4)
        s.add(.continuation, Array(repeating: 3, count: 65_536), fin: false, mask: 0x01020304)
        s.add(.continuation, [], fin: true)
        s.add(.close, [0x03, 0xE8])
        return s
    }

    @Test(arguments: [1, 2, 5, 9, 14, 1000, 70_000])
    func nextBoundaryStopsAtEveryFrameEnd(_ size: Int) {
        let s = Self.mixed
        var tracker = WebSocketFrameBoundaryTracker()
        var found: [Int] = []
        var offset = 0
        for read in s.reads(size) {
            var i = 0
            while i < read.count {
                i += read.withUnsafeBytes { tracker.advanceToNextBoundary(UnsafeRawBufferPointer(rebasing: $0[i...])) }
                if tracker.isAtBoundary { found.append(offset + i) }
            }
            offset += read.count
        }
        #expect(found == s.ends)
        #expect(!tracker.lost)
    }

    @Test func byteByByteHeadersAgreeWithWholeInput() {
        let s = Self.mixed
        var whole = WebSocketFrameBoundaryTracker()
        #expect(whole.advance(s.bytes) == s.bytes.count)
        var single = WebSocketFrameBoundaryTracker()
        var boundaries: [Int] = []
        for (i, b) in s.bytes.enumerated() where single.advance([b]) != nil { boundaries.append(i + 1) }
        #expect(boundaries == s.ends && whole == single)
    }
}

@Suite struct WebSocketPongFilterTests {
    let token: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 42]

    /// A client stream: data, an unrelated PONG, a fragmented message with the PONG answering our
    /// PING between its fragments, a PONG with a 16-bit length (not a valid control frame), data.
    func clientStream() -> (stream: FrameStream, answerIndex: Int) {
        var s = FrameStream()
        s.add(.text, Array("hello".utf8), mask: 0x01020304)
        s.add(.pong, [1, 2, 3], mask: 0x55667788)
        s.add(.binary, Array(repeating: 7, count: 300), fin: false, mask: 0x0A0B0C0D)
        s.add(.pong, token, mask: 0xDEADBEEF)
        let answer = s.ends.count - 1
        s.add(.continuation, Array(repeating: 8, count: 70_000), mask: 0x10203040)
        s.add(.pong, Array(repeating: 5, count: 200), mask: 0x99999999)
        s.add(.pong, token, mask: 0x12345678)            // a second copy passes: only one answer is taken
        return (s, answer)
    }

    func run(_ reads: [[UInt8]], token: [UInt8]?) -> (out: [UInt8], matches: Int) {
        var filter = WebSocketPongFilter()
        var out: [UInt8] = []
        var matches = 0
        var t = token
        for read in reads {
            let matched = read.withUnsafeBytes { filter.filter($0, token: t) { out.append(contentsOf: $0) } }
            if matched { matches += 1; t = nil }
        }
        return (out, matches)
    }

    @Test(arguments: [1, 2, 3, 7, 131, 4096, 1 << 20])
    func takesOutExactlyTheAnsweringPong(_ size: Int) {
        let (s, answer) = clientStream()
        var expected = Array(s.bytes[..<s.ends[answer - 1]])
        expected += s.bytes[s.ends[answer]...]
        let (out, matches) = run(s.reads(size), token: token)
        #expect(matches == 1)
        #expect(out == expected, "read size \(size)")
    }

    @Test(arguments: [1, 5, 4096])
    func withoutAnOutstandingPingEverythingPasses(_ size: Int) {
        let (s, _) = clientStream()
        let (out, matches) = run(s.reads(size), token: nil)
        #expect(matches == 0 && out == s.bytes)
    }

    @Test func anIncompletePongHeldAtTheEndIsReleased() {
        var s = FrameStream()
        s.add(.text, [1, 2], mask: 1)
        s.add(.pong, token, mask: 0x01010101)
        let cut = Array(s.bytes.dropLast(3))
        var filter = WebSocketPongFilter()
        var out: [UInt8] = []
        let matched = cut.withUnsafeBytes { filter.filter($0, token: token) { out.append(contentsOf: $0) } }
        #expect(!matched && out == Array(s.bytes[..<s.ends[0]]), "the PONG's start is held")
        filter.finish { out.append(contentsOf: $0) }
        #expect(out == cut)
    }

    @Test func aPongWithAnotherPayloadPasses() {
        var s = FrameStream()
        s.add(.pong, [0, 0, 0, 0, 0, 0, 0, 43], mask: 0x01010101)
        s.add(.pong, Array(token.prefix(7)), mask: 0x01010101)
        let (out, matches) = run(s.reads(1), token: token)
        #expect(matches == 0 && out == s.bytes)
    }
}

@Suite struct WebSocketRelayKeepaliveTests {
    let second: UInt64 = 1_000_000_000

    @Test func pingBetweenFramesOnlyAndItsPongIsTakenOut() throws {
        var k = WebSocketRelayKeepalive(interval: 2 * second, now: 0, tokenSeed: 7)
        var down = FrameStream()
        down.add(.binary, Array(repeating: 1, count: 1000), fin: false)
        down.add(.continuation, Array(repeating: 2, count: 10))
        // Half of the first frame, then the PING falls due: it must wait for a frame end.
        let first = Array(down.bytes[..<500])
        #expect(first.withUnsafeBytes { k.backendBytes($0, now: second) } == nil)
        #expect(k.tick(now: 3 * second) == .none)
        let rest = Array(down.bytes[500...])
        let split = try #require(rest.withUnsafeBytes { k.backendBytes($0, now: 3 * second) })
        #expect(split.offset == rest.count, "after the last frame end in the read")
        // FIN + PING, unmasked (server to client), 8 bytes: the seeded counter.
        #expect(Array(split.ping[..<2]) == [0x89, 8] && Array(split.ping[2...]) == Self.token(7 + 1))
        // Now at a boundary: nothing due (one PING outstanding); no PONG by 5 s: the peer is gone.
        #expect(k.tick(now: 4 * second) == .none)
        var dead = k
        #expect(dead.tick(now: 5 * second) == .peerUnresponsive)
        // The client answers: its PONG never reaches the backend, its data does.
        var up = FrameStream()
        up.add(.text, Array("x".utf8), mask: 1)
        up.add(.pong, Array(split.ping[2...]), mask: 0xCAFEBABE)
        var toBackend: [UInt8] = []
        up.bytes.withUnsafeBytes { k.clientBytes($0, now: 4 * second) { toBackend.append(contentsOf: $0) } }
        #expect(toBackend == Array(up.bytes[..<up.ends[0]]))
        // Answered: the next PING is due an interval after the last one, and carries a new payload.
        #expect(k.tick(now: 5 * second) == .sendPing(WebSocketRelayKeepalive.pingFrame(Self.token(7 + 2))))
    }

    @Test func pingAtOnceWhenTheBackendIsBetweenFrames() {
        var k = WebSocketRelayKeepalive(interval: second, now: 0, tokenSeed: 0)
        #expect(k.tick(now: second / 2) == .none)
        #expect(k.tick(now: second) == .sendPing(WebSocketRelayKeepalive.pingFrame(Self.token(1))))
    }

    @Test func aStreamThatIsNotFramesGetsNoPings() {
        var k = WebSocketRelayKeepalive(interval: second, now: 0, tokenSeed: 0)
        let garbage: [UInt8] = [0x82, 0x7F, 0xFF, 0, 0, 0, 0, 0, 0, 1]
        #expect(garbage.withUnsafeBytes { k.backendBytes($0, now: 0) } == nil)
        #expect(k.tick(now: second) == .lostFraming)
        #expect(k.tick(now: 2 * second) == .none)
        #expect(k.tick(now: 30 * second) == .none)
    }

    static func token(_ n: UInt64) -> [UInt8] { WebSocketKeepalive.payload(n) }
}
