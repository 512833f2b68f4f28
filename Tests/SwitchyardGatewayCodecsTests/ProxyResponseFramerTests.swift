import Testing
import SwitchyardHTTP
@testable import SwitchyardGatewayCodecs

/// What a framer made of a byte stream: the heads and the body as bytes, whether it ended.
struct Framed: Equatable {
    var heads: [String] = []
    var body: [UInt8] = []
    var ends: [Bool] = []
}

/// Feeds `wire` in pieces of `step` bytes, keeping the unconsumed rest as the transport does.
func frame(_ wire: String, step: Int, isHead: Bool = false, eof: Bool = false) throws(HTTPResponseParseError) -> (Framed, ProxyResponseFramer) {
    var framer = ProxyResponseFramer(requestIsHead: isHead)
    var out = Framed()
    var pending: [UInt8] = []
    let all = Array(wire.utf8)
    var i = 0
    while i < all.count {
        pending += all[i..<min(i + step, all.count)]
        i += step
        let input = pending
        let used = try framer.decode(input) { event in
            switch event {
            case .head(let r): out.heads.append(String(decoding: input[r], as: UTF8.self))
            case .body(let r): out.body += input[r]
            case .end(let ka): out.ends.append(ka)
            }
        }
        pending.removeFirst(used)
    }
    if eof { try framer.finish() }
    return (out, framer)
}

@Suite struct ProxyResponseFramerTests {
    let chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"

    @Test(arguments: [1, 3, 7, 1000]) func chunkedBodyIsDechunkedAtAnySplit(step: Int) throws {
        let (out, framer) = try frame(chunked, step: step)
        #expect(out.heads == ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"])
        #expect(String(decoding: out.body, as: UTF8.self) == "hello world")
        #expect(out.ends == [true] && framer.ended && framer.keepAlive && !framer.endsAtClose)
    }

    @Test func lengthBodyEndsWithoutEOFAndLeavesTheRest() throws {
        var framer = ProxyResponseFramer(requestIsHead: false)
        var ends = 0
        let used = try framer.decode(bytes("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcEXTRA")) { if case .end = $0 { ends += 1 } }
        #expect(used == 41 && ends == 1 && framer.ended)
    }

    @Test func interimHeadsPassThroughBeforeTheFinalOne() throws {
        let (out, _) = try frame("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", step: 5)
        #expect(out.heads.count == 2 && out.body.isEmpty && out.ends == [true])
    }

    @Test func headAnd304HaveNoBodyWhateverTheyAnnounce() throws {
        let (head, _) = try frame("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", step: 4, isHead: true)
        #expect(head.ends == [true] && head.body.isEmpty)
        let (notModified, _) = try frame("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", step: 100)
        #expect(notModified.ends == [true])
    }

    @Test func untilCloseEndsAtEOFAndConnectionCloseForbidsReuse() throws {
        let (out, framer) = try frame("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it", step: 6, eof: true)
        #expect(String(decoding: out.body, as: UTF8.self) == "all of it" && out.ends.isEmpty)
        #expect(framer.endsAtClose && framer.ended && !framer.keepAlive)
    }

    @Test func switchingProtocolsHandsOverEveryLaterByte() throws {
        let wire = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\u{81}\u{02}hi"
        let (out, framer) = try frame(wire, step: 9, eof: true)
        #expect(out.heads.count == 1 && framer.switched && framer.endsAtClose)
        #expect(out.body == Array("\u{81}\u{02}hi".utf8))
    }

    @Test func truncatedBodiesAreErrorsAtEOF() {
        #expect(throws: HTTPResponseParseError.self) { try frame("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc", step: 50, eof: true) }
        #expect(throws: HTTPResponseParseError.self) { try frame("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhe", step: 50, eof: true) }
        #expect(throws: HTTPResponseParseError.self) { try frame("", step: 1, eof: true) }
    }

    @Test func garbageIsAnError() {
        #expect(throws: HTTPResponseParseError.self) { try frame("THIS IS NOT HTTP\r\n\r\n", step: 50) }
    }
}

@Suite struct ProxyResponseHeadDecoderTests {
    func decoder(upgrade: Bool = false, head: Bool = false, interim: Bool = false) -> ProxyResponseHeadDecoder {
        let mapper = ProxyResponseHeaderMapper(options: ProxyHeaderOptions(), clientHost: "example.org", backendHost: "b", clientIsHTTPS: false)
        return ProxyResponseHeadDecoder(mapper: mapper, requestIsUpgrade: upgrade, requestIsHead: head, yieldsInterimHeads: interim)
    }

    func feed(_ d: inout ProxyResponseHeadDecoder, _ s: String) throws -> (head: CGIResponseHead, bodyStartInInput: Int)? {
        try Array(s.utf8).withUnsafeBytes { raw throws(HTTPResponseParseError) in try d.feed(raw) }
    }

    @Test func splitHeadWithBodyAfterIt() throws {
        var d = decoder()
        #expect(try feed(&d, "HTTP/1.1 201 Made\r\nConnection: close, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: 5\r\nCont") == nil)
        let (head, start) = try #require(try feed(&d, "ent-Length: 4\r\nX-App: y\r\n\r\nbody"))
        #expect(head.status == 201 && head.reason == "Made" && head.contentLength == 4 && start == 27)
        #expect(head.headers.map(\.name) == ["Content-Length", "X-App"])
    }

    @Test func interimSkippedChunkedHasNoLength() throws {
        var d = decoder()
        let (head, _) = try #require(try feed(&d, "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"))
        #expect(head.status == 200 && head.contentLength == nil && head.value("Transfer-Encoding") == nil)
    }

    /// Interim heads come back one at a time, each with where the next head starts; the rest is fed
    /// again (as the exchange does), at any split of the wire bytes.
    @Test(arguments: [1, 5, 1000]) func interimHeadsYieldedInOrder(step: Int) throws {
        let wire = Array(("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n"
                          + "Connection: X-Hop\r\nX-Hop: 1\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").utf8)
        var d = decoder(interim: true)
        var heads: [CGIResponseHead] = []
        var bodyStart: Int?
        var i = 0
        while i < wire.count && bodyStart == nil {
            var piece = Array(wire[i..<min(i + step, wire.count)])
            i += piece.count
            while let (head, start) = try piece.withUnsafeBytes({ raw throws(HTTPResponseParseError) in try d.feed(raw) }) {
                heads.append(head)
                if head.status >= 200 { bodyStart = i - piece.count + start; break }
                piece = Array(piece[start...])
            }
        }
        #expect(heads.map(\.status) == [100, 103, 200])
        #expect(heads[1].headers.map(\.name) == ["Link"] && heads[1].value("Link") == "</a.css>; rel=preload")
        #expect(heads[2].contentLength == 2 && bodyStart == wire.count - 2)
    }

    /// The framer's own parse of each head it hands over (`framedHeads`), fed as
    /// `feed(framed:byteCount:)`, gives the answer `feed(_:)` gives for the same bytes: interim
    /// heads yielded or skipped, a 101 accepted or refused, lengths, mapped fields.
    @Test(arguments: [false, true]) func framedHeadsAnswerAsTheirBytesDo(interim: Bool) throws {
        let wires = [
            "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nConnection: X-Hop\r\nX-Hop: 1\r\nContent-Length: 2\r\n\r\nok",
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n",
            "HTTP/1.1 204 No Content\r\nKeep-Alive: 5\r\n\r\n",
            "HTTP/1.0 200 OK\r\nX-App: 1\r\n\r\nuntil close",
        ]
        for wire in wires {
            for upgrade in [false, true] {
                var framer = ProxyResponseFramer(requestIsHead: false)
                var viaBytes = decoder(upgrade: upgrade, interim: interim)
                var viaFramed = viaBytes
                let input = Array(wire.utf8)
                var headRanges: [Range<Int>] = []
                _ = try framer.decode(input) { if case .head(let r) = $0 { headRanges.append(r) } }
                #expect(framer.framedHeads.map(\.byteCount) == headRanges.map(\.count))
                for (range, framed) in zip(headRanges, framer.framedHeads) {
                    let bytes = Array(input[range])
                    let expected = Result { () throws -> String in
                        try bytes.withUnsafeBytes { raw throws(HTTPResponseParseError) in try viaBytes.feed(raw) }.map { "\($0.head) \($0.bodyStartInInput)" } ?? "nil"
                    }
                    let got = Result { () throws -> String in
                        let (accepted, result) = try viaFramed.feed(framed: framed.head, byteCount: framed.byteCount)
                        #expect(accepted)
                        return result.map { "\($0.head) \($0.bodyStartInInput)" } ?? "nil"
                    }
                    switch (expected, got) {
                    case (.success(let a), .success(let b)): #expect(a == b, "\(wire) upgrade \(upgrade)")
                    case (.failure, .failure): break
                    default: Issue.record("\(wire) upgrade \(upgrade): \(expected) vs \(got)")
                    }
                }
            }
        }
    }

    @Test func framedHeadIsRefusedWhileBytesArePending() throws {
        var d = decoder()
        #expect(try feed(&d, "HTTP/1.1 200 OK\r\nCont") == nil)
        var framer = ProxyResponseFramer(requestIsHead: false)
        _ = try framer.decode(Array("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".utf8)) { _ in }
        let framed = try #require(framer.framedHeads.first)
        #expect(try d.feed(framed: framed.head, byteCount: framed.byteCount).accepted == false)
    }

    @Test func headKeepsTheAnnouncedLength() throws {
        var d = decoder(head: true)
        let (head, _) = try #require(try feed(&d, "HTTP/1.1 200 OK\r\nContent-Length: 777\r\n\r\n"))
        #expect(head.contentLength == 777)
    }

    @Test func switchOnlyToAWebSocketTheGatewayAskedFor() throws {
        let ok = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n"
        var asked = decoder(upgrade: true)
        let (head, _) = try #require(try feed(&asked, ok))
        #expect(head.status == 101 && head.value("Upgrade") == "websocket" && head.value("Sec-WebSocket-Accept") == "x")
        var notAsked = decoder()
        #expect(throws: HTTPResponseParseError.self) { try feed(&notAsked, ok) }
        var h2c = decoder(upgrade: true)
        #expect(throws: HTTPResponseParseError.self) { try feed(&h2c, "HTTP/1.1 101 S\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n") }
    }
}
