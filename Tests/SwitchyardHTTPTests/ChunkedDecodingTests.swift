import Testing
import SwitchyardHTTP

@Suite struct ChunkedDecodingTests {
    static func request(_ body: String) -> String {
        "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + body
    }

    @Test func extensionsAndTrailers() throws {
        let body = "4;name=value;other\r\nWiki\r\n5 ; q=\"quoted;str\"\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0;last\r\nExpires: never\r\nX-Sum:\t1\r\n\r\n"
        for d in [ParserDriver.run(Self.request(body)), ParserDriver.runByteByByte(Self.request(body))] {
            #expect(d.error == nil)
            let m = try #require(d.messages.first)
            #expect(m.complete)
            #expect(m.bodyString == "Wikipedia in\r\n\r\nchunks.")
            #expect(m.head.isChunked)
            #expect(!m.head.headers.contains("Expires"))  // trailers dropped
            #expect(d.buffer.isEmpty)
        }
    }

    @Test func hexSizesAnyCaseAndLeadingZeros() throws {
        let d = ParserDriver.run(Self.request("0000A\r\n0123456789\r\na\r\nabcdefghij\r\n0\r\n\r\n"))
        #expect(d.error == nil)
        #expect(d.messages.first?.body.count == 20)
    }

    @Test func emptyBody() throws {
        let d = ParserDriver.run(Self.request("0\r\n\r\n") + "GET /next HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(d.error == nil)
        #expect(d.messages.map(\.head.path) == ["/c", "/next"])
        #expect(d.messages[0].body.isEmpty)
    }

    @Test func framingIsConsumedIncrementally() {
        var d = ParserDriver()
        d.feed(Self.request("5;ext"))
        #expect(d.buffer.isEmpty)  // chunk framing needs no buffering
        d.feed("\r\nab")
        #expect(d.messages[0].bodyString == "ab")
        d.feed("cde\r")
        d.feed("\n0\r\n\r")
        #expect(!d.messages[0].complete)
        d.feed("\n")
        #expect(d.messages[0].complete)
        #expect(d.messages[0].bodyString == "abcde")
    }

    @Test(arguments: [
        "-1\r\nx\r\n0\r\n\r\n",                 // sign
        "+1\r\nx\r\n0\r\n\r\n",
        "0x10\r\n0123456789abcdef\r\n0\r\n\r\n", // 0x prefix
        "1000000000000000\r\n",                  // 16 hex digits
        "ffffffffffffffffff\r\n",                // overflow
        "\r\nx\r\n0\r\n\r\n",                    // empty size
        ";ext\r\n",                              // extension without size
        "g\r\n",
        " 1\r\nx\r\n0\r\n\r\n",                  // leading whitespace
        "1 1\r\nx\r\n0\r\n\r\n",
        "1\nx\r\n0\r\n\r\n",                     // bare LF after size
        "1\rx\r\n0\r\n\r\n",                     // bare CR after size
        "3\r\nabcX\r\n0\r\n\r\n",                // data longer than size
        "3\r\nabc0\r\n\r\n",                     // missing CRLF after data
        "3\r\nabc\n0\r\n\r\n",                   // LF only after data
        "3\r\nabc\rX0\r\n\r\n",
        "1;a=\u{00}\r\nx\r\n0\r\n\r\n",          // NUL in extension
        "0\r\n Folded: x\r\n\r\n",               // obs-fold in trailer
        "0\r\nBad Name: x\r\n\r\n",
        "0\r\nX: a\u{00}b\r\n\r\n",
        "0\r\nX: a\rb\r\n\r\n",
        "0\r\nX: a\n\r\n",                       // bare LF in trailer
        "0\r\n\rX",                              // bad final line
        "0\r\n\n",
    ])
    func invalidChunking(_ body: String) {
        #expect(ParserDriver.status(Self.request(body)) == 400, "\(body.debugDescription)")
    }

    @Test func fifteenHexDigitsAreAccepted() {
        // The size is fine; the body simply is not there yet.
        var d = ParserDriver()
        d.feed(Self.request("00000000000000f\r\n"))
        #expect(d.error == nil)
    }

    @Test func chunkedBodyOverLimit() {
        let limits = HTTPParserLimits(maxBodySize: 8)
        #expect(ParserDriver.status(Self.request("4\r\nabcd\r\n4\r\nefgh\r\n0\r\n\r\n"), limits: limits) == nil)
        #expect(ParserDriver.status(Self.request("4\r\nabcd\r\n5\r\nefghi\r\n0\r\n\r\n"), limits: limits) == 413)
        #expect(ParserDriver.status(Self.request("9\r\n"), limits: limits) == 413)
        #expect(ParserDriver.status(Self.request("fffffffffffffff\r\n"), limits: limits) == 413)
    }

    @Test func trailersBoundedByHeaderBlockSize() {
        let limits = HTTPParserLimits(maxHeaderBlockSize: 128)
        let trailer = "0\r\nX-T: " + String(repeating: "t", count: 200) + "\r\n\r\n"
        #expect(ParserDriver.status(Self.request(trailer), limits: limits) == 431)
        let manyLimits = HTTPParserLimits(maxHeaderCount: 3)
        #expect(ParserDriver.status(Self.request("0\r\n" + String(repeating: "A: b\r\n", count: 4) + "\r\n"), limits: manyLimits) == 431)
    }

    @Test func overlongExtensions() {
        #expect(ParserDriver.status(Self.request("1;" + String(repeating: "e", count: 5000) + "\r\nx\r\n0\r\n\r\n")) == 400)
    }
}
