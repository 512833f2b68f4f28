import Testing
@testable import SwitchyardHTTP2

/// Request header rules (RFC 9113 §8.2, §8.3, §8.5) and extended CONNECT (RFC 8441 §4).
struct HTTP2RequestValidationTests {
    static let websocket: [(String, String)] = [(":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "https"),
                                                (":path", "/chat"), (":authority", "example.com"),
                                                ("sec-websocket-version", "13")]

    /// Sends `pairs` as a request on a fresh connection; returns the request head or the RST code.
    func outcome(_ pairs: [(String, String)], limits: HTTP2Limits = HTTP2Limits()) -> (head: HTTP2RequestHead?, reset: HTTP2ErrorCode?) {
        var client = HTTP2TestClient.connected(limits: limits)
        let events = client.send(client.headers(1, pairs, endStream: false))
        return (events.requests.first?.1, client.received().resetCode(1))
    }

    func rejection(_ pairs: [(String, String)], limits: HTTP2Limits = HTTP2Limits()) -> HTTP2ErrorCode? {
        let result = outcome(pairs, limits: limits)
        return result.head == nil ? result.reset : nil
    }

    func accepted(_ pairs: [(String, String)]) throws -> HTTP2RequestHead {
        try #require(outcome(pairs).head)
    }

    @Test func extendedConnectForWebSocket() throws {
        let head = try accepted(Self.websocket)
        #expect(head.isExtendedConnect && head.connectProtocol == "websocket" && head.method == "CONNECT")
        #expect(head.path == "/chat" && head.scheme == "https" && head.authority == "example.com")
        #expect(head.first("sec-websocket-version") == "13")
    }

    @Test func extendedConnectNeedsEveryPseudoHeader() {
        for missing in [":scheme", ":path", ":authority"] {
            #expect(rejection(Self.websocket.filter { $0.0 != missing }) == .protocolError, "without \(missing)")
        }
    }

    @Test func extendedConnectNeedsTheSetting() {
        var limits = HTTP2Limits()
        limits.enableConnectProtocol = false
        let client = HTTP2TestClient(limits: limits)
        var copy = client
        guard case .settings(_, let settings)? = copy.received().first?.payload else { return }
        #expect(!settings.contains { $0.identifier == HTTP2Setting.enableConnectProtocol })
        #expect(rejection(Self.websocket, limits: limits) == .protocolError)
    }

    @Test func protocolOnlyWithConnectAndPlainConnectHasNoPath() throws {
        #expect(rejection(HTTP2TestClient.get() + [(":protocol", "websocket")]) == .protocolError)
        let plain = try accepted([(":method", "CONNECT"), (":authority", "example.com:443")])
        #expect(plain.path == nil && plain.scheme == nil && !plain.isExtendedConnect)
        #expect(rejection([(":method", "CONNECT"), (":authority", "example.com:443"), (":path", "/")]) == .protocolError)
    }

    /// §8.3.1: a Host field naming another authority than `:authority` is malformed (the gateway
    /// routes on Host); the same one, spelled in another case or with the default port, is not.
    @Test func hostDifferingFromAuthorityIsMalformed() throws {
        let get = HTTP2TestClient.get()                                   // https, example.com
        #expect(rejection(get + [("host", "other.example")]) == .protocolError)
        #expect(rejection(get + [("host", "example.com:8443")]) == .protocolError)
        for same in ["example.com", "EXAMPLE.com", "example.com:443"] {
            #expect(try accepted(get + [("host", same)]).first("host") == same)
        }
        #expect(try accepted(get.filter { $0.0 != ":authority" } + [("host", "only.example")]).authority == nil)
    }

    @Test func malformedRequestsAreStreamErrors() {
        let get = HTTP2TestClient.get()
        let cases: [(String, [(String, String)])] = [
            ("uppercase name", get + [("Accept", "*/*")]),
            ("connection header", get + [("connection", "keep-alive")]),
            ("upgrade header", get + [("upgrade", "websocket")]),
            ("transfer-encoding", get + [("transfer-encoding", "chunked")]),
            ("te other than trailers", get + [("te", "gzip")]),
            ("pseudo after regular", [("accept", "*/*")] + get),
            ("unknown pseudo", get + [(":status", "200")]),
            ("duplicate pseudo", get + [(":path", "/again")]),
            ("missing :scheme", get.filter { $0.0 != ":scheme" }),
            ("missing :method", get.filter { $0.0 != ":method" }),
            ("empty :path", get.filter { $0.0 != ":path" } + [(":path", "")]),
            ("CR in value", get + [("x-a", "b\rc")]),
            ("leading space in value", get + [("x-a", " b")]),
            ("space in name", get + [("x a", "b")]),
            ("bad content-length", get + [("content-length", "12a")]),
            ("signed content-length", get + [("content-length", "+5")]),
            ("huge content-length", get + [("content-length", "99999999999999999999")]),
            ("conflicting content-length", get + [("content-length", "1"), ("content-length", "2")]),
        ]
        for (name, pairs) in cases {
            #expect(rejection(pairs) == .protocolError, "\(name)")
        }
    }

    /// The decoder marks the names it took from an entry whose name is known valid (static
    /// entries; dynamic ones whose name passed the rule when inserted), and only those: the
    /// validator skips their bytes and still refuses a bad name, new or from the dynamic table.
    @Test func namesFromTheTablesAreCheckedOnce() throws {
        var encoder = HPACKEncoder(useHuffman: false)
        var decoder = HPACKDecoder()
        var block: [UInt8] = []
        let fields = [HPACKHeaderField(name: ":method", value: "POST"), HPACKHeaderField(name: "user-agent", value: "t"),
                      HPACKHeaderField(name: "x-custom", value: "1"), HPACKHeaderField(name: "X-Bad", value: "2"),
                      HPACKHeaderField(name: "x-plain", value: "3", neverIndexed: true)]
        encoder.encode(fields, into: &block)
        let first = try decoder.decode(block)
        // Static names (indexed pair, literal with a static name) and the new name checked as its
        // literal entered the table are marked; X-Bad (refused) and x-plain (never indexed) not.
        #expect(first.checkedNames == 0b00111)
        block = []
        encoder.encode(fields, into: &block)
        let second = try decoder.decode(block)
        // Now x-custom is a dynamic entry with a valid name; X-Bad's entry is not marked; x-plain
        // was never indexed (a literal again).
        #expect(second.checkedNames == 0b00111)
        for (index, valid) in [(1, false), (2, true), (3, true)] {
            #expect(decoder.table.nameIsValid(at: index) == valid, "entry \(index)")
        }
        #expect(HTTP2HeaderValidator.isValidName(Array(":path".utf8)) && HTTP2HeaderValidator.isValidName(Array("x-a".utf8)))
        #expect(!HTTP2HeaderValidator.isValidName(Array("X-a".utf8)) && !HTTP2HeaderValidator.isValidName([])
                && !HTTP2HeaderValidator.isValidName(Array("a:b".utf8)))
        // A bad name is refused whether it is new or comes back from the dynamic table.
        var client = HTTP2TestClient.connected()
        _ = client.send(client.headers(1, HTTP2TestClient.get() + [("X-Bad", "1")]))
        #expect(client.received().resetCode(1) == .protocolError)
        _ = client.send(client.headers(3, HTTP2TestClient.get() + [("X-Bad", "1")]))
        #expect(client.received().resetCode(3) == .protocolError)
        #expect(try accepted(HTTP2TestClient.get() + [("user-agent", "t"), ("x-custom", "1")]).fields.count == 2)
    }

    /// The decoder marks the values it knows pass the value rule: every static entry's, a dynamic
    /// entry's found valid when it was inserted, a literal's checked as it was decoded.
    /// A bad value is refused again when referenced; an entry evicted and replaced at the same
    /// index has the new entry's mark, not the old one's.
    @Test func valuesFromTheTablesAreCheckedOnce() throws {
        for field in HPACKStaticTable.fields {
            #expect(HTTP2HeaderValidator.isValidValue(field.value) && HTTP2HeaderValidator.isValidName(field.name), "\(field)")
        }
        #expect(!HTTP2HeaderValidator.isValidValue(Array("a\rb".utf8)) && !HTTP2HeaderValidator.isValidValue(Array(" b".utf8))
                && !HTTP2HeaderValidator.isValidValue(Array("b\t".utf8)) && HTTP2HeaderValidator.isValidValue([]))
        var encoder = HPACKEncoder(useHuffman: false)
        var decoder = HPACKDecoder()
        var block: [UInt8] = []
        let fields = [HPACKHeaderField(name: ":method", value: "GET"), HPACKHeaderField(name: "x-ok", value: "1"),
                      HPACKHeaderField(name: "x-cr", value: "a\rb"), HPACKHeaderField(name: "x-sp", value: " b"),
                      HPACKHeaderField(name: "x-plain", value: "3", neverIndexed: true)]
        // x-plain's value, a literal's, is checked as it is decoded.
        encoder.encode(fields, into: &block)
        #expect(try decoder.decode(block).checkedValues == 0b10011)
        block = []
        encoder.encode(fields, into: &block)
        #expect(try decoder.decode(block).checkedValues == 0b10011)
        for (index, valid) in [(1, false), (2, false), (3, true)] {
            #expect(decoder.table.valueIsValid(at: index) == valid, "entry \(index)")
        }

        // Entry 62 replaced: "x-a: ok" (37 bytes) evicted by "x-a: b\rc" (38) in a 64-byte table.
        var small = HPACKDecoder(maxTableSize: 64)
        let get: [UInt8] = [0x82, 0x86, 0x84]   // :method GET, :scheme http, :path /
        func request(_ block: [UInt8]) throws -> Result<HTTP2RequestHead, HTTP2Error> {
            let decoded = try small.decode(get + block)
            do throws(HTTP2Error) {
                return .success(try HTTP2HeaderValidator.request(decoded.fields, streamID: 1, connectProtocolEnabled: false,
                                                                 checkedNames: decoded.checkedNames,
                                                                 checkedValues: decoded.checkedValues))
            } catch { return .failure(error) }
        }
        let name = Array("x-a".utf8)
        guard case .success = try request([0x40, 3] + name + [2] + Array("ok".utf8)) else { Issue.record("x-a: ok refused"); return }
        #expect(try small.decode(get + [0xbe]).checkedValues == 0b1111)
        guard case .success(let again) = try request([0xbe]) else { Issue.record("x-a: ok refused when referenced"); return }
        #expect(again.first("x-a") == "ok")
        guard case .failure = try request([0x40, 3] + name + [3] + Array("b\rc".utf8)) else { Issue.record("CR accepted"); return }
        #expect(small.table.count == 1)
        #expect(try small.decode(get + [0xbe]).checkedValues == 0b0111)
        guard case .failure = try request([0xbe]) else { Issue.record("CR accepted when referenced"); return }

        // Through a session: refused when new, refused again as a reference to the table.
        var client = HTTP2TestClient.connected()
        _ = client.send(client.headers(1, HTTP2TestClient.get() + [("x-a", " b")]))
        #expect(client.received().resetCode(1) == .protocolError)
        _ = client.send(client.headers(3, HTTP2TestClient.get() + [("x-a", " b")]))
        #expect(client.received().resetCode(3) == .protocolError)
    }

    /// The kinds the decoder marks (pseudo-header slot, plain regular field) let the validator take
    /// a field without reading it; every rule still holds for marked fields: a pseudo-header
    /// after a regular field, a duplicate, connection-specific fields, te, host against
    /// :authority, conflicting content-lengths, all refused when they come from the tables; an
    /// entry evicted and replaced at the same index has the new entry's kind.
    @Test func fieldKindsFromTheTables() throws {
        func literal(_ name: String, _ value: String) -> [UInt8] {   // with incremental indexing, a new name
            [0x40, UInt8(name.utf8.count)] + Array(name.utf8) + [UInt8(value.utf8.count)] + Array(value.utf8)
        }
        let get: [UInt8] = [0x82, 0x86, 0x84]   // :method GET, :scheme http, :path /
        var decoder = HPACKDecoder()
        func request(_ block: [UInt8]) throws -> Result<HTTP2RequestHead, HTTP2Error> {
            let decoded = try decoder.decode(block)
            do throws(HTTP2Error) {
                return .success(try HTTP2HeaderValidator.request(decoded.fields, streamID: 1, connectProtocolEnabled: false,
                                                                 checkedNames: decoded.checkedNames,
                                                                 checkedValues: decoded.checkedValues, kinds: decoded.kinds))
            } catch { return .failure(error) }
        }
        func refused(_ block: [UInt8], _ why: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
            if case .success = try request(block) { Issue.record("accepted: \(why)", sourceLocation: sourceLocation) }
        }
        // Entries, newest first once all are in: 62 x-a: 1, 63 :method: POST (a pseudo-header entry),
        // 64 connection: close, 65 te: gzip, 66 host: other, 67 content-length: 2, 68 content-length: 1.
        guard case .success = try request(get + literal("x-a", "1")) else { Issue.record("x-a refused"); return }
        try refused(get + literal("content-length", "1") + literal("content-length", "2") + literal("host", "other")
                    + literal("te", "gzip") + literal("connection", "close"), "the literals")
        guard case .success = try request([0x42, 4] + Array("POST".utf8) + [0x86, 0x84] + literal("x-a", "1")) else {
            Issue.record("POST refused"); return
        }
        let kinds = try decoder.decode([0xbe, 0xbf, 0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0x82, 0x84]).kinds
        #expect(kinds == 0x5_2_0_0_0_0_0_2_1, "\(String(kinds, radix: 16))")
        guard case .success(let post) = try request([0xbf, 0x86, 0x84, 0xbe]) else { Issue.record("refs refused"); return }
        #expect(post.method == "POST" && post.first("x-a") == "1")
        try refused([0xbe, 0x82, 0x86, 0x84], "pseudo-header after a regular field")
        try refused(get + [0x82], "duplicate :method")
        try refused(get + [0xbf], "duplicate :method (a dynamic entry)")
        try refused(get + [0xc0], "connection")
        try refused(get + [0xc1], "te: gzip")
        try refused([0x82, 0x86, 0x84, 0x01, 0x01] + Array("a".utf8) + [0xc2], "host other than :authority a")
        try refused(get + [0xc3, 0xc4], "content-length 2 and 1")
        #expect(try request(get + [0xc4, 0xc4]).get().contentLength == 1)

        // A literal value under a table name (not indexed: nghttp2's :path) has the name's kind when
        // the value is valid (checked once per recent literal), none when not: refused every time.
        #expect(try decoder.decode([0x82, 0x86, 0x04, 0x02] + Array("/x".utf8)).kinds == 0x5_3_2)
        let spaced: [UInt8] = [0x82, 0x86, 0x04, 0x03] + Array("/x ".utf8)
        #expect(try decoder.decode(spaced).kinds == 0x0_3_2)
        try refused(spaced, ":path with a trailing space")
        try refused(spaced, ":path with a trailing space, again")
        guard case .success(let x) = try request([0x82, 0x86, 0x04, 0x02] + Array("/x".utf8)) else { Issue.record("/x refused"); return }
        #expect(x.path == "/x")

        // Replaced at index 62 in a 64-byte table: "x-a: 1" (36) evicted by "connection: x" (43).
        decoder = HPACKDecoder(maxTableSize: 64)
        guard case .success = try request(get + literal("x-a", "1")) else { Issue.record("x-a refused"); return }
        guard case .success = try request(get + [0xbe]) else { Issue.record("x-a refused when referenced"); return }
        try refused(get + literal("connection", "x"), "connection")
        #expect(decoder.table.count == 1)
        try refused(get + [0xbe], "connection, referenced at the index x-a had")
    }

    /// NUL, CR and LF are found wherever they are in a value (the check reads eight bytes at a
    /// time), and no other byte is taken for one of them.
    @Test func forbiddenValueBytesAtEveryPosition() {
        for length in [1, 7, 8, 9, 15, 16, 17, 23] {
            for position in 0..<length {
                for byte in 0...255 {
                    var value: [UInt8] = []
                    for i in 0..<length { value.append(UInt8(truncatingIfNeeded: 0x20 + (i * 37) % 0xe0)) }
                    value[position] = UInt8(byte)
                    let expected = value.contains { $0 == 0 || $0 == 0x0a || $0 == 0x0d }
                    #expect(HTTP2HeaderValidator.containsNulCROrLF(value) == expected, "byte \(byte) at \(position) of \(length)")
                }
            }
        }
        #expect(!HTTP2HeaderValidator.containsNulCROrLF([]))
    }

    @Test func acceptedRequestForms() throws {
        let get = HTTP2TestClient.get()
        #expect(try accepted(get + [("te", "trailers")]).first("te") == "trailers")
        #expect(try accepted([(":method", "OPTIONS"), (":scheme", "https"), (":authority", "a"), (":path", "*")]).path == "*")
        let cookies = try accepted(get + [("cookie", "a=1"), ("cookie", "b=2")])
        #expect(cookies.fields.filter { $0.nameString == "cookie" }.count == 2, "cookie crumbs kept as received")
        let http1 = cookies.http1Fields().map { (String(decoding: $0.name, as: UTF8.self), String(decoding: $0.value, as: UTF8.self)) }
        #expect(http1.map(\.0) == ["host", "cookie"] && http1[0].1 == "example.com" && http1[1].1 == "a=1; b=2")
        let withHost = try accepted(get + [("host", "Example.com:443")]).http1Fields()
        #expect(withHost.count == 1 && withHost[0].value == Array("Example.com:443".utf8), "an explicit Host is kept, not doubled")
    }
}
