import Testing
@testable import SwitchyardHTTP2

/// Connection setup, requests, responses and stream states (RFC 9113 §3.4, §5.1, §6.5, §6.7, §6.8, §8).
struct HTTP2ServerSessionTests {
    @Test func serverPrefaceAdvertisesLimitsAndExtendedConnect() {
        var client = HTTP2TestClient()
        let frames = client.received()
        guard case .settings(false, let settings)? = frames.first?.payload else {
            Issue.record("the server preface must start with SETTINGS")
            return
        }
        #expect(settings.contains(HTTP2Setting(HTTP2Setting.enableConnectProtocol, 1)))
        #expect(settings.contains(HTTP2Setting(HTTP2Setting.maxConcurrentStreams, 32)))
        #expect(settings.contains(HTTP2Setting(HTTP2Setting.enablePush, 0)))
        // The connection window raised to streams × stream window.
        #expect(frames.windowUpdates(0) == [UInt32(32 * 65_535 - 65_535)])
    }

    /// `receive(_:now:into:payloads:)` appends to the caller's arrays (the connection reuses them):
    /// the same events as the returning form, after what was there, DATA pointing past the bytes
    /// already in the payload buffer.
    @Test func receiveIntoAppendsTheSameEvents() {
        var a = HTTP2TestClient.connected(), b = HTTP2TestClient.connected()
        var bytes = a.headers(1, HTTP2TestClient.get("/a")) + a.headers(3, HTTP2TestClient.get("/b"), endStream: false)
        bytes += HTTP2TestClient.data(3, [1, 2, 3], endStream: true)
        _ = b.headers(1, HTTP2TestClient.get("/a")); _ = b.headers(3, HTTP2TestClient.get("/b"), endStream: false)   // same encoder state
        let returned = a.send(bytes)
        var events: [HTTP2Event] = [.windowOpened(streamID: 0)]
        events.reserveCapacity(8)
        var payloads: [UInt8] = [9, 9]
        bytes.withUnsafeBytes { b.session.receive($0, now: 0, into: &events, payloads: &payloads) }
        #expect(returned.count == 3 && events.count == 4)
        #expect(Array(events[0..<3]) == [.windowOpened(streamID: 0)] + returned[0..<2])
        #expect(returned.last == .data(streamID: 3, payload: 0..<3, endStream: true) && a.payloads == [1, 2, 3])
        #expect(events.last == .data(streamID: 3, payload: 2..<5, endStream: true) && payloads == [9, 9, 1, 2, 3])
    }

    /// `swapOutput` hands over exactly what `takeOutput` would, and the session writes on into the
    /// emptied array it got back (the connection trades the two buffers, never copying).
    @Test func swapOutputTradesBuffers() throws {
        var a = HTTP2TestClient.connected(), b = HTTP2TestClient.connected()
        let request = a.headers(1, HTTP2TestClient.get(), endStream: false) + HTTP2TestClient.frame(.ping(ack: false, opaque: 7), stream: 0)
        _ = b.headers(1, HTTP2TestClient.get(), endStream: false)   // same encoder state
        _ = a.send(request); _ = b.send(request)
        for client in [a, b] { #expect(!client.session.output.isEmpty, "the PING's ACK") }
        var spare: [UInt8] = []
        spare.reserveCapacity(100)
        a.session.swapOutput(&spare)
        #expect(spare == b.session.takeOutput() && a.session.output.isEmpty && a.session.output.capacity >= 100)
        try a.session.sendData(streamID: 1, [1, 2, 3], endStream: false)
        try b.session.sendData(streamID: 1, [1, 2, 3], endStream: false)
        spare.removeAll(keepingCapacity: true)
        a.session.swapOutput(&spare)
        #expect(spare == b.session.takeOutput() && !spare.isEmpty)
    }

    @Test func settingsAreAcknowledgedAndReported() {
        var client = HTTP2TestClient()
        _ = client.received()
        let events = client.send(client.preface(settings: [HTTP2Setting(HTTP2Setting.maxFrameSize, 32_768)]))
        #expect(events == [.settings([HTTP2Setting(HTTP2Setting.maxFrameSize, 32_768)])])
        #expect(client.received().map(\.payload) == [.settings(ack: true, [])])
        #expect(client.session.peerSettings.maxFrameSize == 32_768)
        #expect(client.session.isAwaitingSettingsAck)
        _ = client.send(HTTP2TestClient.frame(.settings(ack: true, []), stream: 0))
        #expect(!client.session.isAwaitingSettingsAck)
    }

    @Test func invalidPrefaceIsAConnectionError() {
        var client = HTTP2TestClient()
        _ = client.received()
        let events = client.send(Array("GET / HTTP/1.1\r\n\r\n".utf8))
        #expect(events.connectionError?.code == .protocolError)
        #expect(client.received().goAwayCode == .protocolError)
        #expect(client.canClose)
        #expect(client.send(client.preface()).isEmpty, "input after a connection error is ignored")
    }

    @Test func firstFrameMustBeSettings() {
        var client = HTTP2TestClient()
        let events = client.send(HTTP2Protocol.clientPreface + HTTP2TestClient.frame(.ping(ack: false, opaque: 1), stream: 0))
        #expect(events.connectionError?.code == .protocolError)
    }

    @Test func getRequestAndResponse() throws {
        var client = HTTP2TestClient.connected()
        let events = client.send(client.headers(1, HTTP2TestClient.get("/index.html") + [("accept", "*/*")]))
        #expect(events.count == 1)
        guard case .request(1, let head, true)? = events.first else {
            Issue.record("expected a request, got \(events)")
            return
        }
        #expect(head.method == "GET" && head.path == "/index.html" && head.authority == "example.com" && head.scheme == "https")
        #expect(head.first("accept") == "*/*" && !head.isExtendedConnect)
        try client.session.sendHeaders(streamID: 1, fields: [HPACKHeaderField(name: ":status", value: "200")], endStream: false)
        #expect(try client.session.sendData(streamID: 1, Array("hello".utf8), endStream: true) == 5)
        let frames = client.received()
        guard frames.count == 2, case .headers(let h) = frames[0].payload, case .data(let d) = frames[1].payload else {
            Issue.record("expected HEADERS and DATA, got \(frames)")
            return
        }
        #expect(client.decodeBlock(h.fragment).map(\.0) == [":status"] && h.endHeaders && !h.endStream)
        #expect(d.bytes == Array("hello".utf8) && d.endStream)
        #expect(client.session.activeStreamCount == 0, "both sides ended: the stream is closed")
        #expect(throws: HTTP2SendError.streamNotWritable(1)) { try client.session.sendData(streamID: 1, [1], endStream: false) }
    }

    @Test func byteByByteFeedingGivesTheSameEvents() {
        var whole = HTTP2TestClient()
        var input = whole.preface()
        input += whole.headers(1, HTTP2TestClient.get(), endStream: false)
        input += HTTP2TestClient.data(1, Array(repeating: 7, count: 300), padding: 10)
        input += HTTP2TestClient.data(1, [1, 2, 3], endStream: true)
        let expected = whole.send(input)
        var split = HTTP2TestClient()
        var events: [HTTP2Event] = []
        for byte in input { events += split.send([byte]) }
        // Data may arrive in more events when split; compare the concatenated stream.
        func flatten(_ events: [HTTP2Event], _ client: HTTP2TestClient) -> [String] {
            events.flatMap { event -> [String] in
                if case .data(let id, let range, let end) = event {
                    return client.bytes(range).map { "d\(id):\($0)" } + (end ? ["end"] : [])
                }
                return ["\(event)"]
            }
        }
        #expect(flatten(events, split) == flatten(expected, whole))
        #expect(whole.session.takeOutput() == split.session.takeOutput())
    }

    @Test func streamIdsMustBeOddAndIncreasing() {
        var client = HTTP2TestClient.connected()
        #expect(client.send(client.headers(2, HTTP2TestClient.get())).connectionError?.code == .protocolError)
        client = HTTP2TestClient.connected()
        _ = client.send(client.headers(5, HTTP2TestClient.get()))
        let events = client.send(client.headers(3, HTTP2TestClient.get()))
        #expect(events.connectionError != nil, "a lower stream id than one already used")
    }

    @Test func highestStreamIdIsUsableThenIdsAreExhausted() {
        var client = HTTP2TestClient.connected()
        #expect(client.send(client.headers(HTTP2Protocol.maxStreamID, HTTP2TestClient.get())).requests.count == 1)
        #expect(client.send(client.headers(1, HTTP2TestClient.get())).connectionError != nil)
    }

    @Test func maxConcurrentStreamsRefusesTheExtraStream() {
        var limits = HTTP2Limits()
        limits.maxConcurrentStreams = 2
        var client = HTTP2TestClient.connected(limits: limits)
        var events = client.send(client.headers(1, HTTP2TestClient.get(), endStream: false))
        events += client.send(client.headers(3, HTTP2TestClient.get(), endStream: false))
        events += client.send(client.headers(5, HTTP2TestClient.get(), endStream: false))
        #expect(events.requests.map(\.0) == [1, 3])
        #expect(client.received().resetCode(5) == .refusedStream)
        // A finished stream frees its slot.
        client.session.resetStream(streamID: 1)
        #expect(client.send(client.headers(7, HTTP2TestClient.get())).requests.map(\.0) == [7])
    }

    @Test func pingIsAnsweredWithTheSamePayload() {
        var client = HTTP2TestClient.connected()
        #expect(client.send(HTTP2TestClient.frame(.ping(ack: false, opaque: 0x0102_0304_0506_0708), stream: 0)).isEmpty)
        #expect(client.received().map(\.payload) == [.ping(ack: true, opaque: 0x0102_0304_0506_0708)])
        client.session.sendPing(opaque: 42)
        _ = client.received()
        #expect(client.send(HTTP2TestClient.frame(.ping(ack: true, opaque: 42), stream: 0)) == [.pingAcknowledged(opaque: 42)])
    }

    @Test func gracefulShutdownDrainsOpenStreams() throws {
        var client = HTTP2TestClient.connected()
        _ = client.send(client.headers(1, HTTP2TestClient.get()))
        client.session.startGracefulShutdown()
        let first = client.received()
        guard first.count == 2, case .goAway(HTTP2Protocol.maxStreamID, .noError, _) = first[0].payload,
              case .ping(false, let opaque) = first[1].payload else {
            Issue.record("expected GOAWAY(2^31-1) and PING, got \(first)")
            return
        }
        // A stream the client started before it saw the GOAWAY is still served.
        #expect(client.send(client.headers(3, HTTP2TestClient.get())).requests.map(\.0) == [3])
        _ = client.send(HTTP2TestClient.frame(.ping(ack: true, opaque: opaque), stream: 0))
        #expect(client.received().map(\.payload) == [.goAway(lastStreamID: 3, code: .noError, debugData: [])])
        var late = client.headers(5, HTTP2TestClient.get(), endStream: false)
        late += HTTP2TestClient.data(5, [1, 2, 3]) + client.headers(5, [("x-t", "1")], endStream: true)
        #expect(client.send(late).isEmpty, "streams after the final GOAWAY are ignored, frames and all")
        #expect(client.received().isEmpty)
        #expect(!client.canClose)
        for id: UInt32 in [1, 3] {
            try client.session.sendHeaders(streamID: id, fields: [HPACKHeaderField(name: ":status", value: "204")], endStream: true)
        }
        #expect(client.canClose)
    }

    @Test func priorityIsIgnoredButSelfDependencyIsAStreamError() {
        var client = HTTP2TestClient.connected()
        let priority = HTTP2Priority(exclusive: false, dependency: 0, weight: 16)
        #expect(client.send(HTTP2TestClient.frame(.priority(priority), stream: 9)).isEmpty)
        #expect(client.received().isEmpty)
        let selfDependent = HTTP2Priority(exclusive: true, dependency: 11, weight: 1)
        _ = client.send(HTTP2TestClient.frame(.priority(selfDependent), stream: 11))
        #expect(client.received().resetCode(11) == .protocolError)
        // A HEADERS frame with a priority block opens its stream as usual.
        let fragment = client.block(HTTP2TestClient.get())
        let headers = HTTP2HeadersPayload(fragment: fragment, endStream: true, endHeaders: true, priority: priority)
        #expect(client.send(HTTP2TestClient.frame(.headers(headers), stream: 13)).requests.map(\.0) == [13])
    }

    @Test func peerResetEndsTheStreamAndLaterDataIsAStreamError() {
        var client = HTTP2TestClient.connected()
        _ = client.send(client.headers(1, HTTP2TestClient.get(), endStream: false))
        #expect(client.send(HTTP2TestClient.frame(.rstStream(.cancel), stream: 1))
                == [.streamReset(streamID: 1, code: .cancel, byPeer: true)])
        #expect(client.session.activeStreamCount == 0)
        _ = client.send(HTTP2TestClient.data(1, [1]))
        #expect(client.received().resetCode(1) == .streamClosed)
        // RST_STREAM on an idle stream is a connection error (§6.4).
        #expect(client.send(HTTP2TestClient.frame(.rstStream(.cancel), stream: 99)).connectionError?.code == .protocolError)
    }

    @Test func dataAfterOurResetIsIgnored() {
        var client = HTTP2TestClient.connected()
        _ = client.send(client.headers(1, HTTP2TestClient.get(), endStream: false))
        client.session.resetStream(streamID: 1, code: .cancel)
        #expect(client.received().resetCode(1) == .cancel)
        #expect(client.send(HTTP2TestClient.data(1, [1, 2, 3])).isEmpty)
        #expect(client.received().resetCode(1) == nil)
    }

    @Test func continuationFramesAssembleOneHeaderBlock() {
        var client = HTTP2TestClient.connected()
        let block = client.block(HTTP2TestClient.get("/long") + [("x-a", String(repeating: "a", count: 100))])
        var bytes = HTTP2TestClient.frame(.headers(HTTP2HeadersPayload(fragment: Array(block[0..<10]), endStream: true,
                                                                       endHeaders: false)), stream: 1)
        bytes += HTTP2TestClient.frame(.continuation(fragment: Array(block[10..<20]), endHeaders: false), stream: 1)
        bytes += HTTP2TestClient.frame(.continuation(fragment: Array(block[20...]), endHeaders: true), stream: 1)
        let events = client.send(bytes)
        #expect(events.requests.first?.1.path == "/long")
        // Anything but CONTINUATION in the middle of a block is a connection error.
        var interleaved = HTTP2TestClient.frame(.headers(HTTP2HeadersPayload(fragment: [0x82], endStream: true, endHeaders: false)),
                                                stream: 3)
        interleaved += HTTP2TestClient.frame(.ping(ack: false, opaque: 0), stream: 0)
        #expect(client.send(interleaved).connectionError?.code == .protocolError)
    }

    @Test func oversizedFrameIsAFrameSizeError() {
        var client = HTTP2TestClient.connected()
        let events = client.send(HTTP2TestClient.data(1, [UInt8](repeating: 0, count: 16_385)))
        #expect(events.connectionError?.code == .frameSizeError)
    }

    @Test func trailersEndTheRequest() {
        var client = HTTP2TestClient.connected()
        _ = client.send(client.headers(1, [(":method", "POST")] + Array(HTTP2TestClient.get().dropFirst()), endStream: false))
        _ = client.send(HTTP2TestClient.data(1, [1, 2]))
        let events = client.send(client.headers(1, [("x-checksum", "abc")], endStream: true))
        #expect(events == [.trailers(streamID: 1, fields: [HPACKHeaderField(name: "x-checksum", value: "abc")])])
        // Trailers without END_STREAM are malformed.
        _ = client.send(client.headers(3, HTTP2TestClient.get(), endStream: false))
        _ = client.send(client.headers(3, [("x-a", "b")], endStream: false))
        #expect(client.received().resetCode(3) == .protocolError)
    }

    @Test func contentLengthMustMatchTheData() {
        var client = HTTP2TestClient.connected()
        _ = client.send(client.headers(1, HTTP2TestClient.get() + [("content-length", "3")], endStream: false))
        let events = client.send(HTTP2TestClient.data(1, [1, 2, 3, 4], endStream: true))
        #expect(events == [.streamReset(streamID: 1, code: .protocolError, byPeer: false)])
        _ = client.send(client.headers(3, HTTP2TestClient.get() + [("content-length", "3")], endStream: false))
        #expect(client.send(HTTP2TestClient.data(3, [1, 2, 3], endStream: true)).count == 1)
    }

    @Test func requestOverTheHeaderListSizeIsAnswered431() {
        var limits = HTTP2Limits()
        limits.maxHeaderListSize = 1024
        var client = HTTP2TestClient.connected(limits: limits)
        let events = client.send(client.headers(1, HTTP2TestClient.get() + [("x-big", String(repeating: "b", count: 2000))]))
        #expect(events.isEmpty)
        let frames = client.received()
        guard case .headers(let h)? = frames.first?.payload else {
            Issue.record("expected a 431 response, got \(frames)")
            return
        }
        #expect(client.decodeBlock(h.fragment).first! == (":status", "431") && h.endStream)
        // The connection (and its HPACK state) is fine.
        #expect(client.send(client.headers(3, HTTP2TestClient.get())).requests.map(\.0) == [3])
    }
}

/// Response header lists built from HTTP/1.1-style heads (RFC 9113 §8.2.2, §8.3.2).
struct HTTP2ResponseFieldsTests {
    @Test func connectionSpecificFieldsAreDroppedAndNamesLowercased() {
        let fields = HTTP2ResponseFields.make(status: 200, headers: [
            ("Content-Type", "text/html"), ("Connection", "close, X-Hop"), ("X-Hop", "1"), ("Keep-Alive", "timeout=5"),
            ("Transfer-Encoding", "chunked"), ("Upgrade", "h2c"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"),
            ("X-Bad", "a\r\nInjected: 1"),
        ])
        #expect(fields.map(\.description) == [":status: 200", "content-type: text/html", "set-cookie: a=1", "set-cookie: b=2"])
    }
}
