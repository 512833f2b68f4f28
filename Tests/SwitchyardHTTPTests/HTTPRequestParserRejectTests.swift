import Testing
import SwitchyardHTTP

/// Every malformed or ambiguous shape, with the status the server must answer.
@Suite struct HTTPRequestParserRejectTests {
    static let ok = "GET / HTTP/1.1\r\nHost: h\r\n"

    // MARK: request line

    @Test(arguments: [
        "GET  / HTTP/1.1\r\nHost: h\r\n\r\n",          // double space
        "GET / HTTP/1.1 \r\nHost: h\r\n\r\n",          // trailing space
        "GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n",          // tab separator
        "GET /\u{01} HTTP/1.1\r\nHost: h\r\n\r\n",      // control char in target
        "GET /ä HTTP/1.1\r\nHost: h\r\n\r\n",           // non-ASCII target
        "G(T / HTTP/1.1\r\nHost: h\r\n\r\n",            // method not a token
        " GET / HTTP/1.1\r\nHost: h\r\n\r\n",           // leading space
        "GET /\r\nHost: h\r\n\r\n",                     // HTTP/0.9 style
        "GET / http/1.1\r\nHost: h\r\n\r\n",           // lower-case protocol
        "GET / HTTP/1\r\nHost: h\r\n\r\n",
        "GET / HTTP/1.1x\r\nHost: h\r\n\r\n",
        "GET / FOO/1.1\r\nHost: h\r\n\r\n",
        "GET / HTTP/1.1\rHost: h\r\n\r\n",             // bare CR in line ending
        "GET /\r HTTP/1.1\r\nHost: h\r\n\r\n",          // bare CR in target
        "GET / HTTP/1.1\r\r\nHost: h\r\n\r\n",          // CR CR LF
        "\u{00}GET / HTTP/1.1\r\nHost: h\r\n\r\n",
    ])
    func badRequestLine(_ input: String) {
        #expect(ParserDriver.status(input) == 400, "\(input.debugDescription)")
    }

    @Test(arguments: ["HTTP/2.0", "HTTP/0.9", "HTTP/1.2", "HTTP/3.0"])
    func unsupportedVersion(_ v: String) {
        #expect(ParserDriver.status("GET / \(v)\r\nHost: h\r\n\r\n") == 505)
    }

    @Test func requestLineTooLong() {
        let limits = HTTPParserLimits(maxRequestLineLength: 64)
        let long = "GET /" + String(repeating: "a", count: 100) + " HTTP/1.1\r\nHost: h\r\n\r\n"
        #expect(ParserDriver.status(long, limits: limits) == 414)
        // detected before the line ends
        var d = ParserDriver(limits: limits)
        d.feed("GET /" + String(repeating: "a", count: 59))  // exactly 64 bytes
        #expect(d.error == nil)
        d.feed("\r")  // a pending CR does not count
        #expect(d.error == nil)
        d.feed("a")
        #expect(d.error?.status == 414)
    }

    @Test func requestLineDefaultLimit() {
        let long = "GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\nHost: h\r\n\r\n"
        #expect(ParserDriver.status(long) == 414)
    }

    // MARK: header block

    @Test func headerBlockTooLarge() {
        let limits = HTTPParserLimits(maxHeaderBlockSize: 256)
        let big = Self.ok + "X-Big: " + String(repeating: "v", count: 300) + "\r\n\r\n"
        #expect(ParserDriver.status(big, limits: limits) == 431)
        // detected without the end of the block
        var d = ParserDriver(limits: limits)
        d.feed(Self.ok + "X-Big: " + String(repeating: "v", count: 300))
        #expect(d.error?.status == 431)
        // many small fields
        let many = Self.ok + String(repeating: "X-A: 1\r\n", count: 40) + "\r\n"
        #expect(ParserDriver.status(many, limits: limits) == 431)
    }

    @Test func headerBlockDefaultLimit() {
        let big = Self.ok + String(repeating: "X-Filler: " + String(repeating: "z", count: 90) + "\r\n", count: 90) + "\r\n"
        #expect(ParserDriver.status(big) == 431)
    }

    @Test func tooManyHeaderFields() {
        let limits = HTTPParserLimits(maxHeaderCount: 5)
        #expect(ParserDriver.status(Self.ok + String(repeating: "A: b\r\n", count: 4) + "\r\n", limits: limits) == nil)
        #expect(ParserDriver.status(Self.ok + String(repeating: "A: b\r\n", count: 5) + "\r\n", limits: limits) == 431)
    }

    @Test(arguments: [
        "X-A: 1\r\n b\r\n",              // obs-fold, SP
        "X-A: 1\r\n\tb\r\n",             // obs-fold, HTAB
        "Host : h2\r\n",                 // space before colon
        "X-A\t: 1\r\n",                  // tab before colon
        "X-A 1\r\n",                     // no colon
        ": empty-name\r\n",
        "X(A): 1\r\n",                   // name not a token
        "X-A: a\u{00}b\r\n",             // NUL in value
        "X-A: a\rb\r\n",                 // bare CR in value
        "X-A: a\u{0B}b\r\n",             // VT
        "X-A: a\u{7F}b\r\n",             // DEL
        "X-A: a\u{1B}b\r\n",             // ESC
        "X-A: 1\r\r\n",                  // CR CR LF
        "X-A\r\n",
    ])
    func badHeaderField(_ field: String) {
        #expect(ParserDriver.status(Self.ok + field + "\r\n") == 400, "\(field.debugDescription)")
    }

    @Test func obsFoldRightAfterRequestLine() {
        #expect(ParserDriver.status("GET / HTTP/1.1\r\n Host: h\r\n\r\n") == 400)
    }

    @Test func tabInValueIsAllowed() {
        #expect(ParserDriver.status(Self.ok + "X-A: a\tb\r\n\r\n") == nil)
    }

    // MARK: Content-Length / Transfer-Encoding

    @Test(arguments: [
        "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
        "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
        "Transfer-Encoding: chunked\r\nContent-Length: 0\r\n",
        "Content-Length: 5\r\nContent-Length: 6\r\n",
        "Content-Length: 5, 6\r\n",
        "Content-Length: 5,\r\nContent-Length: 7\r\n",
        "Content-Length: -1\r\n",
        "Content-Length: +5\r\n",
        "Content-Length: 0x10\r\n",
        "Content-Length: 5 5\r\n",
        "Content-Length: 1.0\r\n",
        "Content-Length:\r\n",
        "Content-Length: 99999999999999999999999\r\n",
        "Transfer-Encoding: chunked, chunked\r\n",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
        "Transfer-Encoding:\r\n",
        "Transfer-Encoding: ,\r\n",
        "Transfer-Encoding: gzip\r\nContent-Length: 5\r\n",
    ])
    func framingConflicts(_ fields: String) {
        #expect(ParserDriver.status("POST / HTTP/1.1\r\nHost: h\r\n" + fields + "\r\nhello") == 400, "\(fields.debugDescription)")
    }

    @Test func identicalDuplicateContentLengthIsAccepted() throws {
        for fields in ["Content-Length: 5\r\nContent-Length: 5\r\n", "Content-Length: 5, 5\r\n", "Content-Length:  005 \r\n"] {
            let d = ParserDriver.run("POST / HTTP/1.1\r\nHost: h\r\n" + fields + "\r\nhello")
            #expect(d.error == nil, "\(fields.debugDescription)")
            #expect(d.messages.first?.head.contentLength == 5)
            #expect(d.messages.first?.bodyString == "hello")
        }
    }

    @Test(arguments: [
        "Transfer-Encoding: gzip\r\n",
        "Transfer-Encoding: gzip, chunked\r\n",
        "Transfer-Encoding: chunked, gzip\r\n",
        "Transfer-Encoding: identity\r\n",
        "Transfer-Encoding: x-unknown\r\n",
        "Transfer-Encoding: \"chunked\"\r\n",
        "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
    ])
    func unsupportedTransferCoding(_ fields: String) {
        #expect(ParserDriver.status("POST / HTTP/1.1\r\nHost: h\r\n" + fields + "\r\n") == 501, "\(fields.debugDescription)")
    }

    @Test func chunkedOnHTTP10() {
        #expect(ParserDriver.status("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n") == 400)
    }

    @Test func transferEncodingCaseInsensitive() throws {
        let d = ParserDriver.run("POST / HTTP/1.1\r\nHost: h\r\ntransfer-encoding:  Chunked \r\n\r\n1\r\nx\r\n0\r\n\r\n")
        #expect(d.error == nil)
        #expect(d.messages.first?.head.isChunked == true)
        #expect(d.messages.first?.head.contentLength == nil)
        #expect(d.messages.first?.bodyString == "x")
    }

    @Test func contentLengthOverBodyLimit() {
        let limits = HTTPParserLimits(maxBodySize: 10)
        #expect(ParserDriver.status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n", limits: limits) == 413)
        #expect(ParserDriver.status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789", limits: limits) == nil)
        // unlimited by default
        #expect(ParserDriver.status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000000\r\n\r\n") == nil)
    }

    @Test func errorReasonsAreReadable() {
        let e = ParserDriver.run("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n").error
        #expect(e == HTTPParseError(status: 400, reason: "both Content-Length and Transfer-Encoding"))
    }
}
