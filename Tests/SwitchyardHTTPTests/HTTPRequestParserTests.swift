import Testing
import SwitchyardHTTP

@Suite struct HTTPRequestParserTests {
    @Test func simpleGet() throws {
        let d = ParserDriver.run("GET /index.html?a=1&b=%20 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n\r\n")
        #expect(d.error == nil)
        #expect(d.messages.count == 1)
        let m = try #require(d.messages.first)
        #expect(m.complete)
        #expect(m.body.isEmpty)
        let h = m.head
        #expect(h.method == "GET")
        #expect(h.target == "/index.html?a=1&b=%20")
        #expect(h.path == "/index.html")
        #expect(h.query == "a=1&b=%20")
        #expect(h.version == .http1_1)
        #expect(h.host == "example.com")
        #expect(h.contentLength == nil)
        #expect(!h.isChunked)
        #expect(h.keepAlive)
        #expect(!h.expectsContinue)
        #expect(!h.hasBody)
        #expect(h.upgrade == nil)
        #expect(h.headers.count == 2)
        #expect(h.headers.first("user-agent") == "t")
        #expect(h.headBytes == "GET /index.html?a=1&b=%20 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n\r\n".utf8.count)
        #expect(d.buffer.isEmpty)
        #expect(d.parser.isIdle)
    }

    @Test func queryAbsentVersusEmpty() throws {
        #expect(ParserDriver.head("GET /a HTTP/1.1\r\nHost: h\r\n\r\n")?.query == nil)
        #expect(ParserDriver.head("GET /a? HTTP/1.1\r\nHost: h\r\n\r\n")?.query == "")
        #expect(ParserDriver.head("GET /a?x?y HTTP/1.1\r\nHost: h\r\n\r\n")?.query == "x?y")
    }

    @Test func headerValuesAreTrimmedAndOrdered() throws {
        let h = try #require(ParserDriver.head("GET / HTTP/1.1\r\nHost: h\r\nX-A: \t one two \t\r\nx-a:two\r\nX-Empty:\r\n\r\n"))
        #expect(h.headers.values("X-A") == ["one two", "two"])
        #expect(h.headers.first("x-empty") == "")
        let names = h.headers.map { $0.name }
        #expect(names == ["Host", "X-A", "x-a", "X-Empty"])
    }

    @Test func obsTextInValueIsKept() throws {
        let h = try #require(ParserDriver.head("GET / HTTP/1.1\r\nHost: h\r\nX-Name: Jürgen\r\n\r\n"))
        #expect(h.headers.first("X-Name") == "Jürgen")
    }

    @Test func contentLengthBody() throws {
        let d = ParserDriver.run("POST /f HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world")
        #expect(d.error == nil)
        let m = try #require(d.messages.first)
        #expect(m.head.contentLength == 11)
        #expect(m.head.hasBody)
        #expect(m.bodyString == "hello world")
        #expect(m.complete)
    }

    @Test func contentLengthZero() throws {
        let d = ParserDriver.run("POST /f HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n")
        #expect(d.messages.count == 1 && d.messages[0].complete)
        #expect(d.messages[0].head.contentLength == 0)
        #expect(!d.messages[0].head.hasBody)
    }

    @Test func postWithoutLengthHasNoBody() throws {
        let d = ParserDriver.run("POST /f HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(d.error == nil)
        #expect(d.messages.count == 2)
        #expect(d.messages[0].head.lacksLengthForBodyMethod)
        #expect(!d.messages[0].head.hasBody)
        #expect(!d.messages[1].head.lacksLengthForBodyMethod)
    }

    @Test func bodySplitAcrossReads() throws {
        var d = ParserDriver()
        d.feed("PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123")
        #expect(d.messages.count == 1)
        #expect(!d.messages[0].complete)
        #expect(!d.parser.isIdle)
        #expect(d.parser.isInBody)
        d.feed("456")
        d.feed("789GET")
        #expect(d.messages[0].bodyString == "0123456789")
        #expect(d.messages[0].complete)
        #expect(d.buffer == Array("GET".utf8))
        #expect(!d.parser.isIdle)
    }

    static let pipelined =
        "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n" +
        "POST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello" +
        "POST /3 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: 1\r\n\r\n" +
        "\r\nGET /4 HTTP/1.0\r\n\r\n" +
        "GET /5 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"

    @Test func pipelinedRequestsInOneBuffer() throws {
        let d = ParserDriver.run(Self.pipelined)
        #expect(d.error == nil)
        #expect(d.messages.map(\.head.path) == ["/1", "/2", "/3", "/4", "/5"])
        #expect(d.messages.allSatisfy { $0.complete })
        #expect(d.messages.map(\.bodyString) == ["", "hello", "abcde", "", ""])
        #expect(d.messages.map(\.head.keepAlive) == [true, true, true, false, false])
        #expect(d.idleAfterEachEnd == [true, true, true, true, true])
        #expect(d.buffer.isEmpty)
    }

    @Test func byteByByteMatchesWholeBuffer() throws {
        let whole = ParserDriver.run(Self.pipelined)
        let split = ParserDriver.runByteByByte(Self.pipelined)
        #expect(split.error == nil)
        #expect(split.messages.count == whole.messages.count)
        for (a, b) in zip(whole.messages, split.messages) {
            #expect(a.head == b.head)
            #expect(a.body == b.body)
            #expect(a.complete == b.complete)
        }
    }

    @Test func everySplitPointMatches() throws {
        let input = Array(Self.pipelined.utf8)
        let whole = ParserDriver.run(Self.pipelined)
        for cut in 0...input.count {
            var d = ParserDriver()
            d.feed(Array(input[..<cut]))
            d.feed(Array(input[cut...]))
            #expect(d.error == nil)
            #expect(d.messages.map(\.head) == whole.messages.map(\.head), "cut at \(cut)")
            #expect(d.messages.map(\.body) == whole.messages.map(\.body), "cut at \(cut)")
        }
    }

    @Test func leadingEmptyLinesAreSkipped() throws {
        var d = ParserDriver()
        d.feed("\r\n\r\n\n")
        #expect(d.buffer.isEmpty)  // consumed right away
        #expect(d.parser.isIdle)
        d.feed("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(d.error == nil)
        #expect(d.messages.count == 1)
        #expect(d.messages[0].head.headBytes == "GET / HTTP/1.1\r\nHost: h\r\n\r\n".utf8.count)
    }

    @Test func tooManyLeadingEmptyLines() {
        #expect(ParserDriver.status(String(repeating: "\r\n", count: 20) + "GET / HTTP/1.1\r\nHost: h\r\n\r\n") == 400)
    }

    @Test func bareLFLineEndingsAccepted() throws {
        let d = ParserDriver.run("GET /lf HTTP/1.1\nHost: h\nX-A: b\n\nGET /crlf HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(d.error == nil)
        #expect(d.messages.map(\.head.path) == ["/lf", "/crlf"])
        #expect(d.messages[0].head.headers.first("x-a") == "b")
    }

    @Test func isIdleTracksPartialHeads() {
        var d = ParserDriver()
        #expect(d.parser.isIdle)
        d.feed("G")
        #expect(!d.parser.isIdle)
        d.feed("ET / HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(d.parser.isIdle)
    }

    @Test func errorIsSticky() {
        var p = HTTPRequestParser()
        let bad: [UInt8] = Array("GET / HTTP/1.1\r\nHost : h\r\n\r\n".utf8)
        guard case .failure(let e) = p.parse(bad) else { Issue.record("expected failure"); return }
        #expect(e.status == 400)
        #expect(p.failure == e)
        let good: [UInt8] = Array("GET / HTTP/1.1\r\nHost: h\r\n\r\n".utf8)
        guard case .failure(let e2) = p.parse(good) else { Issue.record("expected sticky failure"); return }
        #expect(e2 == e)
    }

    @Test func endNeedsNoBytes() {
        var p = HTTPRequestParser()
        let req: [UInt8] = Array("GET / HTTP/1.1\r\nHost: h\r\n\r\n".utf8)
        guard case .success(let (ev, consumed)) = p.parse(req), case .head = ev else { Issue.record("no head"); return }
        #expect(consumed == req.count)
        guard case .success(let (ev2, consumed2)) = p.parse([UInt8]()) else { Issue.record("failed"); return }
        #expect(ev2 == .end)
        #expect(consumed2 == 0)
        guard case .success(let (ev3, _)) = p.parse([UInt8]()) else { Issue.record("failed"); return }
        #expect(ev3 == .needMoreData)
    }

    @Test func bodyRangesIndexTheCallInput() {
        var p = HTTPRequestParser()
        let req: [UInt8] = Array("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcXYZ".utf8)
        guard case .success(let (_, consumed)) = p.parse(req) else { Issue.record("failed"); return }
        let rest = Array(req[consumed...])
        guard case .success(let (ev, c2)) = p.parse(rest), case .body(let r) = ev else { Issue.record("no body"); return }
        #expect(r == 0..<3)
        #expect(c2 == 3)
        #expect(Array(rest[r]) == Array("abc".utf8))
    }

    // MARK: request-target forms

    @Test func absoluteForm() throws {
        let h = try #require(ParserDriver.head("GET http://Example.org:8080/p/q?x=1 HTTP/1.1\r\nHost: other\r\n\r\n"))
        #expect(h.target == "http://Example.org:8080/p/q?x=1")
        #expect(h.path == "/p/q")
        #expect(h.query == "x=1")
        #expect(h.host == "Example.org:8080")
        let h2 = try #require(ParserDriver.head("GET HTTPS://h2 HTTP/1.1\r\nHost: h2\r\n\r\n"))
        #expect(h2.path == "/")
        #expect(h2.query == nil)
        #expect(h2.host == "h2")
        let h3 = try #require(ParserDriver.head("GET http://h3?q HTTP/1.1\r\nHost: h3\r\n\r\n"))
        #expect(h3.path == "/")
        #expect(h3.query == "q")
    }

    @Test func absoluteFormRejects() {
        #expect(ParserDriver.status("GET http:///p HTTP/1.1\r\nHost: h\r\n\r\n") == 400)
        #expect(ParserDriver.status("GET http://user@h/p HTTP/1.1\r\nHost: h\r\n\r\n") == 400)
        #expect(ParserDriver.status("GET ftp://h/p HTTP/1.1\r\nHost: h\r\n\r\n") == 400)
        #expect(ParserDriver.status("GET index.html HTTP/1.1\r\nHost: h\r\n\r\n") == 400)
        #expect(ParserDriver.status("GET /a#frag HTTP/1.1\r\nHost: h\r\n\r\n") == 400)
    }

    @Test func asteriskOnlyForOptions() throws {
        let h = try #require(ParserDriver.head("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"))
        #expect(h.path == "*")
        #expect(ParserDriver.status("GET * HTTP/1.1\r\nHost: h\r\n\r\n") == 400)
    }

    @Test func authorityFormOnlyForConnect() throws {
        let h = try #require(ParserDriver.head("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"))
        #expect(h.host == "example.com:443")
        #expect(h.path == "")
        #expect(ParserDriver.status("GET example.com:443 HTTP/1.1\r\nHost: h\r\n\r\n") == 400)
        #expect(ParserDriver.status("CONNECT /x HTTP/1.1\r\nHost: h\r\n\r\n") == 400)
        #expect(ParserDriver.status("CONNECT example.com HTTP/1.1\r\nHost: h\r\n\r\n") == 400)
    }

    // MARK: Host

    @Test func hostRules() throws {
        #expect(ParserDriver.status("GET / HTTP/1.1\r\n\r\n") == 400)
        #expect(ParserDriver.status("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n") == 400)
        #expect(ParserDriver.status("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n") == 400)
        #expect(ParserDriver.status("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n") == 400)
        #expect(ParserDriver.status("GET / HTTP/1.1\r\nHost: a b\r\n\r\n") == 400)
        #expect(ParserDriver.status("GET / HTTP/1.1\r\nHost: ..\\x\r\n\r\n") == 400)
        let h10 = try #require(ParserDriver.head("GET / HTTP/1.0\r\n\r\n"))
        #expect(h10.host == nil)
        let empty = try #require(ParserDriver.head("GET / HTTP/1.1\r\nHost:\r\n\r\n"))
        #expect(empty.host == "")
        let v6 = try #require(ParserDriver.head("GET / HTTP/1.1\r\nHOST: [::1]:8080\r\n\r\n"))
        #expect(v6.host == "[::1]:8080")
    }

    // MARK: keep-alive, Expect, Upgrade

    @Test func keepAliveRules() throws {
        func ka(_ version: String, _ extra: String) -> Bool? {
            ParserDriver.head("GET / \(version)\r\nHost: h\r\n\(extra)\r\n")?.keepAlive
        }
        #expect(ka("HTTP/1.1", "") == true)
        #expect(ka("HTTP/1.1", "Connection: close\r\n") == false)
        #expect(ka("HTTP/1.1", "Connection: Upgrade, CLOSE\r\n") == false)
        #expect(ka("HTTP/1.1", "Connection: keep-alive\r\n") == true)
        #expect(ka("HTTP/1.0", "") == false)
        #expect(ka("HTTP/1.0", "Connection: Keep-Alive\r\n") == true)
        #expect(ka("HTTP/1.0", "Connection: foo\r\nConnection: keep-alive\r\n") == true)
        #expect(ka("HTTP/1.0", "Connection: close\r\n") == false)
        let h = try #require(ParserDriver.head("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade , Keep-Alive\r\n\r\n"))
        #expect(h.connectionTokens == ["upgrade", "keep-alive"])
        #expect(h.hasConnectionToken("UPGRADE"))
    }

    @Test func expectContinue() throws {
        let h = try #require(ParserDriver.head("PUT /u HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 0\r\n\r\n"))
        #expect(h.expectsContinue)
        let h10 = try #require(ParserDriver.head("PUT /u HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n"))
        #expect(!h10.expectsContinue)
        let other = try #require(ParserDriver.head("PUT /u HTTP/1.1\r\nHost: h\r\nExpect: something\r\n\r\n"))
        #expect(!other.expectsContinue)
    }

    @Test func expectContinueHeadArrivesBeforeBody() {
        var d = ParserDriver()
        d.feed("POST /u HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
        #expect(d.messages.count == 1)
        #expect(d.messages[0].head.expectsContinue)
        #expect(!d.messages[0].complete)
        d.feed("data")
        #expect(d.messages[0].complete)
        #expect(d.messages[0].bodyString == "data")
    }

    @Test(arguments: [("websocket", true), ("WebSocket", true), ("h2c, websocket", true), (" websocket ,foo", true),
                      ("websocket2", false), ("web socket", false), ("h2c", false), ("", false), (",,websocket", true)])
    func upgradeOffersMatchesListElements(value: String, expected: Bool) {
        let head = HTTPRequestHead(method: "GET", target: "/", version: .http1_1, upgrade: value)
        #expect(head.upgradeOffers("websocket") == expected)
    }

    @Test func upgradeIsReportedNotPerformed() throws {
        let d = ParserDriver.run("GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: x\r\n\r\n\u{81}\u{05}")
        #expect(d.error == nil)
        #expect(d.messages.count == 1)
        #expect(d.messages[0].head.upgrade == "websocket")
        #expect(d.messages[0].head.hasConnectionToken("upgrade"))
        // Frame bytes after the head stay in the caller's buffer, untouched.
        #expect(d.buffer == Array("\u{81}\u{05}".utf8))
    }

    @Test func versions() throws {
        #expect(ParserDriver.head("GET / HTTP/1.0\r\n\r\n")?.version == .http1_0)
        #expect(ParserDriver.head("GET / HTTP/1.1\r\nHost: h\r\n\r\n")?.version == .http1_1)
        #expect(HTTPVersion.http1_1.string == "HTTP/1.1")
    }

    @Test func methodsAreTokensCaseKept() throws {
        #expect(ParserDriver.head("PROPFIND / HTTP/1.1\r\nHost: h\r\n\r\n")?.method == "PROPFIND")
        #expect(ParserDriver.head("get / HTTP/1.1\r\nHost: h\r\n\r\n")?.method == "get")
    }

    @Test func maxSizedHeadIsAccepted() {
        let limits = HTTPParserLimits(maxRequestLineLength: 40, maxHeaderBlockSize: 80)
        let line = "GET /" + String(repeating: "a", count: 40 - 14) + " HTTP/1.1"
        #expect(line.utf8.count == 40)
        var head = line + "\r\nHost: h\r\n"
        head += "X: " + String(repeating: "b", count: 80 - head.utf8.count - 2 - 5) + "\r\n\r\n"
        #expect(head.utf8.count == 80)
        #expect(ParserDriver.status(head, limits: limits) == nil)
        #expect(ParserDriver.runByteByByte(head, limits: limits).messages.count == 1)
    }
}
