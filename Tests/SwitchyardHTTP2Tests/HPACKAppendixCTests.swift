import Testing
@testable import SwitchyardHTTP2

/// "8286 8441" -> bytes (spaces and newlines ignored).
func hex(_ text: String) -> [UInt8] {
    let digits = text.filter { $0.isHexDigit }
    var out: [UInt8] = []
    var index = digits.startIndex
    while index < digits.endIndex {
        let next = digits.index(index, offsetBy: 2)
        out.append(UInt8(digits[index..<next], radix: 16)!)
        index = next
    }
    return out
}

func fields(_ pairs: [(String, String)]) -> [HPACKHeaderField] {
    pairs.map { HPACKHeaderField(name: $0.0, value: $0.1) }
}

/// The dynamic table newest first, as the RFC prints it.
func tableEntries(_ table: HPACKDynamicTable) -> [HPACKHeaderField] {
    (0..<table.count).map { table[$0 + 1] }
}

/// RFC 7541 Appendix C, byte for byte: C.2 (single representations), C.3/C.4 (requests without and
/// with Huffman, 4096-byte table), C.5/C.6 (responses with a 256-byte table, so entries get evicted).
struct HPACKAppendixCTests {
    @Test func c2_1LiteralWithIndexing() throws {
        var decoder = HPACKDecoder()
        let block = try decoder.decode(hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572"))
        #expect(block.fields == fields([("custom-key", "custom-header")]))
        #expect(decoder.table.size == 55 && decoder.table.count == 1)
    }

    @Test func c2_2LiteralWithoutIndexing() throws {
        var decoder = HPACKDecoder()
        let block = try decoder.decode(hex("040c 2f73 616d 706c 652f 7061 7468"))
        #expect(block.fields == fields([(":path", "/sample/path")]))
        #expect(decoder.table.count == 0)
    }

    @Test func c2_3LiteralNeverIndexed() throws {
        var decoder = HPACKDecoder()
        let block = try decoder.decode(hex("1008 7061 7373 776f 7264 0673 6563 7265 74"))
        #expect(block.fields == [HPACKHeaderField(name: "password", value: "secret", neverIndexed: true)])
        #expect(decoder.table.count == 0)
        // The encoder keeps the never-indexed representation.
        var encoder = HPACKEncoder(useHuffman: false)
        var out: [UInt8] = []
        encoder.encode(block.fields, into: &out)
        #expect(out == hex("1008 7061 7373 776f 7264 0673 6563 7265 74"))
    }

    @Test func c2_4Indexed() throws {
        var decoder = HPACKDecoder()
        #expect(try decoder.decode(hex("82")).fields == fields([(":method", "GET")]))
        #expect(decoder.table.count == 0)
    }

    static let requests: [[(String, String)]] = [
        [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com")],
        [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com"), ("cache-control", "no-cache")],
        [(":method", "GET"), (":scheme", "https"), (":path", "/index.html"), (":authority", "www.example.com"),
         ("custom-key", "custom-value")],
    ]
    static let requestTables: [[(String, String)]] = [
        [(":authority", "www.example.com")],
        [("cache-control", "no-cache"), (":authority", "www.example.com")],
        [("custom-key", "custom-value"), ("cache-control", "no-cache"), (":authority", "www.example.com")],
    ]
    static let requestTableSizes = [57, 110, 164]

    static let responses: [[(String, String)]] = [
        [(":status", "302"), ("cache-control", "private"), ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
         ("location", "https://www.example.com")],
        [(":status", "307"), ("cache-control", "private"), ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
         ("location", "https://www.example.com")],
        [(":status", "200"), ("cache-control", "private"), ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
         ("location", "https://www.example.com"), ("content-encoding", "gzip"),
         ("set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1")],
    ]
    static let responseTables: [[(String, String)]] = [
        [("location", "https://www.example.com"), ("date", "Mon, 21 Oct 2013 20:13:21 GMT"), ("cache-control", "private"),
         (":status", "302")],
        [(":status", "307"), ("location", "https://www.example.com"), ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
         ("cache-control", "private")],
        [("set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"), ("content-encoding", "gzip"),
         ("date", "Mon, 21 Oct 2013 20:13:22 GMT")],
    ]
    static let responseTableSizes = [222, 222, 215]

    /// Decodes and encodes the sequence on one connection each, checking bytes, fields and table.
    func checkSequence(blocks: [String], lists: [[(String, String)]], tables: [[(String, String)]], sizes: [Int],
                       tableSize: Int, huffman: Bool) throws {
        var decoder = HPACKDecoder(maxTableSize: tableSize)
        var encoder = HPACKEncoder(maxTableSize: tableSize, useHuffman: huffman)
        for (i, block) in blocks.enumerated() {
            let decoded = try decoder.decode(hex(block))
            #expect(decoded.fields == fields(lists[i]), "block \(i + 1) fields")
            #expect(tableEntries(decoder.table) == fields(tables[i]), "block \(i + 1) decoder table")
            #expect(decoder.table.size == sizes[i])
            var out: [UInt8] = []
            encoder.encode(fields(lists[i]), into: &out)
            #expect(out == hex(block), "block \(i + 1) encoding")
            #expect(tableEntries(encoder.table) == fields(tables[i]), "block \(i + 1) encoder table")
        }
    }

    @Test func c3_RequestsWithoutHuffman() throws {
        try checkSequence(blocks: ["8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
                                   "8286 84be 5808 6e6f 2d63 6163 6865",
                                   "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65"],
                          lists: Self.requests, tables: Self.requestTables, sizes: Self.requestTableSizes,
                          tableSize: 4096, huffman: false)
    }

    @Test func c4_RequestsWithHuffman() throws {
        try checkSequence(blocks: ["8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
                                   "8286 84be 5886 a8eb 1064 9cbf",
                                   "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"],
                          lists: Self.requests, tables: Self.requestTables, sizes: Self.requestTableSizes,
                          tableSize: 4096, huffman: true)
    }

    @Test func c5_ResponsesWithoutHuffman() throws {
        try checkSequence(blocks: ["""
            4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
            2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d
            """,
            "4803 3330 37c1 c0bf",
            """
            88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
            54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
            5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31
            """],
            lists: Self.responses, tables: Self.responseTables, sizes: Self.responseTableSizes, tableSize: 256, huffman: false)
    }

    @Test func c6_ResponsesWithHuffman() throws {
        try checkSequence(blocks: ["""
            4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
            2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3
            """,
            "4883 640e ffc1 c0bf",
            """
            88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
            77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
            9587 3160 65c0 03ed 4ee5 b106 3d50 07
            """],
            lists: Self.responses, tables: Self.responseTables, sizes: Self.responseTableSizes, tableSize: 256, huffman: true)
    }

    /// The encoder's packed static-table lookups agree with a plain search of RFC 7541 Appendix A,
    /// for every entry, and find nothing for near misses.
    @Test func staticTableLookupsAgreeWithAPlainSearch() {
        let fields = HPACKStaticTable.fields
        for (i, field) in fields.enumerated() {
            let first = fields.firstIndex { $0.name == field.name }! + 1
            field.name.withUnsafeBufferPointer { #expect(HPACKStaticTable.nameIndex(of: $0) == first, "\(field)") }
            if !field.value.isEmpty {
                field.value.withUnsafeBufferPointer { #expect(HPACKStaticTable.pairIndex(nameIndex: first, value: $0) == i + 1, "\(field)") }
            }
        }
        for miss in ["x", "etag2", ":statu", "content-typE", "", String(repeating: "a", count: 40)] {
            Array(miss.utf8).withUnsafeBufferPointer { #expect(HPACKStaticTable.nameIndex(of: $0) == nil, "\(miss)") }
        }
        for (name, value) in [(":status", "201"), (":method", "get"), (":path", "/index.htm"), ("accept-encoding", "gzip"), (":scheme", "")] {
            let first = Array(name.utf8).withUnsafeBufferPointer { HPACKStaticTable.nameIndex(of: $0) }!
            Array(value.utf8).withUnsafeBufferPointer { #expect(HPACKStaticTable.pairIndex(nameIndex: first, value: $0) == nil, "\(name) \(value)") }
        }
    }
}
