import Testing
@testable import SwitchyardHTTP2

/// Deterministic xorshift64 so a failing seed can be replayed.
struct TestRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }
    mutating func next() -> UInt64 {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        return state
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }
    mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) } }
}

/// Fuzz-style: hostile bytes and frames must never crash the session, the frame decoder or HPACK,
/// and what the session writes must always be well-formed frames. (The libFuzzer target
/// fuzz-http2-session explores the same space with coverage feedback; see README "Fuzzing".)
struct HTTP2RandomInputTests {
    /// Checks the session's invariants after each step.
    func checkInvariants(_ client: inout HTTP2TestClient, limits: HTTP2Limits) {
        let output = client.session.takeOutput()
        _ = HTTP2TestClient.frames(output)   // traps if the output is not a frame sequence
        #expect(client.session.activeStreamCount <= limits.maxConcurrentStreams)
        #expect(client.session.inbound.count <= HTTP2Protocol.frameHeaderLength + limits.maxFrameSize)
        #expect(client.session.closedUnconsumed.count <= 2 * limits.maxConcurrentStreams)
    }

    /// A random frame: mostly plausible (new streams with increasing ids, DATA and control frames on
    /// open ones), one in eight hostile (garbage HPACK, stray CONTINUATION, raw bytes, any stream id).
    func randomFrame(_ random: inout TestRandom, _ client: inout HTTP2TestClient, nextStream: inout UInt32) -> [UInt8] {
        let known = nextStream > 1 ? UInt32(1 + 2 * random.below(Int(nextStream / 2))) : 1
        if random.below(8) == 0 { return hostileFrame(&random, stream: UInt32(random.below(14))) }
        switch nextStream == 1 ? 0 : random.below(10) {
        case 0, 1:
            let pairs = random.below(4) == 0 ? [(":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "https"),
                                               (":path", "/"), (":authority", "a")] : HTTP2TestClient.get()
            defer { nextStream += 2 }
            return client.headers(nextStream, pairs, endStream: random.below(3) == 0)
        case 2, 3, 4:
            return HTTP2TestClient.data(known, random.bytes(random.below(300)), endStream: random.below(4) == 0,
                                        padding: random.below(3) == 0 ? random.below(256) : nil)
        case 5:
            return HTTP2TestClient.frame(.windowUpdate(increment: UInt32(random.below(1 << 16) + 1)),
                                         stream: random.below(2) == 0 ? 0 : known)
        case 6:
            return HTTP2TestClient.frame(.rstStream(HTTP2ErrorCode(UInt32(random.below(14)))), stream: known)
        case 7:
            let choices = [HTTP2Setting(HTTP2Setting.initialWindowSize, UInt32(random.below(70_000))),
                           HTTP2Setting(HTTP2Setting.headerTableSize, UInt32(random.below(8192))),
                           HTTP2Setting(HTTP2Setting.maxFrameSize, UInt32(16_384 + random.below(50_000))),
                           HTTP2Setting(HTTP2Setting.enablePush, 0), HTTP2Setting(0x77, 5)]
            let settings = (0..<random.below(3)).map { _ in choices[random.below(choices.count)] }
            return HTTP2TestClient.frame(.settings(ack: false, settings), stream: 0)
        case 8:
            return HTTP2TestClient.frame(.ping(ack: random.below(2) == 0, opaque: random.next()), stream: 0)
        default:
            return HTTP2TestClient.frame(.priority(HTTP2Priority(exclusive: false, dependency: UInt32(random.below(12)), weight: 1)),
                                         stream: known)
        }
    }

    func hostileFrame(_ random: inout TestRandom, stream: UInt32) -> [UInt8] {
        switch random.below(3) {
        case 0:
            return HTTP2TestClient.frame(.headers(HTTP2HeadersPayload(fragment: random.bytes(random.below(40)),
                                                                      endStream: true, endHeaders: random.below(3) != 0)), stream: stream)
        case 1:
            return HTTP2TestClient.frame(.continuation(fragment: random.bytes(random.below(20)), endHeaders: random.below(2) == 0),
                                         stream: stream)
        default:
            var out: [UInt8] = []
            HTTP2FrameEncoder.appendHeader(length: random.below(40), type: UInt8(random.below(12)), flags: UInt8(random.below(256)),
                                           streamID: stream, into: &out)
            return out + random.bytes(random.below(40))
        }
    }

    /// What the integration might do in between: respond, send, consume, reset, shut down.
    func randomAction(_ random: inout TestRandom, _ client: inout HTTP2TestClient) {
        let stream = UInt32(random.below(12))
        switch random.below(6) {
        case 0: try? client.session.sendHeaders(streamID: stream, fields: [HPACKHeaderField(name: ":status", value: "200")],
                                                endStream: random.below(2) == 0)
        case 1: _ = try? client.session.sendData(streamID: stream, [UInt8](repeating: 0x5a, count: random.below(70_000)), endStream: random.below(2) == 0)
        case 2: client.session.consumed(streamID: stream, count: random.below(100_000))
        case 3: client.session.resetStream(streamID: stream)
        case 4: if random.below(20) == 0 { client.session.startGracefulShutdown() }
        default: break
        }
    }

    @Test(arguments: 0..<8)
    func randomFramesNeverCrash(seed: Int) {
        var random = TestRandom(seed: UInt64(seed) + 1)
        var limits = HTTP2Limits()
        limits.maxConcurrentStreams = 4
        var client = HTTP2TestClient(limits: limits)
        _ = client.send(client.preface())
        var requests = 0, dataEvents = 0, connectionErrors = 0
        var nextStream: UInt32 = 1
        for _ in 0..<400 {
            var bytes: [UInt8] = []
            for _ in 0...random.below(3) { bytes += randomFrame(&random, &client, nextStream: &nextStream) }
            // Arbitrary read boundaries.
            var offset = 0
            while offset < bytes.count {
                let end = min(bytes.count, offset + 1 + random.below(64))
                for event in client.session.receive(Array(bytes[offset..<end]), now: UInt64(random.below(100_000))) {
                    switch event {
                    case .request: requests += 1
                    case .data: dataEvents += 1
                    case .connectionError: connectionErrors += 1
                    default: break
                    }
                }
                offset = end
            }
            randomAction(&random, &client)
            checkInvariants(&client, limits: limits)
            if client.session.terminalError != nil {
                client = HTTP2TestClient(limits: limits)   // a fresh connection; the client's HPACK state too
                _ = client.send(client.preface())
                nextStream = 1
            }
        }
        // The run must reach past the handshake, or it tests nothing.
        #expect(requests >= 100 && dataEvents >= 25 && connectionErrors >= 10, "\(requests) requests, \(dataEvents) data, \(connectionErrors) errors")
    }

    @Test(arguments: 0..<4)
    func randomBytesNeverCrash(seed: Int) {
        var random = TestRandom(seed: UInt64(seed) + 100)
        for _ in 0..<300 {
            var client = HTTP2TestClient()
            let prefix = random.below(2) == 0 ? client.preface() : []
            _ = client.session.receive(prefix + random.bytes(random.below(2000)))
            checkInvariants(&client, limits: HTTP2Limits())
        }
    }

    @Test func randomHPACKBlocksNeverCrashAndStayBounded() {
        var random = TestRandom(seed: 7)
        var decoder = HPACKDecoder(maxTableSize: 4096, maxHeaderListSize: 4096)
        for _ in 0..<5_000 {
            var block = random.bytes(random.below(64))
            if random.below(4) == 0, !block.isEmpty { block[0] = 0x40 }   // more literals with indexing
            if let decoded = try? decoder.decode(block) {
                #expect(decoded.fields.reduce(0) { $0 + $1.hpackSize } <= 4096)
            }
            #expect(decoder.table.size <= decoder.table.maxSize)
            if random.below(50) == 0 { decoder = HPACKDecoder(maxTableSize: 4096, maxHeaderListSize: 4096) }
        }
        for _ in 0..<5_000 {
            let bytes = random.bytes(random.below(32))
            if let decoded = try? HPACKHuffman.decode(bytes) {
                var again: [UInt8] = []
                HPACKHuffman.encode(decoded, into: &again)
                #expect(again == bytes, "a valid Huffman string re-encodes to itself")
            }
        }
    }
}
