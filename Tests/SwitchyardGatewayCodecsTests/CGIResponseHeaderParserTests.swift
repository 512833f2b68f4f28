import Testing
import SwitchyardGatewayCodecs

@Suite struct CGIResponseHeaderParserTests {
    static let wsEchoHead = "Status: 101\nUpgrade: WebSocket\nConnection: Upgrade\nSec-WebSocket-Origin: http://localhost\n"
        + "Sec-WebSocket-Location: ws://localhost/ws/ws_echo.py\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\n\n"
    static let frame: [UInt8] = [0x81, 0x02, 0x68, 0x69]

    @Test func wsEchoLFOnlyWithBodyInSameInput() throws {
        var p = CGIResponseHeaderParser()
        let input = bytes(Self.wsEchoHead) + Self.frame
        let (head, offset) = try #require(try p.feed(input))
        #expect(head.status == 101)
        #expect(head.reason == nil)
        #expect(head.headers.map(\.name) == ["Upgrade", "Connection", "Sec-WebSocket-Origin", "Sec-WebSocket-Location", "Sec-WebSocket-Accept"])
        #expect(head.value("upgrade") == "WebSocket")
        #expect(head.value("Sec-WebSocket-Accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        #expect(offset == Self.wsEchoHead.utf8.count)
        #expect(Array(input[offset...]) == Self.frame)
        #expect(!head.isLocalRedirect && head.location == nil)
        try p.finish()
    }

    @Test func crlfWithReasonAndContentLength() throws {
        var p = CGIResponseHeaderParser()
        let text = "Status: 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nnope!"
        let (head, offset) = try #require(try p.feed(bytes(text)))
        #expect(head.status == 404)
        #expect(head.reason == "Not Found")
        #expect(head.contentLength == 5)
        #expect(pairsEqual(head.headers, [("Content-Type", "text/plain"), ("Content-Length", "5")]))
        #expect(offset == text.utf8.count - 5)
    }

    @Test func mixedLineEndingsAndWhitespace() throws {
        var p = CGIResponseHeaderParser()
        let text = "Content-Type:text/html  \r\nX-A: \t b \n\r\n"
        let (head, offset) = try #require(try p.feed(bytes(text)))
        #expect(head.status == 200)
        #expect(pairsEqual(head.headers, [("Content-Type", "text/html"), ("X-A", "b")]))
        #expect(offset == text.utf8.count)
    }

    /// Every two-way split and the byte-by-byte feed give the same head and body start.
    @Test(arguments: [wsEchoHead, "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n"])
    func splitAtEveryOffset(headText: String) throws {
        let input = bytes(headText) + Self.frame
        let headLength = headText.utf8.count
        for split in 0...input.count {
            var p = CGIResponseHeaderParser()
            let first = Array(input[..<split]), second = Array(input[split...])
            if let (head, offset) = try p.feed(first) {
                #expect(split >= headLength)
                #expect(offset == headLength)
                #expect(head.headers.count >= 1)
            } else {
                #expect(split < headLength)
                let (head, offset) = try #require(try p.feed(second))
                #expect(offset == headLength - split)
                #expect(Array(second[offset...]) == Self.frame)
                #expect(head.status == (headText.hasPrefix("Status: 101") ? 101 : 200))
            }
        }
        var p = CGIResponseHeaderParser()
        var result: (CGIResponseHead, Int)?
        for (i, byte) in input.enumerated() {
            if let r = try p.feed([byte]) {
                #expect(i == headLength - 1)
                #expect(r.bodyStartInInput == 1)
                result = r
                break
            }
        }
        #expect(result != nil)
    }

    @Test func locationAbsoluteIsClientRedirect() throws {
        var p = CGIResponseHeaderParser()
        let (head, _) = try #require(try p.feed(bytes("Location: https://example.org/x\n\n")))
        #expect(head.status == 302)
        #expect(head.location == "https://example.org/x")
        #expect(!head.isLocalRedirect)
        #expect(head.value("Location") == "https://example.org/x")
    }

    @Test func locationLocalPathIsLocalRedirect() throws {
        var p = CGIResponseHeaderParser()
        let (head, _) = try #require(try p.feed(bytes("Location: /other?q=1\r\n\r\n")))
        #expect(head.isLocalRedirect)
        #expect(head.location == "/other?q=1")
        #expect(head.status == 302)
    }

    @Test func networkPathAndStatusAreNotLocal() throws {
        var p = CGIResponseHeaderParser()
        let (h1, _) = try #require(try p.feed(bytes("Location: //evil.example/x\n\n")))
        #expect(!h1.isLocalRedirect)
        var q = CGIResponseHeaderParser()
        let (h2, _) = try #require(try q.feed(bytes("Status: 301 Moved\nLocation: /new\n\n")))
        #expect(!h2.isLocalRedirect)
        #expect(h2.status == 301)
        #expect(h2.reason == "Moved")
    }

    @Test(arguments: ["no colon here\n\n", "Bad Name: x\n\n", ": empty\n\n", " folded: x\n\n", "X: a\u{01}b\n\n",
                      "Content-Length: 12a\n\n", "Content-Length: 1\nContent-Length: 2\n\n", "Status: 200\nStatus: 201\n\n",
                      "X: a\rb\n\n"])
    func malformed(text: String) throws {
        var p = CGIResponseHeaderParser()
        let e = #expect(throws: CGIResponseError.self) { try p.feed(bytes(text)) }
        #expect(e?.kind == .malformed, "\(text.debugDescription): \(String(describing: e))")
    }

    @Test(arguments: ["Status: abc\n\n", "Status: 99\n\n", "Status: 2000\n\n", "Status:\n\n", "Status: 20x OK\n\n"])
    func badStatus(text: String) throws {
        var p = CGIResponseHeaderParser()
        let e = #expect(throws: CGIResponseError.self) { try p.feed(bytes(text)) }
        #expect(e?.kind == .badStatus, "\(text.debugDescription)")
    }

    @Test func tooLarge() throws {
        var p = CGIResponseHeaderParser(maxHeaderBytes: 100)
        let chunk = bytes("X-Filler: " + String(repeating: "a", count: 30) + "\n")
        #expect(try p.feed(chunk) == nil)
        #expect(try p.feed(chunk) == nil)
        let e = #expect(throws: CGIResponseError.self) { try p.feed(chunk) }
        #expect(e?.kind == .tooLarge)
    }

    @Test func exactlyAtLimitIsAccepted() throws {
        let text = "X: 1234567\n\n"   // 12 bytes
        var p = CGIResponseHeaderParser(maxHeaderBytes: 12)
        #expect(try p.feed(bytes(text)) != nil)
    }

    @Test func eofBeforeAnyOutput() {
        let p = CGIResponseHeaderParser()
        let e = #expect(throws: CGIResponseError.self) { try p.finish() }
        #expect(e?.kind == .noHeaders)
    }

    @Test func eofInsideHeaders() throws {
        var p = CGIResponseHeaderParser()
        #expect(try p.feed(bytes("Status: 204\n")) == nil)
        let e = #expect(throws: CGIResponseError.self) { try p.finish() }
        #expect(e?.kind == .truncated)
    }

    @Test func emptyBlockIsNoHeaders() {
        var p = CGIResponseHeaderParser()
        let e = #expect(throws: CGIResponseError.self) { try p.feed(bytes("\r\nbody")) }
        #expect(e?.kind == .noHeaders)
    }

    @Test func bodylessResponseThenEOF() throws {
        var p = CGIResponseHeaderParser()
        let (head, offset) = try #require(try p.feed(bytes("Status: 204\n\n")))
        #expect(head.status == 204)
        #expect(offset == 13)
        try p.finish()
        #expect(p.isComplete)
    }

    @Test func nphStatusLine() throws {
        var p = CGIResponseHeaderParser(nph: true)
        let text = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
        let (head, offset) = try #require(try p.feed(bytes(text)))
        #expect(head.status == 101)
        #expect(head.reason == "Switching Protocols")
        #expect(head.headers.count == 2)
        #expect(offset == text.utf8.count)
    }

    @Test func nphRequiresStatusLine() {
        var p = CGIResponseHeaderParser(nph: true)
        let e = #expect(throws: CGIResponseError.self) { try p.feed(bytes("Content-Type: text/plain\n\n")) }
        #expect(e?.kind == .badStatus)
    }

    @Test func statusLineAutodetectedWithoutNPH() throws {
        var p = CGIResponseHeaderParser()
        let (head, _) = try #require(try p.feed(bytes("HTTP/1.0 500 Oops\nX: y\n\n")))
        #expect(head.status == 500)
        #expect(head.reason == "Oops")
    }

    /// uWSGI's `websocket_handshake()` over the uwsgi protocol answers with a status line, not a
    /// `Status:` header (lighttpd's mod_scgi takes a first line starting with "HTTP/" the same way).
    @Test func uwsgiWebSocketHandshakeWithoutNPH() throws {
        var p = CGIResponseHeaderParser()
        let text = "HTTP/1.1 101 Web Socket Protocol Handshake\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Origin: *\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
        let (head, offset) = try #require(try p.feed(bytes(text + "\u{81}\u{02}hi")))
        #expect(head.status == 101)
        #expect(head.reason == "Web Socket Protocol Handshake")
        #expect(head.headers.map(\.name) == ["Upgrade", "Connection", "Sec-WebSocket-Origin", "Sec-WebSocket-Accept"])
        #expect(offset == text.utf8.count)
    }

    @Test func resultEnum() throws {
        var p = CGIResponseHeaderParser()
        let r1 = try bytes("Status: 2").withUnsafeBytes { try p.parse($0) }
        guard case .needMore = r1 else { Issue.record("expected needMore"); return }
        let r2 = try bytes("00\n\nX").withUnsafeBytes { try p.parse($0) }
        guard case .head(let head, let offset) = r2 else { Issue.record("expected head"); return }
        #expect(head.status == 200)
        #expect(offset == 4)
    }
}
