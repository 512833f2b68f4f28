import Testing
@testable import SwitchyardHTTP2

/// The encoder's repeated block (`HPACKEncoder.encode(_: HTTP2FieldList, into:)` reusing the last
/// block for an equal list and an unchanged table): every block must be the one a fresh encode
/// writes, and decode to the list, whatever happened to the dynamic table in between.
struct HPACKEncoderRepeatTests {
    enum Step {
        case list(Int, [(String, String)])
        /// A head through the field-array path (interim heads, the session's 431).
        case array([(String, String)])
        case peerTableSize(Int)
    }

    static let file: [(String, String)] = [
        ("content-type", "text/plain"), ("etag", "\"1c2b-400-65a1b2c3\""), ("last-modified", "Sat, 05 Dec 2026 10:00:00 GMT"),
        ("accept-ranges", "bytes"), ("date", "Sat, 05 Dec 2026 11:00:00 GMT"), ("server", "switchyard"), ("content-length", "1024"),
    ]
    static let otherFile: [(String, String)] = [
        ("content-type", "text/html"), ("etag", "\"1c2c-80-65a1b2c4\""), ("last-modified", "Sat, 05 Dec 2026 10:00:01 GMT"),
        ("accept-ranges", "bytes"), ("date", "Sat, 05 Dec 2026 11:00:00 GMT"), ("server", "switchyard"), ("content-length", "128"),
    ]

    /// Runs `steps` through an encoder that reuses blocks and one that never sees a field list
    /// (the array path encodes every field against the tables): the bytes must be equal, and a
    /// decoder must read each block back as its list. Returns the list blocks.
    @discardableResult
    func run(_ steps: [Step], tableSize: Int = 4096) throws -> [[UInt8]] {
        var reusing = HPACKEncoder(maxTableSize: tableSize)
        var reference = HPACKEncoder(maxTableSize: tableSize)
        var decoder = HPACKDecoder(maxTableSize: tableSize)
        var blocks: [[UInt8]] = []
        for (i, step) in steps.enumerated() {
            switch step {
            case .list(let status, let fields):
                var list = HTTP2FieldList(status: status)
                for (name, value) in fields { list.append(name: name, value: value) }
                var got: [UInt8] = [], expected: [UInt8] = []
                reusing.encode(list, into: &got)
                reference.encode(list.headerFields, into: &expected)
                #expect(got == expected, "step \(i)")
                #expect(try decoder.decode(got).fields == list.headerFields, "step \(i)")
                blocks.append(got)
            case .array(let fields):
                let headerFields = fields.map { HPACKHeaderField(name: $0.0, value: $0.1) }
                var got: [UInt8] = [], expected: [UInt8] = []
                reusing.encode(headerFields, into: &got)
                reference.encode(headerFields, into: &expected)
                #expect(got == expected, "step \(i)")
                #expect(try decoder.decode(got).fields == headerFields, "step \(i)")
            case .peerTableSize(let size):
                reusing.setPeerMaxTableSize(size)
                reference.setPeerMaxTableSize(size)
            }
        }
        return blocks
    }

    @Test func aRepeatedListIsTheSameBlockOfIndices() throws {
        let blocks = try run([.list(200, Self.file), .list(200, Self.file), .list(200, Self.file)])
        // The first block inserts every field; the next two only point at them, one byte each.
        #expect(blocks[1].count == 1 + Self.file.count)
        #expect(blocks[2] == blocks[1])
    }

    @Test func anotherStatusOrListIsEncodedAgain() throws {
        try run([.list(200, Self.file), .list(200, Self.file), .list(206, Self.file), .list(200, Self.otherFile),
                 .list(200, Self.file), .list(200, Self.file), .list(404, [("content-length", "0")]), .list(200, Self.file)])
    }

    /// A 256-byte table holds about two of these fields: every list evicts what the other put there.
    @Test func evictionsBetweenRepeats() throws {
        try run([.list(200, Self.file), .list(200, Self.file), .list(200, Self.otherFile), .list(200, Self.file),
                 .list(200, Self.file), .list(200, [("date", "Sat, 05 Dec 2026 11:00:01 GMT")]), .list(200, Self.file)],
                tableSize: 256)
    }

    @Test func theFieldArrayPathChangesTheTableBetweenRepeats() throws {
        try run([.list(200, Self.file), .list(200, Self.file), .array([(":status", "103"), ("link", "</a.css>; rel=preload")]),
                 .list(200, Self.file), .list(200, Self.file)])
    }

    /// The peer's SETTINGS_HEADER_TABLE_SIZE: a size update is owed at the start of the next
    /// block, and the smaller table has lost entries the repeated block pointed at.
    @Test func peerTableSizeChangesBetweenRepeats() throws {
        let blocks = try run([.list(200, Self.file), .list(200, Self.file), .peerTableSize(128), .list(200, Self.file),
                              .list(200, Self.file), .peerTableSize(0), .list(200, Self.file), .list(200, Self.file),
                              .peerTableSize(4096), .list(200, Self.file), .list(200, Self.file), .list(200, Self.file)])
        #expect(blocks[2][0] & 0xe0 == 0x20, "a size update opens the block after the change")
        #expect(blocks[3][0] & 0xe0 != 0x20)
    }

    /// The same list value again (its arrays shared with the one remembered: the connection's
    /// last static-file head), across evictions and a peer table size change.
    @Test func theSameListValueAgain() throws {
        for tableSize in [4096, 256] {
            var encoder = HPACKEncoder(maxTableSize: tableSize)
            var decoder = HPACKDecoder(maxTableSize: tableSize)
            var list = HTTP2FieldList(status: 200), other = HTTP2FieldList(status: 200)
            for (name, value) in Self.file { list.append(name: name, value: value) }
            for (name, value) in Self.otherFile { other.append(name: name, value: value) }
            var blocks: [[UInt8]] = []
            for (i, step) in [list, list, list, other, list, list, nil, list, list].enumerated() {
                guard let step else { encoder.setPeerMaxTableSize(tableSize / 2); continue }
                var block: [UInt8] = []
                encoder.encode(step, into: &block)
                #expect(try decoder.decode(block).fields == step.headerFields, "step \(i), table \(tableSize)")
                blocks.append(block)
            }
            if tableSize == 4096 { #expect(blocks[2] == blocks[1] && blocks[1].count == 1 + Self.file.count) }
        }
    }

    @Test func huffmanSettingIsPartOfTheRepeat() throws {
        var encoder = HPACKEncoder()
        var decoder = HPACKDecoder()
        var list = HTTP2FieldList(status: 200)
        // Too large for the table (over half of it): a literal without indexing, Huffman-coded or not.
        list.append(name: "x-large", value: String(repeating: "a", count: 3000))
        var blocks: [[UInt8]] = []
        for huffman in [true, true, false, false, true] {
            encoder.useHuffman = huffman
            var block: [UInt8] = []
            encoder.encode(list, into: &block)
            #expect(try decoder.decode(block).fields == list.headerFields)
            blocks.append(block)
        }
        #expect(blocks[0] == blocks[1] && blocks[2] == blocks[3] && blocks[4] == blocks[0])
        #expect(blocks[2].count > blocks[0].count)
    }
}
