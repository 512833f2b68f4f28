import Testing
import SwitchyardHTTP

@Suite struct HTTPResponseHeadTests {
    func text(_ head: HTTPResponseHead) -> String {
        var buf: [UInt8] = []
        head.write(into: &buf)
        return String(decoding: buf, as: UTF8.self)
    }

    @Test func goldenBytes() {
        var h = HTTPHeaders()
        h.add(name: "Content-Type", value: "text/plain")
        h.add(name: "Content-Length", value: "5")
        h.add(name: "Set-Cookie", value: "a=1")
        h.add(name: "Set-Cookie", value: "b=2")
        let head = HTTPResponseHead(status: 200, headers: h)
        var buf: [UInt8] = [0xFF]
        head.write(into: &buf)
        #expect(buf == [0xFF] + Array("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n".utf8))
        #expect(head.bytes == Array(buf.dropFirst()))
    }

    @Test func statusLineVariants() {
        #expect(text(HTTPResponseHead(status: 404)) == "HTTP/1.1 404 Not Found\r\n\r\n")
        #expect(text(HTTPResponseHead(status: 101, headers: ["Upgrade": "websocket", "Connection": "Upgrade"]))
                == "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
        #expect(text(HTTPResponseHead(status: 200, reason: "Fine", version: .http1_0)) == "HTTP/1.0 200 Fine\r\n\r\n")
        #expect(text(HTTPResponseHead(status: 599)) == "HTTP/1.1 599 Server Error\r\n\r\n")
        #expect(text(HTTPResponseHead(status: 100)) == "HTTP/1.1 100 Continue\r\n\r\n")
    }

    @Test func lineBreaksCannotBeInjected() {
        let head = HTTPResponseHead(status: 302, reason: "Found\r\nX: y", headers: ["Location": "/a\r\nSet-Cookie: evil=1", "X\n": "v\u{0}"])
        #expect(text(head) == "HTTP/1.1 302 Found  X: y\r\nLocation: /a  Set-Cookie: evil=1\r\nX : v \r\n\r\n")
    }

    @Test func reasonPhrases() {
        let expected: [Int: String] = [
            100: "Continue", 101: "Switching Protocols", 200: "OK", 201: "Created", 202: "Accepted",
            203: "Non-Authoritative Information", 204: "No Content", 205: "Reset Content", 206: "Partial Content",
            301: "Moved Permanently", 302: "Found", 303: "See Other", 304: "Not Modified",
            307: "Temporary Redirect", 308: "Permanent Redirect", 400: "Bad Request", 401: "Unauthorized",
            402: "Payment Required", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
            406: "Not Acceptable", 407: "Proxy Authentication Required", 408: "Request Timeout", 409: "Conflict",
            410: "Gone", 411: "Length Required", 412: "Precondition Failed", 413: "Content Too Large",
            414: "URI Too Long", 415: "Unsupported Media Type", 416: "Range Not Satisfiable",
            417: "Expectation Failed", 421: "Misdirected Request", 426: "Upgrade Required",
            428: "Precondition Required", 429: "Too Many Requests", 431: "Request Header Fields Too Large",
            500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
            504: "Gateway Timeout", 505: "HTTP Version Not Supported",
        ]
        for (code, phrase) in expected {
            #expect(HTTPStatus.reasonPhrase(code) == phrase)
        }
        #expect(HTTPStatus.forbidsBody(204))
        #expect(HTTPStatus.forbidsBody(304))
        #expect(HTTPStatus.forbidsBody(101))
        #expect(!HTTPStatus.forbidsBody(200))
    }

    @Test func chunkedEncoding() {
        var buf: [UInt8] = []
        ChunkedEncoding.chunkHeader(1, into: &buf)
        ChunkedEncoding.chunkHeader(255, into: &buf)
        ChunkedEncoding.chunkHeader(4096, into: &buf)
        ChunkedEncoding.chunkHeader(0x1234abcd, into: &buf)
        #expect(String(decoding: buf, as: UTF8.self) == "1\r\nff\r\n1000\r\n1234abcd\r\n")
        #expect(ChunkedEncoding.terminator == Array("0\r\n\r\n".utf8))
        var out: [UInt8] = []
        Array("hello".utf8).withUnsafeBytes { ChunkedEncoding.appendChunk($0, into: &out) }
        out += ChunkedEncoding.terminator
        #expect(String(decoding: out, as: UTF8.self) == "5\r\nhello\r\n0\r\n\r\n")
    }

    @Test func encoderOutputParses() throws {
        var body: [UInt8] = []
        let pieces = ["a", String(repeating: "b", count: 300), "ccc"]
        for p in pieces { Array(p.utf8).withUnsafeBytes { ChunkedEncoding.appendChunk($0, into: &body) } }
        body += ChunkedEncoding.terminator
        let req = Array("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n".utf8) + body
        var d = ParserDriver()
        d.feed(req)
        #expect(d.error == nil)
        #expect(d.messages.first?.bodyString == pieces.joined())
        #expect(d.messages.first?.complete == true)
    }
}
