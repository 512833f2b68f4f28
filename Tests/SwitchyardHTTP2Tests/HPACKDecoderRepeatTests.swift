import Testing
@testable import SwitchyardHTTP2

/// The decoder's repeated-block shortcut: a block that left the dynamic table as it found it,
/// received again byte for byte against the same table, is the same fields (RFC 7541 §2.3: a
/// block's meaning depends only on its bytes and the table).
struct HPACKDecoderRepeatTests {
    /// `x-a: <value>`, literal with incremental indexing, new name (§6.2.1): inserts an entry.
    static func insert(_ value: String) -> [UInt8] { [0x40, 0x03] + Array("x-a".utf8) + [UInt8(value.utf8.count)] + Array(value.utf8) }
    /// :method GET, :path /, and dynamic entry 62 (the newest).
    static let request: [UInt8] = [0x82, 0x84, 0xbe]

    static func names(_ block: HPACKDecodedBlock) -> [String] {
        block.fields.map { String(decoding: $0.name, as: UTF8.self) + ": " + String(decoding: $0.value, as: UTF8.self) }
    }

    @Test func repeatedBlockDecodesToTheSameFields() throws {
        var d = HPACKDecoder()
        _ = try d.decode(Self.insert("1"))
        let first = try d.decode(Self.request)
        let again = try d.decode(Self.request)
        #expect(Self.names(first) == [":method: GET", ":path: /", "x-a: 1"])
        #expect(again == first)
        #expect(d.table.count == 1)
    }

    @Test func aBlockThatInsertsIsDecodedEveryTime() throws {
        var d = HPACKDecoder()
        _ = try d.decode(Self.insert("1"))
        _ = try d.decode(Self.insert("1"))
        #expect(d.table.count == 2, "the second insertion happened too")
    }

    @Test func aTableChangeBetweenRepeatsIsSeen() throws {
        var d = HPACKDecoder()
        _ = try d.decode(Self.insert("1"))
        #expect(Self.names(try d.decode(Self.request)).last == "x-a: 1")
        _ = try d.decode(Self.insert("2"))   // entry 62 is now x-a: 2
        #expect(Self.names(try d.decode(Self.request)).last == "x-a: 2")
        #expect(Self.names(try d.decode(Self.request)).last == "x-a: 2")
    }

    @Test func sameLengthOtherBytesAreDecoded() throws {
        var d = HPACKDecoder()
        _ = try d.decode(Self.insert("1"))
        _ = try d.decode(Self.request)
        let other = try d.decode([0x82, 0x85, 0xbe])   // :path /index.html
        #expect(Self.names(other) == [":method: GET", ":path: /index.html", "x-a: 1"])
    }

    @Test func aLowerListLimitAppliesToARepeat() throws {
        var d = HPACKDecoder()
        _ = try d.decode(Self.insert("1"))
        #expect(try d.decode(Self.request).exceedsListSize == false)
        d.maxHeaderListSize = 40
        let limited = try d.decode(Self.request)
        #expect(limited.exceedsListSize)
        #expect(limited.fields.count < 3)
    }
}
