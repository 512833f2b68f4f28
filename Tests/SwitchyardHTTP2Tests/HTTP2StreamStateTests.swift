import Testing
@testable import SwitchyardHTTP2

/// Frames in the wrong stream state (RFC 9113 §5.1, §5.4, §5.5, §6), h2spec-style: which are
/// stream errors, which end the connection, which are ignored.
struct HTTP2StreamStateTests {
    @Test func dataAfterEndStreamIsStreamClosed() {
        var client = HTTP2TestClient.connected()
        _ = client.send(client.headers(1, HTTP2TestClient.get(), endStream: true))
        let events = client.send(HTTP2TestClient.data(1, [1]))
        #expect(events == [.streamReset(streamID: 1, code: .streamClosed, byPeer: false)])
        #expect(client.received().resetCode(1) == .streamClosed)
        #expect(client.session.terminalError == nil)
    }

    @Test func headersOnAFinishedStreamIsAConnectionError() throws {
        var client = HTTP2TestClient.connected()
        _ = client.send(client.headers(1, HTTP2TestClient.get()))
        try client.session.sendHeaders(streamID: 1, fields: [HPACKHeaderField(name: ":status", value: "204")], endStream: true)
        #expect(client.send(client.headers(1, HTTP2TestClient.get())).connectionError?.code == .streamClosed)
    }

    /// §5.1.1 (h2spec 5.1.1-2): an id below one already used, never opened itself, is not a closed
    /// stream but a misnumbered new one: PROTOCOL_ERROR (it was STREAM_CLOSED before the fix).
    @Test func decreasingStreamIDIsAProtocolError() throws {
        var client = HTTP2TestClient.connected()
        _ = client.send(client.headers(5, HTTP2TestClient.get()))
        try client.session.sendHeaders(streamID: 5, fields: [HPACKHeaderField(name: ":status", value: "204")], endStream: true)
        let events = client.send(client.headers(3, HTTP2TestClient.get()))
        #expect(events.connectionError?.code == .protocolError)
        #expect(client.received().goAwayCode == .protocolError)
    }

    /// §3.4: over TLS with ALPN h2 the preface is mandatory; a wrong one (here split over two
    /// reads) ends the connection with PROTOCOL_ERROR, and so does a first frame that is not SETTINGS.
    @Test func invalidPrefaceOrFirstFrameIsAProtocolError() {
        var client = HTTP2TestClient()
        _ = client.received()
        _ = client.send(Array("PRI * HTTP/2.0\r\n".utf8))
        #expect(client.send(Array("\r\nXM\r\n\r\n".utf8)).connectionError?.code == .protocolError)
        #expect(client.received().goAwayCode == .protocolError)
        var second = HTTP2TestClient()
        _ = second.received()
        let ping = HTTP2TestClient.frame(.ping(ack: false, opaque: 1), stream: 0)
        #expect(second.send(HTTP2Protocol.clientPreface + ping).connectionError?.code == .protocolError)
    }

    @Test func framesOnIdleStreams() {
        for frame in [HTTP2TestClient.data(5, [1]), HTTP2TestClient.frame(.windowUpdate(increment: 1), stream: 5),
                      HTTP2TestClient.frame(.rstStream(.cancel), stream: 5)] {
            var client = HTTP2TestClient.connected()
            #expect(client.send(frame).connectionError?.code == .protocolError)
        }
        // PRIORITY may arrive for an idle stream (§5.1) and does not open it.
        var client = HTTP2TestClient.connected()
        _ = client.send(HTTP2TestClient.frame(.priority(HTTP2Priority(exclusive: false, dependency: 0, weight: 1)), stream: 5))
        #expect(client.send(client.headers(3, HTTP2TestClient.get())).requests.map(\.0) == [3])
    }

    @Test func pushPromiseFromAClientIsAProtocolError() {
        var client = HTTP2TestClient.connected()
        let events = client.send(HTTP2TestClient.frame(.pushPromise(promisedStreamID: 2, fragment: [0x82], endHeaders: true), stream: 1))
        #expect(events.connectionError?.code == .protocolError)
    }

    @Test func unknownFramesAndSettingsAreIgnored() {
        var client = HTTP2TestClient.connected()
        #expect(client.send(HTTP2TestClient.frame(.unknown(type: 0xbb, flags: 0xff, payload: [1, 2, 3]), stream: 0)).isEmpty)
        let settings = [HTTP2Setting(0x4242, 7)]
        #expect(client.send(HTTP2TestClient.frame(.settings(ack: false, settings), stream: 0)) == [.settings(settings)])
        #expect(client.received().map(\.payload) == [.settings(ack: true, [])])
        #expect(client.send(HTTP2TestClient.frame(.settings(ack: true, []), stream: 0)).isEmpty)
        #expect(client.received().isEmpty, "an ACK is not acknowledged")
    }

    @Test func invalidHPACKIsACompressionError() {
        var client = HTTP2TestClient.connected()
        let headers = HTTP2HeadersPayload(fragment: [0x80], endStream: true, endHeaders: true)   // index 0
        #expect(client.send(HTTP2TestClient.frame(.headers(headers), stream: 1)).connectionError?.code == .compressionError)
        #expect(client.received().goAwayCode == .compressionError)
    }

    @Test func peerGoAwayLetsOpenStreamsFinish() throws {
        var client = HTTP2TestClient.connected()
        _ = client.send(client.headers(1, HTTP2TestClient.get()))
        let events = client.send(HTTP2TestClient.frame(.goAway(lastStreamID: 0, code: .noError, debugData: []), stream: 0))
        #expect(events == [.goAway(lastStreamID: 0, code: .noError, debugData: [])])
        #expect(!client.canClose)
        try client.session.sendHeaders(streamID: 1, fields: [HPACKHeaderField(name: ":status", value: "200")], endStream: true)
        #expect(client.canClose)
    }

    @Test func lateFramesOnAStreamWeResetAreIgnored() {
        var client = HTTP2TestClient.connected()
        _ = client.send(client.headers(1, HTTP2TestClient.get(), endStream: false))
        client.session.resetStream(streamID: 1)
        _ = client.received()
        var late = HTTP2TestClient.frame(.windowUpdate(increment: 10), stream: 1)
        late += HTTP2TestClient.frame(.rstStream(.cancel), stream: 1)
        late += client.headers(1, [("x-trailer", "1")], endStream: true)
        #expect(client.send(late).isEmpty)
        #expect(client.session.terminalError == nil)
    }

    @Test func largeResponseHeadersUseContinuationAndTheTableSizeUpdate() throws {
        var client = HTTP2TestClient.connected(settings: [HTTP2Setting(HTTP2Setting.headerTableSize, 0)])
        _ = client.send(client.headers(1, HTTP2TestClient.get()))
        let big = String(repeating: "v", count: 40_000)
        try client.session.sendHeaders(streamID: 1, fields: HTTP2ResponseFields.make(status: 200, headers: [("X-Big", big)]),
                                       endStream: true)
        let frames = client.received()
        #expect(frames.count == 3, "40 KB of headers in 16 KB frames")
        var block: [UInt8] = []
        for (i, frame) in frames.enumerated() {
            switch frame.payload {
            case .headers(let h): block += h.fragment; #expect(i == 0 && !h.endHeaders && h.endStream)
            case .continuation(let fragment, let end): block += fragment; #expect(end == (i == 2))
            default: Issue.record("unexpected \(frame)")
            }
        }
        #expect(block.first == 0x20, "the block starts with the dynamic table size update to 0")
        #expect(client.decodeBlock(block).last! == ("x-big", big))
    }
}

/// `Upgrade: h2c` (RFC 7540 §3.2): HTTP2-Settings applied, the upgraded request is stream 1.
struct HTTP2UpgradeTests {
    @Test func upgradedSessionServesStreamOne() throws {
        // SETTINGS_INITIAL_WINDOW_SIZE = 1000, SETTINGS_MAX_CONCURRENT_STREAMS = 100, base64url without padding.
        var session = try HTTP2ServerSession(upgradeSettings: "AAQAAAPoAAMAAABk")
        #expect(session.peerSettings.initialWindowSize == 1000)
        guard case .settings(false, _)? = HTTP2TestClient.frames(session.takeOutput()).first?.payload else {
            Issue.record("the server preface must follow the 101")
            return
        }
        let window = session.sendWindow(streamID: 1)
        #expect(window == 1000)
        try session.sendHeaders(streamID: 1, fields: [HPACKHeaderField(name: ":status", value: "200")], endStream: false)
        #expect(try session.sendData(streamID: 1, [UInt8](repeating: 1, count: 5000), endStream: true) == 1000)
        // The client's preface comes next; new streams start at 3.
        var client = HTTP2TestClient()
        let events = session.receive(client.preface() + client.headers(3, HTTP2TestClient.get()))
        #expect(events.requests.map(\.0) == [3])
        let frames = HTTP2TestClient.frames(session.takeOutput())
        #expect(frames.contains { $0.payload == .settings(ack: true, []) })
        #expect(!frames.contains { $0.payload == .settings(ack: true, []) && $0.streamID != 0 })
    }

    @Test func invalidHTTP2SettingsIsRefused() {
        #expect(throws: HTTP2Error.self) { try HTTP2ServerSession(upgradeSettings: "AAQAAAPo!") }
        #expect(throws: HTTP2Error.self) { try HTTP2ServerSession(upgradeSettings: "AAQAAA") }   // 4 bytes
        #expect(throws: HTTP2Error.self) { try HTTP2ServerSession(upgradeSettings: "AAIAAAAC") }   // ENABLE_PUSH 2
        #expect((try? HTTP2ServerSession(upgradeSettings: "")) != nil, "an empty payload is valid")
    }

    /// The one in-place change `receiveData` makes per DATA frame: window, content-length count,
    /// END_STREAM; a failure leaves the phase as it was.
    @Test func oneStreamStateChangePerDataFrame() {
        var state = HTTP2StreamState(phase: .open, sendWindow: HTTP2SendWindow(100),
                                     receiveWindow: HTTP2ReceiveWindow(target: 50), declaredLength: 30)
        guard case .accepted = state.receiveData(length: 12, count: 10, endStream: false) else { Issue.record("accepted"); return }
        #expect(state.receivedLength == 10 && state.phase == .open && state.receiveWindow.available == 38)
        guard case .lengthMismatch(30, 25) = state.receiveData(length: 15, count: 15, endStream: true) else {
            Issue.record("25 of a declared 30 with END_STREAM is a mismatch"); return
        }
        #expect(state.phase == .open)
        guard case .beyondWindow = state.receiveData(length: 40, count: 5, endStream: true) else { Issue.record("window"); return }
        #expect(state.phase == .open)
        var exact = HTTP2StreamState(phase: .halfClosedLocal, sendWindow: HTTP2SendWindow(0),
                                     receiveWindow: HTTP2ReceiveWindow(target: 50), declaredLength: 5)
        guard case .accepted = exact.receiveData(length: 5, count: 5, endStream: true) else { Issue.record("exact"); return }
        #expect(exact.phase == .closed)

        // Sending: the window spent, a stall dated from the last progress, END_STREAM noted.
        state.sentData(60, of: 100, ends: false, now: 7)
        #expect(state.sendWindow.value == 40 && state.blockedSince == 7)
        state.sentData(0, of: 40, ends: false, now: 9)
        #expect(state.blockedSince == 7)   // no progress: the stall goes on from 7
        state.sentData(40, of: 40, ends: true, now: 11)
        #expect(state.sendWindow.value == 0 && state.blockedSince == nil && state.phase == .halfClosedLocal)
    }
}
