import Testing
@testable import SwitchyardWebSocket

@Suite struct WebSocketClientHandshakeTests {
    let handshake = WebSocketClientHandshake(host: "example.com:8080", path: "/chat?x=1", origin: "http://example.com",
                                             key: "dGhlIHNhbXBsZSBub25jZQ==", extraHeaders: [("X-Test", "1")],
                                             subprotocols: ["chat", "superchat"])

    func parse(_ s: String) -> WebSocketClientHandshake.ParseResult {
        WebSocketClientHandshake.parseResponse(Array(s.utf8))
    }

    func response(_ s: String) throws -> WebSocketHandshakeResponse {
        guard case .done(let r, _) = parse(s) else { throw WebSocketProtocolError(closeCode: 0, reason: "not done") }
        return r
    }

    @Test func requestBytes() {
        let request = String(decoding: handshake.requestBytes(), as: UTF8.self)
        #expect(request == "GET /chat?x=1 HTTP/1.1\r\nHost: example.com:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: http://example.com\r\n"
                + "Sec-WebSocket-Protocol: chat, superchat\r\nX-Test: 1\r\n\r\n")
        let minimal = WebSocketClientHandshake(host: "h:80", path: "", origin: nil, key: "k")
        #expect(String(decoding: minimal.requestBytes(), as: UTF8.self).hasPrefix("GET / HTTP/1.1\r\nHost: h:80\r\n"))
        #expect(!String(decoding: minimal.requestBytes(), as: UTF8.self).contains("Origin"))
    }

    @Test func parsesRFCResponseAndKeepsTrailingFrameBytes() throws {
        let head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n"
        let bytes = Array(head.utf8) + [0x81, 0x05] + hello
        guard case .done(let r, let consumed) = WebSocketClientHandshake.parseResponse(bytes) else {
            Issue.record("not parsed"); return
        }
        #expect(consumed == head.utf8.count)
        #expect(r.status == 101)
        #expect(r.statusLine == "HTTP/1.1 101 Switching Protocols")
        #expect(r.headers.count == 4)
        #expect(r.header("sec-websocket-accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        #expect(r.rawHead == head)
        #expect(handshake.validate(r) == nil)
    }

    @Test func needsMoreUntilBlankLine() {
        let head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"
        let bytes = Array(head.utf8)
        for n in 0..<bytes.count {
            #expect(WebSocketClientHandshake.parseResponse(Array(bytes[..<n])) == .needMore, "prefix \(n)")
        }
    }

    @Test func bareLineFeedsAndOddSpacing() throws {
        let r = try response("HTTP/1.0 101 \nupgrade:WebSocket\nCONNECTION:  keep-alive, Upgrade\t\nX-Folded: a\n  b\n\n")
        #expect(r.status == 101)
        #expect(r.header("Upgrade") == "WebSocket")
        #expect(r.header("Connection") == "keep-alive, Upgrade")
        #expect(r.header("x-folded") == "a b")
        let h = WebSocketClientHandshake(host: "h", path: "/", origin: nil, key: "dGhlIHNhbXBsZSBub25jZQ==")
        #expect(h.validate(r, checkAccept: false) == nil)
    }

    @Test func invalidHeads() {
        #expect(parse("SSH-2.0-OpenSSH\r\n\r\n") != .needMore)
        if case .invalid = parse("HTTP/1.1 1O1 Oops\r\n\r\n") {} else { Issue.record("bad status accepted") }
        if case .invalid = parse("HTTP/1.1 101 OK\r\nNoColon\r\n\r\n") {} else { Issue.record("header without colon accepted") }
        if case .invalid = parse("HTTP/1.1 101 OK\r\nBad Name: x\r\n\r\n") {} else { Issue.record("space in name accepted") }
        if case .invalid = parse("\r\n\r\n") {} else { Issue.record("empty head accepted") }
        if case .invalid = parse("garbage") {} else { Issue.record("non-HTTP prefix not rejected early") }
        let huge = "HTTP/1.1 101 OK\r\nX: " + String(repeating: "a", count: 70000)
        if case .invalid = parse(huge) {} else { Issue.record("oversized head accepted") }
    }

    @Test func validateRules() throws {
        let h = WebSocketClientHandshake(host: "h", path: "/", origin: nil, key: "dGhlIHNhbXBsZSBub25jZQ==", subprotocols: ["chat"])
        let good = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
        #expect(h.validate(try response("HTTP/1.1 101 Switching Protocols\r\n" + good + "\r\n")) == nil)
        #expect(h.validate(try response("HTTP/1.1 200 OK\r\n" + good + "\r\n")) != nil)
        #expect(h.validate(try response("HTTP/1.1 101 X\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")) != nil)
        #expect(h.validate(try response("HTTP/1.1 101 X\r\nUpgrade: h2c\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")) != nil)
        #expect(h.validate(try response("HTTP/1.1 101 X\r\nUpgrade: websocket\r\nConnection: close\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")) != nil)
        let badAccept = try response("HTTP/1.1 101 X\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAA\r\n\r\n")
        #expect(h.validate(badAccept)?.contains("Sec-WebSocket-Accept") == true)
        #expect(h.validate(badAccept, checkAccept: false) == nil)
        #expect(h.validate(try response("HTTP/1.1 101 X\r\n" + good + "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n")) != nil)
        #expect(h.validate(try response("HTTP/1.1 101 X\r\n" + good + "Sec-WebSocket-Protocol: chat\r\n\r\n")) == nil)
        #expect(h.validate(try response("HTTP/1.1 101 X\r\n" + good + "Sec-WebSocket-Protocol: other\r\n\r\n")) != nil)
    }

    @Test func seedWsEchoStyleResponseValidates() throws {
        // As the gateway relays ws_echo.py: Upgrade with capital W and S plus the non-RFC headers.
        let r = try response("HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Origin: http://x\r\nSec-WebSocket-Location: ws://x/ws/ws_echo.py\r\n"
            + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
        let h = WebSocketClientHandshake(host: "x", path: "/ws/ws_echo.py", origin: "http://x", key: "dGhlIHNhbXBsZSBub25jZQ==")
        #expect(h.validate(r) == nil)
        #expect(r.header("Sec-WebSocket-Location") == "ws://x/ws/ws_echo.py")
    }
}

@Suite struct WebSocketURLTests {
    @Test func parses() throws {
        let a = try #require(WebSocketURL(string: "ws://127.0.0.1:8080/path?x"))
        #expect(a.host == "127.0.0.1" && a.port == 8080 && a.path == "/path?x" && a.hostHeader == "127.0.0.1:8080")
        let b = try #require(WebSocketURL(string: "ws://[::1]:9000"))
        #expect(b.host == "::1" && b.port == 9000 && b.path == "/" && b.hostHeader == "[::1]:9000")
        let c = try #require(WebSocketURL(string: "WS://localhost?q=1#frag"))
        #expect(c.host == "localhost" && c.port == 80 && c.path == "/?q=1" && c.hostHeader == "localhost:80")
        #expect(!a.secure && !c.secure)
        let d = try #require(WebSocketURL(string: "WSS://localhost/echo"))
        #expect(d.secure && d.port == 443 && d.path == "/echo" && d.hostHeader == "localhost:443")
        let e = try #require(WebSocketURL(string: "wss://127.0.0.1:8443"))
        #expect(e.secure && e.port == 8443 && e.path == "/")
    }

    @Test func rejects() {
        for s in ["http://x/", "https://x/", "wss://", "wss://:443/", "ws://", "ws://:80/", "ws://h:0/", "ws://h:99999/", "ws://h:x/",
                  "ws://[::1/", "ws://::1/", "ws://u@h/"] {
            #expect(WebSocketURL(string: s) == nil, "\(s)")
        }
    }
}
