import Testing
@testable import SwitchyardHTTP2

/// The gateway's response heads as field lists (`HTTP2FieldList`): the same rules as
/// `HTTP2ResponseFields.make`, and the same HPACK bytes as the field-array path.
struct HTTP2FieldListTests {
    @Test func linesFollowTheSameRulesAsHeaders() {
        let head = "Content-Type: text/html\r\nTE: trailers\r\nKeep-Alive: timeout=5\r\nUpgrade: h2c\r\n"
            + "ETag: \"abc\"\r\nX-Bad: a\u{0}b\r\nAccept-Ranges:  bytes \r\nno colon here\r\nProxy-Connection: x\r\n"
        var list = HTTP2FieldList(status: 206)
        Array(head.utf8).withUnsafeBytes { HTTP2ResponseFields.appendLines($0, to: &list) }
        #expect(list.headerFields.map(\.description) == [":status: 206", "content-type: text/html", "etag: \"abc\"", "accept-ranges: bytes"])
        let made = HTTP2ResponseFields.make(status: 206, headers: [
            ("Content-Type", "text/html"), ("TE", "trailers"), ("Keep-Alive", "timeout=5"), ("Upgrade", "h2c"),
            ("ETag", "\"abc\""), ("X-Bad", "a\u{0}b"), ("Accept-Ranges", "bytes"), ("Proxy-Connection", "x"),
        ])
        #expect(made == list.headerFields)
    }

    @Test func containsAndKeepOnly() {
        var list = HTTP2FieldList(status: 200)
        list.append(name: "Server", value: "s")
        list.append(name: "x-a", value: "1")
        list.append(name: "server", value: "t")
        #expect(list.contains(name: Array("server".utf8)) && !list.contains(name: Array("date".utf8)))
        list.keepOnly(name: Array("server".utf8))
        #expect(list.headerFields.map(\.description) == [":status: 200", "server: s", "server: t"])
    }

    /// RFC 7541 C.5's three responses (256-byte table, so entries are evicted) and a repeat of the
    /// third: the list path writes exactly the bytes of the field-array path, and they decode back.
    @Test func encodesLikeTheFieldArrayPath() throws {
        let responses: [(Int, [(String, String)])] = [
            (302, [("cache-control", "private"), ("date", "Mon, 21 Oct 2013 20:13:21 GMT"), ("location", "https://www.example.com")]),
            (307, [("cache-control", "private"), ("date", "Mon, 21 Oct 2013 20:13:21 GMT"), ("location", "https://www.example.com")]),
            (200, [("cache-control", "private"), ("date", "Mon, 21 Oct 2013 20:13:22 GMT"), ("location", "https://www.example.com"),
                   ("content-encoding", "gzip"), ("set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1")]),
            (200, [("cache-control", "private"), ("date", "Mon, 21 Oct 2013 20:13:22 GMT"), ("Location", "https://www.example.com")]),
        ]
        for huffman in [false, true] {
            var byArray = HPACKEncoder(maxTableSize: 256, useHuffman: huffman)
            var byList = HPACKEncoder(maxTableSize: 256, useHuffman: huffman)
            var decoder = HPACKDecoder(maxTableSize: 256)
            for (status, headers) in responses {
                var expected: [UInt8] = []
                byArray.encode(HTTP2ResponseFields.make(status: status, headers: headers), into: &expected)
                var list = HTTP2FieldList(status: status)
                for (name, value) in headers { list.append(name: name, value: value) }
                var got: [UInt8] = []
                byList.encode(list, into: &got)
                #expect(got == expected, "status \(status), huffman \(huffman)")
                #expect(try decoder.decode(got).fields == list.headerFields)
            }
            #expect(tableEntries(byList.table) == tableEntries(byArray.table))
        }
    }

    /// A field already in the dynamic table costs one byte: the common case for a repeated response.
    @Test func aRepeatedFieldIsOneIndex() {
        var encoder = HPACKEncoder()
        var list = HTTP2FieldList(status: 200)
        list.append(name: "server", value: "switchyard/0.1.0")
        list.append(name: "x-custom", value: "value")
        var first: [UInt8] = [], second: [UInt8] = []
        encoder.encode(list, into: &first)
        encoder.encode(list, into: &second)
        #expect(first.count > 3)
        #expect(second == [0x88, 0x80 | 63, 0x80 | 62])   // :status 200, then both from the table (newest = 62)
    }

    @Test func copiedListAndDecimalValues() {
        var cached = HTTP2FieldList(status: 200)
        cached.append(name: "Content-Type", value: "text/plain")
        var list = HTTP2FieldList(copying: cached)
        list.status = 206
        for n in [0, 7, 1024, Int.max] { list.append(name: Array("content-length".utf8), decimal: n) }
        let fields = list.headerFields.map { "\($0.nameString): \($0.valueString)" }
        #expect(fields == [":status: 206", "content-type: text/plain", "content-length: 0", "content-length: 7",
                           "content-length: 1024", "content-length: \(Int.max)"])
        #expect(cached.count == 1 && cached.status == 200, "the cached list is not changed by the copy's appends")
    }
}
