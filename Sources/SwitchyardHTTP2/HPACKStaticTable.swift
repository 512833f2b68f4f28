import Glibc

/// The HPACK static table (RFC 7541 Appendix A), indices 1...61.
enum HPACKStaticTable {
    static let entries: [(name: String, value: String)] = [
        (":authority", ""), (":method", "GET"), (":method", "POST"), (":path", "/"), (":path", "/index.html"),
        (":scheme", "http"), (":scheme", "https"), (":status", "200"), (":status", "204"), (":status", "206"),
        (":status", "304"), (":status", "400"), (":status", "404"), (":status", "500"), ("accept-charset", ""),
        ("accept-encoding", "gzip, deflate"), ("accept-language", ""), ("accept-ranges", ""), ("accept", ""),
        ("access-control-allow-origin", ""), ("age", ""), ("allow", ""), ("authorization", ""),
        ("cache-control", ""), ("content-disposition", ""), ("content-encoding", ""), ("content-language", ""),
        ("content-length", ""), ("content-location", ""), ("content-range", ""), ("content-type", ""),
        ("cookie", ""), ("date", ""), ("etag", ""), ("expect", ""), ("expires", ""), ("from", ""), ("host", ""),
        ("if-match", ""), ("if-modified-since", ""), ("if-none-match", ""), ("if-range", ""),
        ("if-unmodified-since", ""), ("last-modified", ""), ("link", ""), ("location", ""), ("max-forwards", ""),
        ("proxy-authenticate", ""), ("proxy-authorization", ""), ("range", ""), ("referer", ""), ("refresh", ""),
        ("retry-after", ""), ("server", ""), ("set-cookie", ""), ("strict-transport-security", ""),
        ("transfer-encoding", ""), ("user-agent", ""), ("vary", ""), ("via", ""), ("www-authenticate", ""),
    ]

    /// The same entries as byte arrays (what the decoder hands out).
    static let fields: [HPACKHeaderField] = entries.map { HPACKHeaderField(name: $0.name, value: $0.value) }

    /// For the encoder: every name and value in one byte array, and per entry its place in it and
    /// the first index of its name, and each name's first index grouped by the name's length, all
    /// in memory allocated once and never written again, read through plain pointers. A lookup
    /// compares bytes in place, with no reference counting: it used to walk arrays of byte arrays,
    /// a retain and release of each candidate (~65 of each per response head that was not a
    /// repeat of the last one).
    struct Packed: @unchecked Sendable {
        /// Names and values, back to back.
        let bytes: UnsafeBufferPointer<UInt8>
        /// Per entry (0-based): name offset, name length, value offset, value length, first index
        /// (1-based) of its name; then `byLength` (29 offsets into the list that follows) and the
        /// list of first indices, grouped by name length.
        let ints: UnsafeBufferPointer<Int>
        static let perEntry = 5
        let entryCount: Int

        init(_ fields: [HPACKHeaderField]) {
            var bytes: [UInt8] = [], entries: [Int] = []
            var groups: [[Int]] = Array(repeating: [], count: 28)
            for (i, field) in fields.enumerated() {
                let first = fields.firstIndex { $0.name == field.name }! + 1
                entries += [bytes.count, field.name.count, bytes.count + field.name.count, field.value.count, first]
                bytes += field.name + field.value
                if first == i + 1 { groups[field.name.count].append(first) }
            }
            var byLength: [Int] = [], firstIndices: [Int] = []
            for group in groups {
                byLength.append(firstIndices.count)
                firstIndices += group
            }
            byLength.append(firstIndices.count)
            entryCount = fields.count
            self.bytes = Self.immortal(bytes)
            self.ints = Self.immortal(entries + byLength + firstIndices)
        }

        private static func immortal<T>(_ array: [T]) -> UnsafeBufferPointer<T> {
            let memory = UnsafeMutableBufferPointer<T>.allocate(capacity: array.count)
            _ = memory.initialize(from: array)
            return UnsafeBufferPointer(memory)
        }

        @inline(__always) func entry(_ i: Int, _ field: Int) -> Int { ints[i * Self.perEntry + field] }
        @inline(__always) func byLength(_ n: Int) -> Int { ints[entryCount * Self.perEntry + n] }
        @inline(__always) func firstIndex(_ k: Int) -> Int { ints[entryCount * Self.perEntry + 29 + k] }
    }

    static let packed = Packed(fields)

    /// The first index of `name`, or nil.
    static func nameIndex(of name: UnsafeBufferPointer<UInt8>) -> Int? {
        packed.nameIndex(of: name)
    }

    /// The index of the exact pair, among the entries with a value (`:status 200`, `:method GET`,
    /// ...), which follow their name's first index.
    static func pairIndex(nameIndex: Int, value: UnsafeBufferPointer<UInt8>) -> Int? {
        packed.pairIndex(nameIndex: nameIndex, value: value)
    }

    /// `:status` values with an entry of their own (8...14).
    static func statusIndex(_ status: Int) -> Int? {
        switch status {
        case 200: return 8
        case 204: return 9
        case 206: return 10
        case 304: return 11
        case 400: return 12
        case 404: return 13
        case 500: return 14
        default: return nil
        }
    }

    @inline(__always)
    static func equalBytes(_ a: [UInt8], _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        guard a.count > 0 else { return true }
        return a.withUnsafeBufferPointer { memcmp($0.baseAddress!, b.baseAddress!, b.count) == 0 }
    }
}

/// One header field as bytes: HTTP/2 field values may hold any octet but NUL, CR and LF, which a
/// Swift String cannot carry unchanged. `neverIndexed` marks fields that must stay literal (§7.1.3).
public struct HPACKHeaderField: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var name: [UInt8]
    public var value: [UInt8]
    public var neverIndexed: Bool

    public init(name: [UInt8], value: [UInt8], neverIndexed: Bool = false) {
        self.name = name
        self.value = value
        self.neverIndexed = neverIndexed
    }

    public init(name: String, value: String, neverIndexed: Bool = false) {
        self.init(name: Array(name.utf8), value: Array(value.utf8), neverIndexed: neverIndexed)
    }

    public var nameString: String { String(decoding: name, as: UTF8.self) }
    public var valueString: String { String(decoding: value, as: UTF8.self) }

    /// RFC 7541 §4.1 entry size: name + value + 32. Also the unit of SETTINGS_MAX_HEADER_LIST_SIZE.
    public var hpackSize: Int { name.count + value.count + 32 }

    public var description: String { "\(nameString): \(valueString)" }
}

extension HPACKStaticTable.Packed {
    func nameIndex(of name: UnsafeBufferPointer<UInt8>) -> Int? {
        guard name.count < 28, let base = name.baseAddress else { return nil }
        for k in byLength(name.count)..<byLength(name.count + 1) {
            let index = firstIndex(k)
            let start = entry(index - 1, 0)
            // The first byte tells most candidates of one length apart without a call.
            if bytes[start] == base[0] && memcmp(bytes.baseAddress! + start, base, name.count) == 0 { return index }
        }
        return nil
    }

    func pairIndex(nameIndex: Int, value: UnsafeBufferPointer<UInt8>) -> Int? {
        guard let base = value.baseAddress, !value.isEmpty else { return nil }
        var i = nameIndex - 1
        while i < entryCount && entry(i, 4) == nameIndex {
            if entry(i, 3) == value.count && memcmp(bytes.baseAddress! + entry(i, 2), base, value.count) == 0 { return i + 1 }
            i += 1
        }
        return nil
    }
}
