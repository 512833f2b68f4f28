import Testing
import SwitchyardHTTP2
@testable import SwitchyardBenchCore

/// The bench's RFC 8441 client (`H2WebSocketClient`) against frames built with the gateway's own
/// encoder, and the h2 rows' parsing of h2load output and `h2ws` JSON.
@Suite struct H2ClientTests {
    /// Every frame in `bytes` (after the preface when `skipPreface`).
    static func frames(_ bytes: [UInt8], skipPreface: Bool = false) throws -> [HTTP2Frame] {
        var rest = Array(bytes.dropFirst(skipPreface ? HTTP2Protocol.clientPreface.count : 0))
        var out: [HTTP2Frame] = []
        let decoder = HTTP2FrameDecoder(maxFrameSize: 1 << 20)
        while let (frame, n) = try decoder.decode(rest) {
            out.append(frame)
            rest.removeFirst(n)
        }
        #expect(rest.isEmpty)
        return out
    }

    static func serverBytes(_ frames: [HTTP2Frame]) -> [UInt8] {
        var out: [UInt8] = []
        for f in frames { HTTP2FrameEncoder.encode(f, into: &out) }
        return out
    }

    static func receive(_ client: inout H2WebSocketClient, _ frames: [HTTP2Frame]) throws -> [H2WebSocketClient.Event] {
        let bytes = serverBytes(frames)
        return try bytes.withUnsafeBytes { raw in try client.receive(raw) }
    }

    /// A client past the server's SETTINGS (connect protocol on) with one WebSocket stream open.
    static func openClient(window: UInt32 = 65_535) throws -> (H2WebSocketClient, UInt32) {
        var c = H2WebSocketClient(receiveWindow: 1 << 20)
        _ = c.takeOutput()
        let events = try receive(&c, [HTTP2Frame(streamID: 0, payload: .settings(ack: false, [
            HTTP2Setting(HTTP2Setting.enableConnectProtocol, 1), HTTP2Setting(HTTP2Setting.initialWindowSize, window)]))])
        #expect(events == [.settings])
        #expect(try frames(c.takeOutput()) == [HTTP2Frame(streamID: 0, payload: .settings(ack: true, []))])
        let id = try c.openWebSocket(authority: "127.0.0.1:443", path: "/cgi/echo")
        _ = c.takeOutput()
        return (c, id)
    }

    @Test func prefaceSettingsAndConnectionWindow() throws {
        var c = H2WebSocketClient(receiveWindow: 1 << 20)
        let out = c.takeOutput()
        #expect(Array(out.prefix(HTTP2Protocol.clientPreface.count)) == HTTP2Protocol.clientPreface)
        let f = try Self.frames(out, skipPreface: true)
        #expect(f == [HTTP2Frame(streamID: 0, payload: .settings(ack: false, [HTTP2Setting(HTTP2Setting.enablePush, 0),
                                                                             HTTP2Setting(HTTP2Setting.initialWindowSize, 1 << 20)])),
                      HTTP2Frame(streamID: 0, payload: .windowUpdate(increment: UInt32((1 << 20) - 65_535)))])
        #expect(c.takeOutput().isEmpty)
    }

    @Test func extendedConnectWaitsForTheServerAndCarriesTheProtocol() throws {
        var c = H2WebSocketClient()
        #expect(throws: H2WebSocketClient.Failure.self) { try c.openWebSocket(authority: "a", path: "/") }
        _ = try Self.receive(&c, [HTTP2Frame(streamID: 0, payload: .settings(ack: false, [HTTP2Setting(HTTP2Setting.enableConnectProtocol, 1)]))])
        _ = c.takeOutput()
        let id = try c.openWebSocket(authority: "127.0.0.1:8443", path: "/cgi/echo")
        #expect(id == 1)
        #expect(try c.openWebSocket(authority: "127.0.0.1:8443", path: "/cgi/echo") == 3)
        guard case .headers(let h) = try Self.frames(c.takeOutput()).first?.payload else { Issue.record("no HEADERS"); return }
        #expect(h.endHeaders && !h.endStream)
        var decoder = HPACKDecoder()
        let fields = try decoder.decode(h.fragment).fields.map { "\($0.nameString)=\($0.valueString)" }
        #expect(fields == [":method=CONNECT", ":protocol=websocket", ":scheme=https", ":path=/cgi/echo",
                           ":authority=127.0.0.1:8443", "sec-websocket-version=13"])
    }

    @Test func responseMessagesAcrossFramesAndPingAck() throws {
        var (c, id) = try Self.openClient()
        var block: [UInt8] = []
        var encoder = HPACKEncoder()
        encoder.encode([HPACKHeaderField(name: Array(":status".utf8), value: Array("200".utf8))], into: &block)
        // Two server messages, the second split over two DATA frames.
        let wire: [UInt8] = [0x82, 3, 1, 2, 3, 0x81, 2] + Array("hi".utf8)
        let events = try Self.receive(&c, [
            HTTP2Frame(streamID: id, payload: .headers(HTTP2HeadersPayload(fragment: block, endStream: false, endHeaders: true))),
            HTTP2Frame(streamID: id, payload: .data(HTTP2DataPayload(bytes: Array(wire.prefix(7)), endStream: false))),
            HTTP2Frame(streamID: 0, payload: .ping(ack: false, opaque: 42)),
            HTTP2Frame(streamID: id, payload: .data(HTTP2DataPayload(bytes: Array(wire.dropFirst(7)), endStream: false))),
        ])
        #expect(events == [.opened(stream: id, status: 200), .message(stream: id, payload: [1, 2, 3]), .message(stream: id, payload: Array("hi".utf8))])
        #expect(try Self.frames(c.takeOutput()) == [HTTP2Frame(streamID: 0, payload: .ping(ack: true, opaque: 42))])
        let end = try Self.receive(&c, [HTTP2Frame(streamID: id, payload: .data(HTTP2DataPayload(bytes: [], endStream: true)))])
        #expect(end == [.closed(stream: id, code: nil)])
        #expect(c.openStreams == 0)
    }

    @Test func sendsMaskedMessagesWithinThePeersWindow() throws {
        var (c, id) = try Self.openClient(window: 10)
        c.send(message: Array(repeating: 0x41, count: 20), on: id, maskKey: 0x0102_0304)
        let first = try Self.frames(c.takeOutput())
        #expect(first == [HTTP2Frame(streamID: id, payload: .data(HTTP2DataPayload(bytes: Array(Self.maskedWire.prefix(10)), endStream: false)))])
        _ = try Self.receive(&c, [HTTP2Frame(streamID: id, payload: .windowUpdate(increment: 100))])
        let rest = try Self.frames(c.takeOutput())
        #expect(rest == [HTTP2Frame(streamID: id, payload: .data(HTTP2DataPayload(bytes: Array(Self.maskedWire.dropFirst(10)), endStream: false)))])
        let parsed = H2WebSocketClient.parseFrame(Self.maskedWire)
        #expect(parsed?.opcode == 2 && parsed?.payload == Array(repeating: 0x41, count: 20) && parsed?.consumed == 26)
    }

    static let maskedWire: [UInt8] = H2WebSocketClient.maskedFrame(opcode: 2, payload: Array(repeating: 0x41, count: 20), maskKey: 0x0102_0304)

    @Test func webSocketFrameLengths() {
        let long = H2WebSocketClient.maskedFrame(opcode: 2, payload: Array(repeating: 7, count: 70_000), maskKey: 9)
        #expect(long[1] == 0x80 | 127 && long.count == 2 + 8 + 4 + 70_000)
        #expect(H2WebSocketClient.parseFrame(long)?.payload == Array(repeating: 7, count: 70_000))
        #expect(H2WebSocketClient.parseFrame(Array(long.dropLast())) == nil)
        let mid: [UInt8] = [0x82, 126, 0x01, 0x00] + Array(repeating: 5, count: 256)
        #expect(H2WebSocketClient.parseFrame(mid)?.payload.count == 256)
        #expect(H2WebSocketClient.parseFrame([0x82]) == nil)
    }

    @Test func windowUpdatesEveryHalfWindowAndResetEndsTheStream() throws {
        var (c, id) = try Self.openClient()
        let chunk = [0x82, 126, 0x3F, 0xFC] + [UInt8](repeating: 1, count: 0x3FFC)   // 16 KiB DATA, one message
        var messages = 0
        for _ in 0..<32 {   // 32 x 16 KiB: half of the 1 MiB window, once
            let events = try Self.receive(&c, [HTTP2Frame(streamID: id, payload: .data(HTTP2DataPayload(bytes: chunk, endStream: false)))])
            messages += events.count
        }
        #expect(messages == 32)
        let updates = try Self.frames(c.takeOutput())
        #expect(updates == [HTTP2Frame(streamID: 0, payload: .windowUpdate(increment: 1 << 19)),
                            HTTP2Frame(streamID: id, payload: .windowUpdate(increment: 1 << 19))])
        #expect(try Self.receive(&c, [HTTP2Frame(streamID: id, payload: .rstStream(.cancel))]) == [.closed(stream: id, code: .cancel)])
    }

    @Test func aBrokenFrameIsAFailure() {
        var c = H2WebSocketClient()
        let bad: [UInt8] = [0, 0, 3, HTTP2FrameType.windowUpdate, 0, 0, 0, 0, 0, 1, 2, 3]   // WINDOW_UPDATE of 3 bytes
        #expect(throws: H2WebSocketClient.Failure.self) { _ = try bad.withUnsafeBytes { try c.receive($0) } }
    }

    static let h2loadText = """
    Application protocol: h2
    finished in 1.49s, 3647.33 req/s, 3.68MB/s
    requests: 5471 total, 5503 started, 5471 done, 5471 succeeded, 0 failed, 0 errored, 0 timeout
    status codes: 5472 2xx, 0 3xx, 0 4xx, 0 5xx
    """

    @Test func h2loadOutput() {
        let h = H2LoadOutput.parse(Self.h2loadText)
        #expect(h == H2LoadOutput(requestsPerSecond: 3647.33, done: 5471, succeeded: 5471, failures: 0, status2xx: 5472, applicationProtocol: "h2"))
        #expect(h?.failure == nil)
        let failed = H2LoadOutput.parse(Self.h2loadText.replacingOccurrences("0 errored", "2 errored").replacingOccurrences("0 4xx", "3 4xx"))
        #expect(failed?.failure == "2 failed/errored/timed out, 3 not 2xx of 5471")
        #expect(H2LoadOutput.parse(Self.h2loadText.replacingOccurrences("Application protocol: h2", "Application protocol: http/1.1"))?.failure
                == "not HTTP/2 over TLS (application protocol http/1.1)")
        #expect(H2LoadOutput.parse("finished in 1.00s, 0.00 req/s, 0B/s\n") == nil)
    }

    @Test func h2wsFiguresAndArguments() throws {
        let ok = CompareH2Workload.webSocket.figures(json: ["messages_per_sec": "12000.5", "server_cpu_us_per_message": "20.5", "errors": "0"],
                                                     exitCode: 0, stderr: "")
        #expect(try ok.get() == [CompareH2Workload.Column.webSocketRate: 12000.5, CompareH2Workload.Column.cpuPerMessage: 20.5])
        let hold = CompareH2Workload.hold.figures(json: ["server_rss_kib_per_stream": "3.25", "errors": "0"], exitCode: 0, stderr: "")
        #expect(try hold.get() == [CompareH2Workload.Column.idleMemory: 3.25])
        if case .success = CompareH2Workload.webSocket.figures(json: ["errors": "1"], exitCode: 1, stderr: "switchyard-bench: GOAWAY") {
            Issue.record("an error must fail the run")
        }
        #expect(CompareH2Workload.webSocket.benchArguments(duration: 1.5, warmup: 0.5)
                == ["h2ws", "--connections", "2", "--streams", "8", "--size", "64", "-d", "1.50", "-w", "0.50"])
        #expect(CompareH2Workload.h2loadArguments(duration: 1.5) == ["-t", "1", "-c", "4", "-m", "8", "-D", "1500ms"])
        #expect(CompareH2Workload.staticBody.utf8.count == 1024)
    }
}

extension String {
    /// Test helper (no Foundation): every `target` replaced.
    func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        var out = "", rest = self[...]
        while let r = rest.firstRange(of: target) {
            out += rest[..<r.lowerBound] + replacement
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}
