import Glibc
import Testing
@testable import SwitchyardWebSocket

@Suite struct WebSocketClientTests {
    @Test func echoSession() throws {
        let server = TestEchoServer(mode: .echo).start()
        var options = WebSocketClient.Options()
        options.origin = "http://localhost"
        options.extraHeaders = [("X-Trace", "abc")]
        let client = try WebSocketClient(url: server.url, options: options)
        #expect(client.handshake.status == 101)
        #expect(client.handshake.header("upgrade") == "websocket")

        let request = server.request
        #expect(request.hasPrefix("GET /echo?x=1 HTTP/1.1\r\n"))
        #expect(request.contains("\r\nHost: 127.0.0.1:\(server.port)\r\n"))
        #expect(request.contains("\r\nOrigin: http://localhost\r\n"))
        #expect(request.contains("\r\nX-Trace: abc\r\n"))
        #expect(request.contains("\r\nSec-WebSocket-Key: \(client.request.key)\r\n"))

        // Text and binary, small and large.
        try client.send(text: "héllo ☃")
        #expect(try client.receiveMessage() == .text("héllo ☃"))
        let big = (0..<70000).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        try client.send(.binary, big)
        #expect(try client.receiveMessage() == .binary(big))
        try client.send(.binary, [])
        #expect(try client.receiveMessage() == .binary([]))

        // Fragmented: echoed frame by frame, reassembled by receiveMessage.
        try client.send(.text, Array("Hel".utf8), fin: false)
        try client.send(.continuation, Array("lo".utf8), fin: true)
        #expect(try client.receiveMessage() == .text(hello))
        try client.send(.binary, [1, 2], fin: false)
        try client.send(.continuation, [3], fin: true)
        let first = try client.receiveFrame()
        #expect(first == WebSocketFrame(fin: false, opcode: .binary, payload: [1, 2]))
        #expect(try client.receiveFrame() == WebSocketFrame(fin: true, opcode: .continuation, payload: [3]))

        // A ping in the middle of a fragmented message comes back first.
        try client.send(.text, Array("a".utf8), fin: false)
        try client.send(.ping, Array("p".utf8))
        try client.send(.continuation, Array("b".utf8))
        #expect(try client.receiveMessage() == .pong(Array("p".utf8)))
        #expect(try client.receiveMessage() == .text("ab"))

        // Ping.
        try client.send(.ping, hello)
        #expect(try client.receiveMessage() == .pong(hello))

        // A frame split across writes.
        var raw: [UInt8] = []
        WebSocketFrameEncoder.encode(opcode: .text, payload: Array("split".utf8), maskKey: 0x1234_5678, into: &raw)
        try client.sendRaw(Array(raw[..<3]))
        usleep(20_000)
        try client.sendRaw(Array(raw[3...]))
        #expect(try client.receiveMessage() == .text("split"))

        #expect(client.maskedFramesReceived == 0)
        #expect(client.lastReceivedMaskKey == nil)

        // Close handshake.
        let reply = try client.close(code: 1000, reason: "bye")
        #expect(reply == .close(code: 1000, reason: Array("bye".utf8)))
        #expect(client.fileDescriptor == -1)
        #expect(server.waitUntilDone())
        do {
            try client.send(text: "after close")
            Issue.record("send after close succeeded")
        } catch {
            if case .closed = error {} else { Issue.record("unexpected \(error)") }
        }
    }

    @Test func badAccept() {
        let server = TestEchoServer(mode: .badAccept).start()
        do {
            _ = try WebSocketClient(url: server.url)
            Issue.record("handshake with a wrong accept succeeded")
        } catch {
            guard case .badAccept(let expected, let got) = error else { Issue.record("unexpected \(error)"); return }
            #expect(got == "AAAAAAAAAAAAAAAAAAAAAAAAAAA=")
            #expect(expected.count == 28)
        }
        #expect(server.waitUntilDone())
    }

    @Test func badAcceptIgnoredWhenNotChecked() throws {
        let server = TestEchoServer(mode: .badAccept).start()
        var options = WebSocketClient.Options()
        options.checkAccept = false
        let client = try WebSocketClient(url: server.url, options: options)
        try client.send(text: "x")
        #expect(try client.receiveMessage() == .text("x"))
        try client.close()
    }

    @Test func rejectedHandshake() {
        let server = TestEchoServer(mode: .reject).start()
        do {
            _ = try WebSocketClient(url: server.url)
            Issue.record("rejected handshake succeeded")
        } catch {
            guard case .handshakeRejected(let response) = error else { Issue.record("unexpected \(error)"); return }
            #expect(response.status == 403)
            #expect(response.statusLine == "HTTP/1.1 403 Forbidden")
        }
    }

    @Test func maskedServerFramesNeedLenient() throws {
        let strictServer = TestEchoServer(mode: .maskedLikeSeed).start()
        let strict = try WebSocketClient(url: strictServer.url)
        try strict.send(text: "hi")
        do {
            _ = try strict.receiveMessage()
            Issue.record("masked server frame accepted")
        } catch {
            guard case .protocolError(let e) = error else { Issue.record("unexpected \(error)"); return }
            #expect(e.closeCode == 1002)
        }
        strict.closeSocket()

        let server = TestEchoServer(mode: .maskedLikeSeed).start()
        var options = WebSocketClient.Options()
        options.lenient = true
        let client = try WebSocketClient(url: server.url, options: options)
        try client.send(text: "hi")
        #expect(try client.receiveMessage() == .text("hi"))
        #expect(client.maskedFramesReceived == 1)
        #expect(client.lastReceivedMaskKey != nil)
        try client.send(.ping, [7])
        #expect(try client.receiveMessage() == .pong([7]))
        // The seed's CLOSE payload is ASCII "1000".
        #expect(try client.close() == .close(code: 12592, reason: Array("00".utf8)))
    }

    @Test func timeoutAndHalfClose() throws {
        let server = TestEchoServer(mode: .silent).start()
        var options = WebSocketClient.Options()
        options.timeoutSeconds = 0.2
        do {
            _ = try WebSocketClient(url: server.url, options: options)
            Issue.record("silent server handshake succeeded")
        } catch {
            guard case .timeout = error else { Issue.record("unexpected \(error)"); return }
        }
        #expect(server.waitUntilDone())
    }

    @Test func peerEOFAfterHalfClose() throws {
        let server = TestEchoServer(mode: .echo).start()
        let client = try WebSocketClient(url: server.url)
        try client.send(text: "last")
        client.shutdownWrite()
        #expect(try client.receiveMessage() == .text("last"))
        do {
            _ = try client.receiveFrame()
            Issue.record("frame after EOF")
        } catch {
            guard case .closed = error else { Issue.record("unexpected \(error)"); return }
        }
        client.closeSocket()
    }

    @Test func connectFailures() {
        // A port with nothing listening: bind, read the port, close.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        let port = UInt16(bigEndian: addr.sin_port)
        close(fd)
        for url in ["ws://127.0.0.1:\(port)/", "http://127.0.0.1/", "ws://no-such-host.invalid:1/"] {
            do {
                _ = try WebSocketClient(url: url)
                Issue.record("connected to \(url)")
            } catch {
                guard case .connectFailed = error else { Issue.record("unexpected \(error)"); continue }
            }
        }
    }
}
