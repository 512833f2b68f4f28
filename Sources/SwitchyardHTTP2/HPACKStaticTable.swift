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

    /// For the encoder: each name's first index, grouped by the name's length, so a lookup
    /// compares a few byte arrays instead of hashing (and allocating) a String per field.
    static let namesByLength: [[(index: Int, name: [UInt8])]] = {
        var groups: [[(index: Int, name: [UInt8])]] = Array(repeating: [], count: 28)
        for (i, field) in fields.enumerated() where !groups[field.name.count].contains(where: { $0.name == field.name }) {
            groups[field.name.count].append((i + 1, field.name))
        }
        return groups
    }()

    /// The first index of `name`, or nil.
    static func nameIndex(of name: UnsafeBufferPointer<UInt8>) -> Int? {
        guard name.count < namesByLength.count else { return nil }
        for candidate in namesByLength[name.count] where equalBytes(candidate.name, name) { return candidate.index }
        return nil
    }

    /// The index of the exact pair, among the entries with a value (`:status 200`, `:method GET`,
    /// ...), which follow their name's first index.
    static func pairIndex(nameIndex: Int, value: UnsafeBufferPointer<UInt8>) -> Int? {
        guard !value.isEmpty else { return nil }
        let name = fields[nameIndex - 1].name
        var i = nameIndex - 1
        while i < fields.count && fields[i].name == name {
            if equalBytes(fields[i].value, value) { return i + 1 }
            i += 1
        }
        return nil
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
