import Testing
import SwitchyardHTTP

/// What the parser produced for a byte stream, collected like a proxy connection would.
struct ResponseTrace: Equatable {
    var interims: [Int] = []
    var heads: [ProxiedResponseHead] = []
    var body: [UInt8] = []
    var ends: [Bool] = []
    var switched: ProxiedResponseHead?
    var rest: [UInt8] = []
    var error: HTTPResponseParseError?
}

/// Feeds `chunks` one after the other, keeping unconsumed bytes like the caller's buffer; `eof` calls finish().
func runResponse(_ chunks: [[UInt8]], head: Bool = false, eof: Bool = false,
                 limits: HTTPResponseParserLimits = .init()) -> ResponseTrace {
    var parser = HTTPResponseHeadParser(requestIsHead: head, limits: limits)
    var trace = ResponseTrace()
    var buffer: [UInt8] = []
    func handle(_ step: HTTPResponseHeadParser.Step) -> Bool {
        switch step {
        case .needMoreData(let c): buffer.removeFirst(c); return false
        case .interim(let h, let c): trace.interims.append(h.status); buffer.removeFirst(c)
        case .head(let h, let c): trace.heads.append(h); buffer.removeFirst(c)
        case .switchingProtocols(let h, let c):
            trace.switched = h; buffer.removeFirst(c); trace.rest = buffer; buffer = []; return false
        case .body(let r, let c): trace.body += buffer[r]; buffer.removeFirst(c)
        case .end(let c, let k): trace.ends.append(k); buffer.removeFirst(c)
        case .failure(let e): trace.error = e; return false
        }
        return true
    }
    for chunk in chunks {
        if trace.switched != nil { trace.rest += chunk; continue }
        buffer += chunk
        while trace.error == nil && trace.switched == nil && handle(buffer.withUnsafeBytes { parser.parse($0) }) {}
    }
    if eof && trace.error == nil && trace.switched == nil { _ = handle(parser.finish()) }
    return trace
}

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

/// Every input is also fed one byte at a time: the result must not depend on how bytes arrive.
func runBothWays(_ s: String, head: Bool = false, eof: Bool = false) -> ResponseTrace {
    let whole = runResponse([bytes(s)], head: head, eof: eof)
    let split = runResponse(bytes(s).map { [$0] }, head: head, eof: eof)
    #expect(whole == split, "byte-by-byte feeding differs for \(s.debugDescription)")
    return whole
}

@Suite struct HTTPResponseHeadParserTests {
    @Test func contentLengthBodyAndKeepAlive() throws {
        let t = runBothWays("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello")
        let h = try #require(t.heads.first)
        #expect(h.status == 200 && h.reason == "OK" && h.version == .http1_1)
        #expect(h.framing == .length(5) && h.keepAlive)
        #expect(h.headers["x-a"] == "1")
        #expect(t.body == bytes("hello") && t.ends == [true])
    }

    @Test func chunkedBodyUsesTheChunkDecoder() {
        let t = runBothWays("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3;x=y\r\n, w\r\n0\r\nT: v\r\n\r\n")
        #expect(t.heads.first?.framing == .chunked)
        #expect(t.body == bytes("hello, w") && t.ends == [true])
        let bad = runResponse([bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")])
        #expect(bad.error?.kind == .malformedChunk)
    }

    @Test func untilCloseEndsOnlyAtEOF() {
        let t = runBothWays("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nsome bytes", eof: true)
        #expect(t.heads.first?.framing == .untilClose && t.heads.first?.keepAlive == false)
        #expect(t.body == bytes("some bytes") && t.ends == [false])
        for coding in ["gzip", "gzip, chunked", ""] {
            let other = runBothWays("HTTP/1.1 200 OK\r\nTransfer-Encoding: \(coding)\r\n\r\nxx", eof: true)
            #expect(other.error?.kind == .invalidFraming, "Transfer-Encoding: \(coding)")
        }
    }

    @Test func noBodyForHead204304And1xx() {
        let head = runBothWays("HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n", head: true)
        #expect(head.heads.first?.framing == ResponseBodyFraming.none && head.ends == [true])
        for status in ["204 No Content", "304 Not Modified"] {
            let t = runBothWays("HTTP/1.1 \(status)\r\nContent-Length: 7\r\n\r\n")
            #expect(t.heads.first?.framing == ResponseBodyFraming.none && t.ends == [true] && t.body.isEmpty)
        }
    }

    @Test func interimResponsesAreTheirOwnEvents() throws {
        let t = runBothWays("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
                            + "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok")
        #expect(t.interims == [100, 103])
        #expect(t.heads.count == 1 && t.heads[0].status == 201 && t.body == bytes("ok"))
        let flood = String(repeating: "HTTP/1.1 100 Continue\r\n\r\n", count: 17)
        #expect(runResponse([bytes(flood)]).error?.kind == .tooLarge)
    }

    @Test func switchingProtocolsHandsBackTheRest() throws {
        let t = runBothWays("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\u{01}\u{02}hi")
        let h = try #require(t.switched)
        #expect(h.status == 101 && h.connectionTokens == ["upgrade"] && h.headers["upgrade"] == "websocket")
        #expect(t.rest == [0x01, 0x02, 0x68, 0x69])
    }

    @Test func http10KeepAliveRules() {
        #expect(runBothWays("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").ends == [false])
        #expect(runBothWays("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n").ends == [true])
        #expect(runBothWays("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").ends == [false])
        #expect(runBothWays("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n").heads.first?.reason == "")
    }

    @Test(arguments: [
        ("HTTP/2 200 OK\r\n\r\n", HTTPResponseParseError.Kind.malformedStatusLine),
        ("HTTP/2.0 200 OK\r\n\r\n", .unsupportedVersion),
        ("HTTP/1.2 200 OK\r\n\r\n", .unsupportedVersion),
        ("http/1.1 200 OK\r\n\r\n", .malformedStatusLine),
        ("HTTP/1.1 20x OK\r\n\r\n", .malformedStatusLine),
        ("HTTP/1.1 099 Low\r\n\r\n", .malformedStatusLine),
        ("HTTP/1.1 200OK\r\n\r\n", .malformedStatusLine),
        ("HTTP/1.1 200 O\u{01}K\r\n\r\n", .malformedStatusLine),
        ("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", .malformedHeader),
        ("HTTP/1.1 200 OK\r\n folded\r\n\r\n", .malformedHeader),
        ("HTTP/1.1 200 OK\r\nX: a\u{00}b\r\n\r\n", .malformedHeader),
        ("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", .invalidFraming),
        ("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", .invalidFraming),
        ("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n", .invalidFraming),
        ("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", .invalidFraming),
        ("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", .invalidFraming),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", .invalidFraming),
    ])
    func malformedInputIsATypedError(_ text: String, _ kind: HTTPResponseParseError.Kind) {
        #expect(runBothWays(text).error?.kind == kind, "\(text.debugDescription)")
    }

    @Test func limitsAndTruncation() {
        let limits = HTTPResponseParserLimits(maxHeadSize: 64, maxHeaderCount: 2)
        let big = "HTTP/1.1 200 OK\r\nX: " + String(repeating: "a", count: 100)
        #expect(runResponse([bytes(big)], limits: limits).error?.kind == .tooLarge)
        let many = "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"
        #expect(runResponse([bytes(many)], limits: limits).error?.kind == .tooLarge)
        #expect(runResponse([bytes("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc")], eof: true).error?.kind == .truncated)
        #expect(runResponse([bytes("HTTP/1.1 200 OK\r\nCont")], eof: true).error?.kind == .truncated)
        #expect(runResponse([], eof: true).error?.kind == .truncated)
        #expect(runResponse([bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab")], eof: true).error?.kind == .truncated)
    }

    @Test func failedParserStaysFailed() {
        var p = HTTPResponseHeadParser()
        guard case .failure = p.parse(bytes("XTTP/1.1 200 OK\r\n\r\n")) else { Issue.record("accepted"); return }
        guard case .failure = p.parse(bytes("HTTP/1.1 200 OK\r\n\r\n")) else { Issue.record("recovered"); return }
    }
}
