import Testing
@testable import SwitchyardServer
import SwitchyardHTTP
import SwitchyardHTTP2
import SwitchyardWebSocket
import SwitchyardGatewayCodecs

/// The HTTP/1.1 view an HTTP/2 request gets (`HTTP2RequestMapping`): what routes and backends see.
@Suite("HTTP/2 request mapping")
struct HTTP2RequestMappingTests {
    func map(_ head: HTTP2RequestHead, endStream: Bool = true) -> Result<HTTP2RequestMapping.Mapped, HTTPParseError> {
        var random = FastRandom(seed: 7)
        return HTTP2RequestMapping.http1Head(head, endStream: endStream, limits: HTTPParserLimits(), random: &random)
    }

    func field(_ name: String, _ value: String) -> HPACKHeaderField { HPACKHeaderField(name: name, value: value) }

    @Test func getTakesHostFromAuthorityAndJoinsCookies() throws {
        let head = HTTP2RequestHead(method: "GET", scheme: "https", authority: "a.test:8443", path: "/x?y=1",
                                    fields: [field("cookie", "a=1"), field("accept", "*/*"), field("cookie", "b=2")])
        let mapped = try map(head).get()
        #expect(mapped.head.method == "GET" && mapped.head.path == "/x" && mapped.head.query == "y=1")
        #expect(mapped.head.version == .http1_1 && mapped.head.host == "a.test:8443")
        #expect(mapped.head.headers.values("Cookie") == ["a=1; b=2"])
        #expect(!mapped.hasBody && !mapped.isTunnel && !mapped.head.hasBody)
    }

    @Test func bodyOfUnknownLengthIsChunkedAndAnnouncedLengthKept() throws {
        let unknown = try map(HTTP2RequestHead(method: "POST", scheme: "http", authority: "h", path: "/p"), endStream: false).get()
        #expect(unknown.hasBody && unknown.head.isChunked && unknown.head.contentLength == nil)
        let known = try map(HTTP2RequestHead(method: "POST", scheme: "http", authority: "h", path: "/p",
                                             fields: [field("content-length", "12")], contentLength: 12), endStream: false).get()
        #expect(known.hasBody && !known.head.isChunked && known.head.contentLength == 12)
        // END_STREAM on the HEADERS: no body, whatever content-length said.
        let none = try map(HTTP2RequestHead(method: "POST", scheme: "http", authority: "h", path: "/p",
                                            fields: [field("content-length", "0")], contentLength: 0)).get()
        #expect(!none.hasBody && none.head.contentLength == nil && !none.head.isChunked)
    }

    /// `RepeatedRequestMemo`: the very list again (the HPACK decoder's repeated block) under the same
    /// END_STREAM and limits gives the head made the first time; anything else is mapped afresh, and
    /// an upgrade is never kept (each gets its own Sec-WebSocket-Key).
    @Test func aRepeatedListGetsItsEarlierHeadAndNothingElseDoes() throws {
        var random = FastRandom(seed: 7)
        var cache = FieldStringCache()
        var memo = RepeatedRequestMemo()
        func map(_ head: HTTP2RequestHead, endStream: Bool = true, limits: HTTPParserLimits = HTTPParserLimits()) throws
            -> HTTP2RequestMapping.Mapped {
            try HTTP2RequestMapping.http1Head(head, endStream: endStream, limits: limits, random: &random, cache: &cache,
                                              memo: &memo).get()
        }
        let get = HTTP2RequestHead(method: "GET", scheme: "https", authority: "a.test", path: "/f.txt",
                                   fields: [field("accept", "*/*")])
        let first = try map(get)
        #expect(try map(get).head.sharesStorage(with: first.head), "the same list: the same head")
        let equalCopy = HTTP2RequestHead(method: "GET", scheme: "https", authority: "a.test", path: "/f.txt",
                                         fields: [field("accept", "*/*")])
        let copied = try map(equalCopy)
        #expect(!copied.head.sharesStorage(with: first.head) && copied.head == first.head, "an equal list is mapped again")
        let bodied = try map(equalCopy, endStream: false)
        #expect(bodied.hasBody && bodied.head.isChunked, "END_STREAM is part of the key")
        #expect(try map(equalCopy).head == first.head)   // kept again, END_STREAM set: only the limits differ below
        #expect(throws: HTTPParseError.self, "the limits are part of the key") {
            try map(equalCopy, limits: HTTPParserLimits(maxHeaderCount: 1))
        }

        let long = HTTP2RequestHead(method: "GET", scheme: "https", authority: "a.test", path: "/f.txt",
                                    fields: [field("x-long", String(repeating: "v", count: RepeatedRequestMemo.maxListBytes))])
        let longFirst = try map(long)
        #expect(!(try map(long)).head.sharesStorage(with: longFirst.head), "a long list is not kept (it cannot repeat by identity)")

        let upgrade = HTTP2RequestHead(method: "CONNECT", scheme: "https", authority: "a.test", path: "/ws",
                                       connectProtocol: "websocket", fields: [field("sec-websocket-version", "13")])
        let one = try map(upgrade, endStream: false), two = try map(upgrade, endStream: false)
        #expect(!two.head.sharesStorage(with: one.head))
        #expect(one.head.headers.first("Sec-WebSocket-Key") != two.head.headers.first("Sec-WebSocket-Key"))
    }

    @Test func extendedConnectBecomesTheWebSocketUpgrade() throws {
        let head = HTTP2RequestHead(method: "CONNECT", scheme: "https", authority: "a.test", path: "/ws/echo",
                                    connectProtocol: "websocket",
                                    fields: [field("sec-websocket-version", "8"), field("sec-websocket-key", "client's"),
                                             field("origin", "https://a.test")])
        let mapped = try map(head, endStream: false).get()
        let h = mapped.head
        #expect(mapped.isTunnel && !mapped.hasBody)
        #expect(h.method == "GET" && h.path == "/ws/echo" && h.version == .http1_1)
        #expect(h.upgradeOffers("websocket") && h.connectionTokens.contains("upgrade"))
        #expect(h.headers.values("Sec-WebSocket-Version") == ["13"])
        let keys = h.headers.values("Sec-WebSocket-Key")
        #expect(keys.count == 1 && keys[0] != "client's" && keys[0].count == 24)   // 16 random bytes, base64
        #expect(h.headers.first("Origin") == "https://a.test")
        #expect(CGIRequestInfo.wantsWebSocket(h))
    }

    @Test func cookieCrumbsJoinAsTheHTTP11TextWouldReadThem() throws {
        func cookie(_ crumbs: [String]) throws -> [String] {
            let head = HTTP2RequestHead(method: "GET", scheme: "https", authority: "a.test", path: "/",
                                        fields: crumbs.map { field("cookie", $0) } + [field("accept", "*/*")])
            return try map(head).get().head.headers.values("Cookie")
        }
        #expect(try cookie(["a=1"]) == ["a=1"])
        #expect(try cookie(["a=1", "b=2", "c=3"]) == ["a=1; b=2; c=3"])
        #expect(try cookie(["", "b=2"]) == ["; b=2"])
        #expect(try cookie(["a=1", ""]) == ["a=1;"], "trailing whitespace trimmed, as the parser trims it")
        let head = try map(HTTP2RequestHead(method: "GET", scheme: "https", authority: "a.test", path: "/",
                                            fields: [field("accept", "*/*"), field("cookie", "a=1"), field("x", "y"),
                                                     field("cookie", "b=2")])).get().head
        #expect(head.headers.map(\.name) == ["host", "accept", "cookie", "x"], "joined at the first crumb's place")
        #expect(head.headBytes == "GET / HTTP/1.1\r\nhost: a.test\r\naccept: */*\r\ncookie: a=1; b=2\r\nx: y\r\n\r\n".utf8.count)
    }

    @Test func whatHTTP11CannotCarryIsRefusedByTheParser() {
        let spaced = map(HTTP2RequestHead(method: "GET", scheme: "http", authority: "h", path: "/a b"))
        guard case .failure(let error) = spaced else { Issue.record("a :path with a space mapped"); return }
        #expect(error.status == 400)
        let huge = map(HTTP2RequestHead(method: "GET", scheme: "http", authority: "h", path: "/",
                                        fields: [field("x-big", String(repeating: "v", count: 70_000))]))
        guard case .failure(let tooBig) = huge else { Issue.record("an oversized head mapped"); return }
        #expect(tooBig.status == 431)
    }
}
