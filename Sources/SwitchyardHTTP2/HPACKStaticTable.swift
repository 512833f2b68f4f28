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

    /// For the encoder: first index of each name, and index of each exact (name, value) pair.
    static let nameIndex: [String: Int] = {
        var map: [String: Int] = [:]
        for (i, entry) in entries.enumerated() where map[entry.name] == nil { map[entry.name] = i + 1 }
        return map
    }()

    static let pairIndex: [String: Int] = {
        var map: [String: Int] = [:]
        for (i, entry) in entries.enumerated() where !entry.value.isEmpty { map[entry.name + "\u{0}" + entry.value] = i + 1 }
        return map
    }()
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
