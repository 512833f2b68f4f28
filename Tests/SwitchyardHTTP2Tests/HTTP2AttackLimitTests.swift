import Testing
@testable import SwitchyardHTTP2

/// Each HTTP2Limits bound against its attack: the limit trips with GOAWAY ENHANCE_YOUR_CALM, and
/// traffic just under it (or spread over time) does not.
struct HTTP2AttackLimitTests {
    /// Rapid reset (CVE-2023-44487): open a stream, reset it, repeat.
    @Test func rapidResetEndsTheConnection() {
        var limits = HTTP2Limits()
        limits.maxResetsPerWindow = 50
        var client = HTTP2TestClient.connected(limits: limits)
        var error: HTTP2Error?
        var id: UInt32 = 1
        for _ in 0..<51 where error == nil {
            var bytes = client.headers(id, HTTP2TestClient.get(), endStream: false)
            bytes += HTTP2TestClient.frame(.rstStream(.cancel), stream: id)
            error = client.send(bytes).connectionError
            id += 2
        }
        #expect(error?.code == .enhanceYourCalm)
        #expect(id == 103, "tripped at the 51st reset")
        #expect(client.received().goAwayCode == .enhanceYourCalm)
    }

    @Test func resetsSpreadOverTimeAreFine() {
        var limits = HTTP2Limits()
        limits.maxResetsPerWindow = 50
        var client = HTTP2TestClient.connected(limits: limits)
        var id: UInt32 = 1
        for round in 0..<4 {
            client.now = UInt64(round) * limits.resetWindowMilliseconds
            for _ in 0..<50 {
                var bytes = client.headers(id, HTTP2TestClient.get(), endStream: false)
                bytes += HTTP2TestClient.frame(.rstStream(.cancel), stream: id)
                #expect(client.send(bytes).connectionError == nil)
                id += 2
            }
            _ = client.session.takeOutput()
        }
    }

    /// Refused streams count too: opening past MAX_CONCURRENT_STREAMS over and over is the same attack.
    @Test func refusedStreamsCountAsResets() {
        var limits = HTTP2Limits()
        limits.maxConcurrentStreams = 1
        limits.maxResetsPerWindow = 10
        var client = HTTP2TestClient.connected(limits: limits)
        _ = client.send(client.headers(1, HTTP2TestClient.get(), endStream: false))
        var error: HTTP2Error?
        for i in 1...11 where error == nil { error = client.send(client.headers(UInt32(1 + 2 * i), HTTP2TestClient.get())).connectionError }
        #expect(error?.code == .enhanceYourCalm)
    }

    /// CONTINUATION flood: a header block that never ends, in many small frames.
    @Test func continuationFloodByFrameCount() {
        var client = HTTP2TestClient.connected()
        var bytes = HTTP2TestClient.frame(.headers(HTTP2HeadersPayload(fragment: [0x82], endStream: true, endHeaders: false)), stream: 1)
        for _ in 0..<32 { bytes += HTTP2TestClient.frame(.continuation(fragment: [], endHeaders: false), stream: 1) }
        #expect(client.send(bytes).connectionError == nil, "32 CONTINUATION frames are allowed")
        let events = client.send(HTTP2TestClient.frame(.continuation(fragment: [], endHeaders: false), stream: 1))
        #expect(events.connectionError?.code == .enhanceYourCalm)
    }

    @Test func continuationFloodByBlockSize() {
        var limits = HTTP2Limits()
        limits.maxHeaderBlockSize = 40_000
        var client = HTTP2TestClient.connected(limits: limits)
        var bytes = HTTP2TestClient.frame(.headers(HTTP2HeadersPayload(fragment: [0x82], endStream: true, endHeaders: false)), stream: 1)
        let filler = [UInt8](repeating: 0x82, count: 16_000)
        bytes += HTTP2TestClient.frame(.continuation(fragment: filler, endHeaders: false), stream: 1)
        bytes += HTTP2TestClient.frame(.continuation(fragment: filler, endHeaders: false), stream: 1)
        #expect(client.send(bytes).connectionError == nil)
        let events = client.send(HTTP2TestClient.frame(.continuation(fragment: filler, endHeaders: true), stream: 1))
        #expect(events.connectionError?.code == .enhanceYourCalm)
    }

    /// SETTINGS flood: every SETTINGS needs an ACK; a peer that never reads fills our output.
    @Test func settingsFloodWithoutReading() {
        var limits = HTTP2Limits()
        limits.maxQueuedControlFrames = 100
        var client = HTTP2TestClient.connected(limits: limits)
        let settings = HTTP2TestClient.frame(.settings(ack: false, []), stream: 0)
        var flood: [UInt8] = []
        for _ in 0..<100 { flood += settings }
        #expect(client.send(flood).connectionError == nil)
        _ = client.session.takeOutput()   // the I/O layer wrote them: the count starts again
        #expect(client.send(flood).connectionError == nil)
        #expect(client.send(settings).connectionError?.code == .enhanceYourCalm)
    }

    @Test func pingFloodWithoutReading() {
        var limits = HTTP2Limits()
        limits.maxQueuedControlFrames = 100
        var client = HTTP2TestClient.connected(limits: limits)
        var flood: [UInt8] = []
        for i in 0..<101 { flood += HTTP2TestClient.frame(.ping(ack: false, opaque: UInt64(i)), stream: 0) }
        #expect(client.send(flood).connectionError?.code == .enhanceYourCalm)
        // What was queued before the limit is still valid output, ending in GOAWAY.
        let frames = client.received()
        #expect(frames.count == 101 && frames.goAwayCode == .enhanceYourCalm)
    }

    @Test func emptyDataFrameFlood() {
        var limits = HTTP2Limits()
        limits.maxEmptyDataFramesPerWindow = 100
        var client = HTTP2TestClient.connected(limits: limits)
        _ = client.send(client.headers(1, HTTP2TestClient.get(), endStream: false))
        var flood: [UInt8] = []
        for _ in 0..<100 { flood += HTTP2TestClient.data(1, []) }
        #expect(client.send(flood).connectionError == nil)
        #expect(client.send(HTTP2TestClient.data(1, [])).connectionError?.code == .enhanceYourCalm)
    }

    /// HPACK bomb through the session: the request is answered 431, memory stays bounded and the
    /// connection goes on.
    @Test func hpackBombIsAnswered431() {
        var limits = HTTP2Limits()
        limits.maxHeaderListSize = 16 << 10
        var client = HTTP2TestClient.connected(limits: limits)
        var block = client.block(HTTP2TestClient.get())
        block += [0x40, 0x01, 0x78]
        HPACKPrimitives.appendInteger(3000, prefixBits: 7, flags: 0, into: &block)
        block += [UInt8](repeating: 0x61, count: 3000)
        block += [UInt8](repeating: 0xbe, count: 10_000)
        let events = client.send(HTTP2TestClient.frame(.headers(HTTP2HeadersPayload(fragment: block, endStream: true,
                                                                                     endHeaders: true)), stream: 1))
        #expect(events.isEmpty)
        guard case .headers(let h)? = client.received().first?.payload else { Issue.record("no 431"); return }
        #expect(client.decodeBlock(h.fragment).first! == (":status", "431"))
        #expect(client.session.terminalError == nil)
    }

    /// Zero-window stall: the client grants no window, so responses wait; the session names the
    /// streams stalled too long, and forgets a stall once the window opened and the bytes went out.
    @Test func zeroWindowStallsAreReported() throws {
        var client = HTTP2TestClient.connected(settings: [HTTP2Setting(HTTP2Setting.initialWindowSize, 0)])
        client.now = 1_000
        for id: UInt32 in [1, 3, 5] {
            _ = client.send(client.headers(id, HTTP2TestClient.get()))
            try client.session.sendHeaders(streamID: id, fields: [HPACKHeaderField(name: ":status", value: "200")], endStream: false)
            #expect(try client.session.sendData(streamID: id, [1, 2, 3], endStream: true) == 0)
        }
        #expect(client.session.flowControlStalledStreams(longerThan: 5_000, now: 3_000).isEmpty)
        #expect(client.session.flowControlStalledStreams(longerThan: 5_000, now: 7_000) == [1, 3, 5])
        client.now = 7_000
        _ = client.send(HTTP2TestClient.frame(.windowUpdate(increment: 3), stream: 3))
        #expect(try client.session.sendData(streamID: 3, [1, 2, 3], endStream: true) == 3)
        #expect(client.session.flowControlStalledStreams(longerThan: 5_000, now: 7_000) == [1, 5])
    }

    /// Stream-id exhaustion the polite way: after maxStreamsPerConnection streams the session starts
    /// a graceful GOAWAY, so the client moves to a new connection long before 2^31.
    @Test func streamBudgetStartsGracefulShutdown() {
        var limits = HTTP2Limits()
        limits.maxStreamsPerConnection = 3
        var client = HTTP2TestClient.connected(limits: limits)
        for id: UInt32 in [1, 3] { _ = client.send(client.headers(id, HTTP2TestClient.get())) }
        #expect(client.received().goAwayCode == nil)
        _ = client.send(client.headers(5, HTTP2TestClient.get()))
        #expect(client.received().goAwayCode == .noError)
    }
}
