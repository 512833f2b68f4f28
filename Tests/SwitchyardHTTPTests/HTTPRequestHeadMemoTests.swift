import Foundation
import Testing
@testable import SwitchyardHTTP

/// The loop-wide memo of the last parsed head: an identical block must give exactly what parsing
/// it gives, and nothing else may come back from it.
@Suite struct HTTPRequestHeadMemoTests {
    /// One head (and its body events) through `parser` with `memo`, as the server drives it.
    private static func step(_ text: String, _ parser: inout HTTPRequestParser,
                             _ memo: inout HTTPRequestHeadMemo) -> (head: HTTPRequestHead?, error: HTTPParseError?) {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { raw -> (HTTPRequestHead?, HTTPParseError?) in
            switch parser.parseStep(raw, memo: &memo) {
            case .head(let head, _): return (head, nil)
            case .failure(let error): return (nil, error)
            default: return (nil, nil)
            }
        }
    }

    private static let get = "GET /small.txt HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\nAccept: */*\r\n\r\n"

    @Test func anIdenticalHeadOnAnotherConnectionIsTheRememberedOne() throws {
        var memo = HTTPRequestHeadMemo()
        var first = HTTPRequestParser(), second = HTTPRequestParser()
        let a = try #require(Self.step(Self.get, &first, &memo).head)
        let b = try #require(Self.step(Self.get, &second, &memo).head)
        #expect(b.sharesStorage(with: a))
        #expect(b.path == "/small.txt" && b.host == "example.com" && b.headers.count == 3)
        // The parser moved on as after a parse: a body-less head ends at once, then the next one.
        let empty: [UInt8] = []
        let end = empty.withUnsafeBytes { second.parseStep($0, memo: &memo) }
        guard case .end = end else { Issue.record("no end after a remembered body-less head: \(end)"); return }
        #expect(second.isIdle)
    }

    @Test func aHeadThatDiffersInOneByteIsParsed() throws {
        var memo = HTTPRequestHeadMemo()
        var p = HTTPRequestParser(), q = HTTPRequestParser()
        let a = try #require(Self.step(Self.get, &p, &memo).head)
        let other = Self.get.replacingOccurrences(of: "small", with: "smalL")
        let b = try #require(Self.step(other, &q, &memo).head)
        #expect(!b.sharesStorage(with: a))
        #expect(b.path == "/smalL.txt")
    }

    @Test func theLimitsArePartOfTheKey() throws {
        var memo = HTTPRequestHeadMemo()
        var loose = HTTPRequestParser()
        #expect(Self.step(Self.get, &loose, &memo).head != nil)
        var strict = HTTPRequestParser(limits: HTTPParserLimits(maxHeaderCount: 2))
        let result = Self.step(Self.get, &strict, &memo)
        #expect(result.head == nil)
        #expect(result.error?.status == 431)
    }

    @Test func aBodyLengthComesBackWithTheHeadAndFramesTheBody() throws {
        var memo = HTTPRequestHeadMemo()
        let post = "POST /f HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n"
        for round in 0..<2 {
            var p = HTTPRequestParser()
            let head = try #require(Self.step(post, &p, &memo).head)
            #expect(head.contentLength == 5)
            let body = Array("hello".utf8)
            let event = body.withUnsafeBytes { p.parseStep($0, memo: &memo) }
            guard case .body(let range, let consumed) = event else {
                Issue.record("round \(round): no body after the head: \(event)"); return
            }
            #expect(range == 0..<5 && consumed == 5)
        }
    }

    @Test func aLongHeadIsNotKept() throws {
        var memo = HTTPRequestHeadMemo(capacity: 32)
        var p = HTTPRequestParser(), q = HTTPRequestParser()
        let a = try #require(Self.step(Self.get, &p, &memo).head)
        let b = try #require(Self.step(Self.get, &q, &memo).head)
        #expect(!b.sharesStorage(with: a))
        #expect(b == a)
    }

    @Test func aRejectedHeadIsRejectedAgain() {
        var memo = HTTPRequestHeadMemo()
        let bad = "GET / HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\n"
        for _ in 0..<2 {
            var p = HTTPRequestParser()
            #expect(Self.step(bad, &p, &memo).error?.status == 400)
        }
    }

    @Test func changingAReturnedHeadLeavesTheMemoAlone() throws {
        var memo = HTTPRequestHeadMemo()
        var p = HTTPRequestParser(), q = HTTPRequestParser()
        var a = try #require(Self.step(Self.get, &p, &memo).head)
        a.path = "/elsewhere"
        a.headers.add(name: "X-Added", value: "1")
        let b = try #require(Self.step(Self.get, &q, &memo).head)
        #expect(b.path == "/small.txt")
        #expect(b.headers.first("X-Added") == nil)
    }

    @Test func theSameFieldLinesUnderAnotherRequestLineAreNotParsedAgainButGiveTheSameHead() throws {
        var memo = HTTPRequestHeadMemo()
        var p = HTTPRequestParser(), q = HTTPRequestParser(), r = HTTPRequestParser()
        let a = try #require(Self.step(Self.get, &p, &memo).head)
        let other = Self.get.replacingOccurrences(of: "GET /small.txt", with: "HEAD /other.txt?x=1")
        let b = try #require(Self.step(other, &q, &memo).head)
        #expect(!b.sharesStorage(with: a))
        #expect(b.method == "HEAD" && b.path == "/other.txt" && b.query == "x=1")
        #expect(b.headers == a.headers && b.host == "example.com" && b.headBytes == other.utf8.count)
        var plain = HTTPRequestParser()
        var none = HTTPRequestHeadMemo(capacity: 0)
        #expect(Self.step(other, &plain, &none).head == b)
        // HTTP/1.0 with the same field lines: keep-alive off, as a parse gives.
        let old = Self.get.replacingOccurrences(of: "HTTP/1.1", with: "HTTP/1.0")
        let c = try #require(Self.step(old, &r, &memo).head)
        #expect(c.version == .http1_0 && !c.keepAlive)
    }

    @Test func forgetLetsGo() throws {
        var memo = HTTPRequestHeadMemo()
        var p = HTTPRequestParser(), q = HTTPRequestParser()
        let a = try #require(Self.step(Self.get, &p, &memo).head)
        memo.forget()
        let b = try #require(Self.step(Self.get, &q, &memo).head)
        #expect(!b.sharesStorage(with: a))
        #expect(b == a)
    }

    /// Random sequences over a small set of heads — repeats, near-misses, rejected ones, other
    /// limits — give the same step as a parser without a memo, every time.
    @Test func aMemoNeverChangesWhatIsParsed() {
        let heads = [
            Self.get,
            Self.get.replacingOccurrences(of: "t\r\n", with: "u\r\n"),
            "GET /a HTTP/1.1\r\nHost: h\r\n\r\n",
            "GET /b HTTP/1.1\r\nHost: h\r\n\r\n",
            "GET /a HTTP/1.0\r\n\r\n",
            "GET /a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
            "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nHost: i\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\n X: folded\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "GET /" + String(repeating: "x", count: 40) + " HTTP/1.1\r\nHost: h\r\n\r\n",
            // The same field lines under other request lines: the version decides Host, keep-alive,
            // chunked and 100-continue; an absolute-form target's authority beats Host.
            "POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
            "POST /u HTTP/1.0\r\nHost: h\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
            "PUT /v HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
            "GET http://other.test/a HTTP/1.1\r\nHost: h\r\n\r\n",
            "GET /a HTTP/1.0\r\nHost: h\r\n\r\n",
            "GET /a HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\n\r\n",
            "GET /b HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n",
            "CONNECT h:443 HTTP/1.1\r\nHost: h\r\n\r\n",
            "GET /c HTTP/1.1\r\nHost: h\r\nContent-Length: 99999\r\n\r\n",
            "GET /d HTTP/1.1\r\nHost: h\r\nContent-Length: 99999\r\n\r\n",
            "GET /c HTTP/2.0\r\nHost: h\r\n\r\n",
        ]
        let limits = [HTTPParserLimits(), HTTPParserLimits(maxRequestLineLength: 40), HTTPParserLimits(maxHeaderCount: 1),
                      HTTPParserLimits(maxBodySize: 1000)]
        var memo = HTTPRequestHeadMemo()
        var rng = SystemRandomNumberGenerator()
        for i in 0..<4000 {
            let text = heads.randomElement(using: &rng)!
            let limit = i % 7 == 0 ? limits.randomElement(using: &rng)! : limits[0]
            var withMemo = HTTPRequestParser(limits: limit), plain = HTTPRequestParser(limits: limit)
            var none = HTTPRequestHeadMemo(capacity: 0)
            let got = Self.step(text, &withMemo, &memo)
            let want = Self.step(text, &plain, &none)
            #expect(got.head == want.head, "head of \(text.debugDescription) under \(limit)")
            #expect(got.error == want.error, "error of \(text.debugDescription) under \(limit)")
            if got.head != want.head || got.error != want.error { return }
        }
    }
}
