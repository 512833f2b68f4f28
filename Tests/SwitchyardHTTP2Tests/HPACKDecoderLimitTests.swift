import Testing
@testable import SwitchyardHTTP2

/// HPACK error handling and the decoder's bounds (RFC 7541 §4.2, §5, §6.3; RFC 9113 §10.5.1).
struct HPACKDecoderLimitTests {
    @Test func huffmanTableIsTheCanonicalCodeOfAppendixB() {
        let table = HPACKHuffmanTable.codes
        #expect(table.count == 257)
        let order = (0..<257).sorted { (table[$0].length, $0) < (table[$1].length, $1) }
        var code: UInt32 = 0
        for (i, symbol) in order.enumerated() {
            if i > 0 { code = (code + 1) << UInt32(table[symbol].length - table[order[i - 1]].length) }
            #expect(table[symbol].code == code, "symbol \(symbol)")
        }
        #expect(table[256] == (0x3fff_ffff, 30))   // EOS
    }

    @Test func huffmanRoundTripsEveryByte() throws {
        let all = (0...255).map { UInt8($0) } + Array("Mon, 21 Oct 2013".utf8)
        var out: [UInt8] = []
        HPACKHuffman.encode(all, into: &out)
        #expect(out.count == HPACKHuffman.encodedLength(all))
        #expect(try HPACKHuffman.decode(out) == all)
    }

    static let symbolByCode: [UInt64: Int] = Dictionary(uniqueKeysWithValues: HPACKHuffmanTable.codes.enumerated().map {
        (UInt64($0.element.length) << 32 | UInt64($0.element.code), $0.offset)
    })

    /// The decoder reads a symbol at a time; this reads the code a bit at a time, straight from
    /// Appendix B. Both must give the same bytes or the same error for any input.
    static func referenceDecode(_ input: [UInt8]) -> Result<[UInt8], HPACKHuffman.DecodingError> {
        var out: [UInt8] = []
        var code: UInt32 = 0, length = 0
        for byte in input {
            for bit in (0..<8).reversed() {
                code = code << 1 | UInt32((byte >> UInt8(bit)) & 1)
                length += 1
                if let symbol = symbolByCode[UInt64(length) << 32 | UInt64(code)] {
                    if symbol == 256 { return .failure(.endOfStringSymbol) }
                    out.append(UInt8(symbol))
                    code = 0
                    length = 0
                } else if length >= 30 {
                    return .failure(.endOfStringSymbol)
                }
            }
        }
        if length > 7 || code != (UInt32(1) << length) - 1 { return .failure(.invalidPadding) }
        return .success(out)
    }

    @Test func huffmanDecoderAgreesWithABitByBitReading() {
        var random = TestRandom(seed: 0x4855_4646)
        var inputs: [[UInt8]] = [[], [0xff], [0x00], [0xff, 0xff, 0xff], [0xff, 0xff, 0xff, 0xff], [0xfe, 0x3f]]
        for _ in 0..<2_000 { inputs.append(random.bytes(random.below(12))) }
        for _ in 0..<500 {   // valid strings, cut or with a byte changed now and then
            var bytes: [UInt8] = []
            HPACKHuffman.encode(random.bytes(random.below(20)), into: &bytes)
            if !bytes.isEmpty && random.below(3) == 0 { bytes[random.below(bytes.count)] ^= UInt8(1 << random.below(8)) }
            if !bytes.isEmpty && random.below(3) == 0 { bytes.removeLast() }
            inputs.append(bytes)
        }
        for input in inputs {
            let got: Result<[UInt8], HPACKHuffman.DecodingError>
            do { got = .success(try HPACKHuffman.decode(input)) } catch { got = .failure(error) }
            #expect(got == Self.referenceDecode(input), "\(input)")
        }
    }

    @Test func huffmanRejectsEOSAndBadPadding() {
        // EOS (30 ones) inside a string.
        #expect(throws: HPACKHuffman.DecodingError.endOfStringSymbol) { try HPACKHuffman.decode([0xff, 0xff, 0xff, 0xff]) }
        // Padding of 8+ bits: "a" (00011) then 11 ones.
        #expect(throws: HPACKHuffman.DecodingError.invalidPadding) { try HPACKHuffman.decode([0x1f, 0xff]) }
        // Padding that is not ones: "a" then 000.
        #expect(throws: HPACKHuffman.DecodingError.invalidPadding) { try HPACKHuffman.decode([0x18]) }
        #expect((try? HPACKHuffman.decode([0x1f])) == Array("a".utf8))
    }

    /// A Huffman string literal decodes the same whether its output fits the stack buffer
    /// (up to 512 symbols' room) or not, and a bad one is refused either way.
    @Test func huffmanStringLiteralsShortAndLong() throws {
        for count in [0, 1, 10, 300, 319, 320, 321, 2000] {
            let text = (0..<count).map { UInt8(ascii: "a") &+ UInt8($0 % 26) }
            var block: [UInt8] = []
            var encoded: [UInt8] = []
            HPACKHuffman.encode(text, into: &encoded)
            HPACKPrimitives.appendInteger(encoded.count, prefixBits: 7, flags: 0x80, into: &block)
            block += encoded
            var offset = 0
            let decoded = block.withUnsafeBytes { raw in
                Result { () throws(HPACKPrimitives.DecodingError) in
                    try HPACKPrimitives.decodeString(raw, offset: &offset, maxLength: 1 << 16)
                }
            }
            #expect(try decoded.get() == text, "\(count) symbols")
            #expect(offset == block.count)
            // The same string with its last byte's padding broken (or an extra zero byte).
            if let last = block.last, last & 1 == 1 { block[block.count - 1] = last & 0xfe } else { block += [0]; block[0] += 1 }
            offset = 0
            let broken = block.withUnsafeBytes { raw in
                Result { () throws(HPACKPrimitives.DecodingError) in
                    try HPACKPrimitives.decodeString(raw, offset: &offset, maxLength: 1 << 16)
                }
            }
            #expect(throws: HPACKPrimitives.DecodingError.self, "\(count) symbols, bad padding") { try broken.get() }
        }
    }

    /// A literal seen again (the same representation) is the same array, and only then: five
    /// literals taking turns through the four remembered ones, the same text as a raw and as a
    /// Huffman string, and a broken Huffman string sent twice all decode (or fail) as they would.
    @Test func repeatedLiteralsAreTheSameArray() throws {
        func block(_ value: String, huffman: Bool) -> [UInt8] {   // :path (static name 4), not indexed
            var out: [UInt8] = [0x04]
            var bytes = Array(value.utf8)
            if huffman { var encoded: [UInt8] = []; HPACKHuffman.encode(bytes, into: &encoded); bytes = encoded }
            HPACKPrimitives.appendInteger(bytes.count, prefixBits: 7, flags: huffman ? 0x80 : 0, into: &out)
            return out + bytes
        }
        func address(_ a: [UInt8]) -> UInt { a.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) } }
        var decoder = HPACKDecoder()
        let first = try decoder.decode(block("/small.txt", huffman: true)).fields[0].value
        let again = try decoder.decode(block("/small.txt", huffman: true)).fields[0].value
        #expect(first == Array("/small.txt".utf8) && address(first) == address(again))
        let raw = try decoder.decode(block("/small.txt", huffman: false)).fields[0].value
        #expect(raw == first && address(raw) != address(first))
        for round in 0..<3 {
            for i in 0..<5 {
                let path = "/p\(i)"
                #expect(try decoder.decode(block(path, huffman: round % 2 == 0)).fields[0].value == Array(path.utf8))
            }
        }
        var broken = block("/a", huffman: true)
        broken[broken.count - 1] &= 0xfe   // padding not all ones
        for _ in 0..<2 { #expect(throws: HPACKDecodingError.self) { try decoder.decode(broken) } }
    }

    @Test func integersAreBounded() {
        var offset = 0
        let huge: [UInt8] = [0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]
        let result = huge.withUnsafeBytes { raw in
            Result { () throws(HPACKPrimitives.DecodingError) in try HPACKPrimitives.decodeInteger(raw, offset: &offset, prefixBits: 7) }
        }
        #expect(throws: HPACKPrimitives.DecodingError.integerOverflow) { try result.get() }
        // RFC 7541 C.1.2: 1337 with a 5-bit prefix.
        var out: [UInt8] = []
        HPACKPrimitives.appendInteger(1337, prefixBits: 5, flags: 0, into: &out)
        #expect(out == [31, 154, 10])
    }

    @Test func invalidIndexAndTruncationAreCompressionErrors() {
        var decoder = HPACKDecoder()
        #expect(throws: HPACKDecodingError.invalidIndex(0)) { try decoder.decode([0x80]) }
        #expect(throws: HPACKDecodingError.invalidIndex(62)) { try decoder.decode([0xbe]) }
        #expect(throws: HPACKDecodingError.primitive(.truncated)) { try decoder.decode([0x40, 0x05, 0x61]) }
    }

    @Test func tableSizeUpdatesOnlyAtTheStartAndWithinTheSetting() throws {
        var decoder = HPACKDecoder(maxTableSize: 4096)
        #expect(throws: HPACKDecodingError.tableSizeUpdateNotAtStart) { try decoder.decode([0x82, 0x20]) }
        #expect(throws: HPACKDecodingError.tableSizeTooLarge(4097)) { try decoder.decode([0x3f, 0xe2, 0x1f]) }
        _ = try decoder.decode(hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572"))
        #expect(decoder.table.count == 1)
        _ = try decoder.decode([0x20])   // size 0 empties the table
        #expect(decoder.table.count == 0 && decoder.table.maxSize == 0)
    }

    @Test func encoderAnnouncesTheSmallestThenTheFinalTableSize() {
        var encoder = HPACKEncoder(maxTableSize: 4096)
        encoder.setPeerMaxTableSize(0)
        encoder.setPeerMaxTableSize(1000)
        var out: [UInt8] = []
        encoder.encode([], into: &out)
        var expected: [UInt8] = []
        HPACKPrimitives.appendInteger(0, prefixBits: 5, flags: 0x20, into: &expected)
        HPACKPrimitives.appendInteger(1000, prefixBits: 5, flags: 0x20, into: &expected)
        #expect(out == expected)
        var decoder = HPACKDecoder(maxTableSize: 4096)
        #expect((try? decoder.decode(out))?.fields == [])
        #expect(decoder.table.maxSize == 1000)
    }

    /// An HPACK bomb: one 4 KiB entry in the table, then 16 000 one-byte references to it. Without
    /// a bound that is 64 MB of headers from 16 KB; the list stops at maxHeaderListSize.
    @Test func hpackBombIsBoundedByTheHeaderListSize() throws {
        var decoder = HPACKDecoder(maxTableSize: 4096, maxHeaderListSize: 16 << 10)
        var block: [UInt8] = [0x40, 0x01, 0x78]
        HPACKPrimitives.appendInteger(4000, prefixBits: 7, flags: 0, into: &block)
        block += [UInt8](repeating: 0x61, count: 4000)
        block += [UInt8](repeating: 0xbe, count: 16_000)   // index 62: the entry just added
        let decoded = try decoder.decode(block)
        #expect(decoded.exceedsListSize)
        #expect(decoded.fields.count <= 4)
        #expect(decoded.fields.reduce(0) { $0 + $1.hpackSize } <= 16 << 10)
    }

    /// A literal longer than anything the list could hold is skipped, not copied, and the block
    /// decodes to its end as "too large" (the request gets 431). Before, the whole connection ended
    /// with COMPRESSION_ERROR, though the block is valid HPACK (RFC 9113 §10.5.1 asks for 431).
    @Test func oversizedLiteralIsSkippedAndTheBlockStillDecodes() throws {
        var decoder = HPACKDecoder(maxTableSize: 4096, maxHeaderListSize: 8192)
        var block: [UInt8] = [0x82, 0x00, 0x01, 0x78]                  // :method GET, then x: <100 000 bytes>
        HPACKPrimitives.appendInteger(100_000, prefixBits: 7, flags: 0, into: &block)
        block += [UInt8](repeating: 0x61, count: 100_000)
        block += [0x84]                                                 // :path /
        let decoded = try decoder.decode(block)
        #expect(decoded.exceedsListSize)
        #expect(decoded.fields.map(\.nameString) == [":method"])
        #expect(decoded.listSize == 42 + (8192 + 32) + 38, "the skipped string's bytes were not read as fields")
        #expect(decoder.table.count == 0)
    }

    /// With incremental indexing the skipped entry is larger than the table: §4.4 empties it, as
    /// the peer's encoder does, so the next block still decodes against the same table.
    @Test func oversizedIndexedLiteralEmptiesTheTable() throws {
        var decoder = HPACKDecoder(maxTableSize: 4096, maxHeaderListSize: 8192)
        _ = try decoder.decode([0x40, 0x01, 0x61, 0x01, 0x62])          // a: b into the table
        #expect(decoder.table.count == 1)
        var block: [UInt8] = [0x40, 0x01, 0x78]
        HPACKPrimitives.appendInteger(20_000, prefixBits: 7, flags: 0, into: &block)
        block += [UInt8](repeating: 0x61, count: 20_000)
        #expect(try decoder.decode(block).exceedsListSize)
        #expect(decoder.table.count == 0)
        #expect(throws: HPACKDecodingError.invalidIndex(62)) { try decoder.decode([0xbe]) }
        let next = try decoder.decode([0x40, 0x01, 0x63, 0x01, 0x64, 0xbe])
        #expect(next.fields.map(\.valueString) == ["d", "d"] && !next.exceedsListSize)
    }
}
