import Testing
@testable import SwitchyardHTTP2

/// Flow control (RFC 9113 §5.2, §6.9): credit follows consumption, a slow stream stalls only itself,
/// and what we send stays within the peer's windows.
struct HTTP2FlowControlTests {
    @Test func windowUpdateOnlyForWhatWasConsumed() {
        var client = HTTP2TestClient.connected()
        _ = client.send(client.headers(1, HTTP2TestClient.get(), endStream: false))
        for _ in 0..<3 { _ = client.send(HTTP2TestClient.data(1, [UInt8](repeating: 1, count: 16_000))) }
        #expect(client.received().isEmpty, "nothing consumed yet: no WINDOW_UPDATE")
        client.session.consumed(streamID: 1, count: 20_000)
        #expect(client.received().isEmpty, "below half the window: credit is batched")
        client.session.consumed(streamID: 1, count: 28_000)
        let frames = client.received()
        #expect(frames.windowUpdates(1) == [48_000])
        #expect(frames.windowUpdates(0).isEmpty, "the connection window is far from half used")
        // Over-reporting never inflates the window beyond what was received.
        client.session.consumed(streamID: 1, count: 1_000_000)
        #expect(client.received().windowUpdates(1).isEmpty)
    }

    @Test func dataBeyondTheStreamWindowIsAStreamError() {
        var client = HTTP2TestClient.connected()
        _ = client.send(client.headers(1, HTTP2TestClient.get(), endStream: false))
        for _ in 0..<4 { _ = client.send(HTTP2TestClient.data(1, [UInt8](repeating: 1, count: 16_000))) }
        let events = client.send(HTTP2TestClient.data(1, [UInt8](repeating: 1, count: 2_000)))
        #expect(events == [.streamReset(streamID: 1, code: .flowControlError, byPeer: false)])
        #expect(client.received().resetCode(1) == .flowControlError)
    }

    /// Many streams whose readers never read: each stops at its own window; a new stream still
    /// gets its whole window, because the connection window covers every stream's.
    @Test func slowStreamsDoNotStallOthers() {
        var limits = HTTP2Limits()
        limits.maxConcurrentStreams = 10
        var client = HTTP2TestClient.connected(limits: limits)
        let chunk = [UInt8](repeating: 9, count: 16_383)
        for id in stride(from: UInt32(1), through: 17, by: 2) {
            _ = client.send(client.headers(id, HTTP2TestClient.get(), endStream: false))
            for _ in 0..<4 { _ = client.send(HTTP2TestClient.data(id, chunk)) }   // 65 532 bytes: window full
        }
        _ = client.send(client.headers(19, HTTP2TestClient.get(), endStream: false))
        var received = 0
        for _ in 0..<4 {
            for event in client.send(HTTP2TestClient.data(19, chunk)) {
                if case .data(19, let range, _) = event { received += range.count }
            }
        }
        #expect(received == 4 * 16_383)
        #expect(client.session.terminalError == nil)
        #expect(client.received().isEmpty, "no credit for the streams nobody read")
    }

    @Test func connectionCreditReturnsWhenAResetStreamHeldUnreadData() {
        var limits = HTTP2Limits()
        limits.connectionWindow = 65_535
        var client = HTTP2TestClient.connected(limits: limits)
        _ = client.send(client.headers(1, HTTP2TestClient.get(), endStream: false))
        for _ in 0..<4 { _ = client.send(HTTP2TestClient.data(1, [UInt8](repeating: 1, count: 10_000))) }
        #expect(client.session.terminalError == nil)
        client.session.resetStream(streamID: 1)
        #expect(client.received().windowUpdates(0) == [40_000])
    }

    @Test func paddingIsCreditedWithoutTheConsumer() {
        var limits = HTTP2Limits()
        limits.initialStreamWindow = 1024
        var client = HTTP2TestClient.connected(limits: limits)
        _ = client.send(client.headers(1, HTTP2TestClient.get(), endStream: false))
        let events = client.send(HTTP2TestClient.data(1, [1, 2, 3], padding: 255) + HTTP2TestClient.data(1, [4], padding: 255))
        #expect(events.count == 2)
        // 3 + 1 (pad length) + 255 and 1 + 1 + 255 charged; the 512 bytes of padding are returned
        // without the consumer (half the window: one batched WINDOW_UPDATE).
        #expect(client.received().windowUpdates(1) == [512])
    }

    @Test func sendDataStopsAtThePeersWindowAndResumesAfterWindowUpdate() throws {
        var client = HTTP2TestClient.connected()
        _ = client.send(client.headers(1, HTTP2TestClient.get()))
        try client.session.sendHeaders(streamID: 1, fields: [HPACKHeaderField(name: ":status", value: "200")], endStream: false)
        let body = [UInt8](repeating: 5, count: 100_000)
        let sent = try client.session.sendData(streamID: 1, body, endStream: true)
        #expect(sent == 65_535)
        let frames = client.received()
        let sizes = frames.compactMap { frame -> Int? in if case .data(let d) = frame.payload { return d.bytes.count } else { return nil } }
        #expect(sizes == [16_384, 16_384, 16_384, 16_383], "split at SETTINGS_MAX_FRAME_SIZE")
        #expect(client.sendWindow(1) == 0)
        #expect(try client.session.sendData(streamID: 1, Array(body[sent...]), endStream: true) == 0)
        // Stream credit alone is not enough: the connection window is empty too.
        #expect(client.send(HTTP2TestClient.frame(.windowUpdate(increment: 50_000), stream: 1)) == [.windowOpened(streamID: 1)])
        #expect(client.sendWindow(1) == 0)
        #expect(client.send(HTTP2TestClient.frame(.windowUpdate(increment: 50_000), stream: 0)) == [.windowOpened(streamID: 0)])
        #expect(try client.session.sendData(streamID: 1, Array(body[sent...]), endStream: true) == 34_465)
        guard case .data(let last)? = client.received().last?.payload else { Issue.record("no DATA"); return }
        #expect(last.endStream)
        #expect(client.session.activeStreamCount == 0)
    }

    @Test func initialWindowSizeChangeMovesOpenStreams() throws {
        var client = HTTP2TestClient.connected()
        _ = client.send(client.headers(1, HTTP2TestClient.get()))
        _ = client.send(HTTP2TestClient.frame(.settings(ack: false, [HTTP2Setting(HTTP2Setting.initialWindowSize, 100)]), stream: 0))
        #expect(client.sendWindow(1) == 100)
        #expect(try client.session.sendData(streamID: 1, [UInt8](repeating: 0, count: 500), endStream: false) == 100)
        // Lowering it below what was already sent makes the window negative (§6.9.2).
        _ = client.send(HTTP2TestClient.frame(.settings(ack: false, [HTTP2Setting(HTTP2Setting.initialWindowSize, 50)]), stream: 0))
        #expect(client.sendWindow(1) == 0)
        _ = client.send(HTTP2TestClient.frame(.windowUpdate(increment: 60), stream: 1))
        #expect(client.sendWindow(1) == 10)
    }

    @Test func windowOverflowIsAFlowControlError() {
        var client = HTTP2TestClient.connected()
        _ = client.send(client.headers(1, HTTP2TestClient.get()))
        _ = client.send(HTTP2TestClient.frame(.windowUpdate(increment: 0x7fff_ffff), stream: 1))
        #expect(client.received().resetCode(1) == .flowControlError)
        let events = client.send(HTTP2TestClient.frame(.windowUpdate(increment: 0x7fff_ffff), stream: 0))
        #expect(events.connectionError?.code == .flowControlError)
    }

    /// A stall is time without flow-control progress, not time with bytes waiting: a reader that
    /// keeps granting a little window is never reported, however long its response waits; one
    /// that stops granting is, counted from its last progress. (Before, the first shortfall dated
    /// the stall for good: a slow but steady reader was reported as if it had stopped.)
    @Test func stallIsCountedFromTheLastProgress() throws {
        var client = HTTP2TestClient.connected(settings: [HTTP2Setting(HTTP2Setting.initialWindowSize, 10)])
        client.now = 1_000
        _ = client.send(client.headers(1, HTTP2TestClient.get()))
        try client.session.sendHeaders(streamID: 1, fields: [HPACKHeaderField(name: ":status", value: "200")], endStream: false)
        let body = [UInt8](repeating: 7, count: 100)
        var sent = try client.session.sendData(streamID: 1, body, endStream: false)
        #expect(sent == 10)
        for t: UInt64 in [4_000, 7_000, 10_000] {
            client.now = t
            _ = client.send(HTTP2TestClient.frame(.windowUpdate(increment: 10), stream: 1))
            sent += try client.session.sendData(streamID: 1, Array(body[sent...]), endStream: false)
            #expect(client.session.flowControlStalledStreams(longerThan: 5_000, now: t).isEmpty)
        }
        #expect(sent == 40)
        // No window now: nothing goes out, and the stall runs from the last progress (10 000).
        #expect(try client.session.sendData(streamID: 1, Array(body[sent...]), endStream: false) == 0)
        #expect(client.session.flowControlStalledStreams(longerThan: 5_000, now: 14_000).isEmpty)
        #expect(client.session.flowControlStalledStreams(longerThan: 5_000, now: 15_000) == [1])
    }
}
