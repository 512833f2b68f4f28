/// A validated HTTP/2 request head (RFC 9113 §8.3.1), the pseudo-header fields taken apart.
public struct HTTP2RequestHead: Equatable, Sendable {
    public var method: String
    /// nil for plain CONNECT.
    public var scheme: String?
    public var authority: String?
    /// nil for plain CONNECT.
    public var path: String?
    /// RFC 8441 `:protocol` (e.g. "websocket"): set only for extended CONNECT.
    public var connectProtocol: String?
    /// The regular fields in order (names lowercase), pseudo-headers removed.
    public var fields: [HPACKHeaderField]
    /// The content-length the request declared, if any (checked against the DATA received).
    public var contentLength: Int?

    /// An extended CONNECT (RFC 8441 §4): the stream is a tunnel for `connectProtocol`.
    public var isExtendedConnect: Bool { connectProtocol != nil }

    public init(method: String, scheme: String?, authority: String?, path: String?, connectProtocol: String? = nil,
                fields: [HPACKHeaderField] = [], contentLength: Int? = nil) {
        self.method = method
        self.scheme = scheme
        self.authority = authority
        self.path = path
        self.connectProtocol = connectProtocol
        self.fields = fields
        self.contentLength = contentLength
    }

    /// The fields as an HTTP/1.1 gateway wants them: `host` from `:authority` when the request has
    /// no Host field (RFC 9113 §8.3.1), cookie crumbs joined with "; " into one field at the place of
    /// the first (§8.2.3), everything else in order. Values are bytes (any octet but NUL/CR/LF).
    public func http1Fields() -> [(name: [UInt8], value: [UInt8])] {
        let host = Array("host".utf8), cookie = Array("cookie".utf8)
        var out: [(name: [UInt8], value: [UInt8])] = []
        out.reserveCapacity(fields.count + 1)
        if let authority, !fields.contains(where: { $0.name == host }) { out.append((host, Array(authority.utf8))) }
        var cookieIndex: Int?
        for field in fields {
            if field.name == cookie, let index = cookieIndex {
                out[index].value += Array("; ".utf8) + field.value
                continue
            }
            if field.name == cookie { cookieIndex = out.count }
            out.append((field.name, field.value))
        }
        return out
    }

    /// Value of the first regular field named `name` (lowercase).
    public func first(_ name: String) -> String? {
        let bytes = Array(name.utf8)
        return fields.first { $0.name == bytes }?.valueString
    }
}

/// RFC 9113 §8.2 and §8.3 checks on a decoded header list. A failure is a malformed request:
/// a stream error of type PROTOCOL_ERROR (§8.1.1).
public enum HTTP2HeaderValidator {
    /// Connection-specific fields, forbidden in HTTP/2 (§8.2.2).
    static let connectionSpecific: [[UInt8]] = ["connection", "proxy-connection", "keep-alive",
                                                "transfer-encoding", "upgrade"].map { Array($0.utf8) }

    /// Whether `name` (lowercase) is one of `connectionSpecific`: a few length-first comparisons.
    static func isConnectionSpecific(_ name: [UInt8]) -> Bool {
        connectionSpecific.contains { $0 == name }
    }

    /// Validates a request header block and takes its pseudo-header fields apart.
    public static func request(_ list: [HPACKHeaderField], streamID: UInt32,
                               connectProtocolEnabled: Bool) throws(HTTP2Error) -> HTTP2RequestHead {
        var pseudo = PseudoFields()
        var regular: [HPACKHeaderField] = []
        regular.reserveCapacity(list.count)
        var contentLength: Int?
        for field in list {
            try checkField(field, streamID: streamID)
            if field.name.first == UInt8(ascii: ":") {
                guard regular.isEmpty else { throw malformed(streamID, "pseudo-header \(field.nameString) after a regular field") }
                guard let slot = PseudoFields.slot(field.name) else {
                    throw malformed(streamID, "pseudo-header \(field.nameString) in a request")
                }
                guard pseudo[slot] == nil else { throw malformed(streamID, "duplicate \(field.nameString)") }
                pseudo[slot] = field.valueString
                continue
            }
            try checkRegular(field, streamID: streamID)
            if field.name == contentLengthName {
                // 1*DIGIT (RFC 9110 §8.6): no sign, no spaces, and short enough for an Int.
                let digits = !field.value.isEmpty && field.value.count <= 18 && field.value.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
                guard digits, let value = Int(field.valueString), contentLength == nil || contentLength == value else {
                    throw malformed(streamID, "content-length \(field.valueString)")
                }
                contentLength = value
            }
            regular.append(field)
        }
        guard let method = pseudo[0] else { throw malformed(streamID, "no :method") }
        if let authority = pseudo[2], let host = regular.first(where: { $0.name == hostName })?.valueString,
           !sameAuthority(authority, host, scheme: pseudo[1]) {
            // §8.3.1 (a SHOULD): the gateway routes on Host, a cache or a log may key on :authority;
            // two different names for one request is how requests get smuggled past vhost rules.
            throw malformed(streamID, "host \(host) differs from :authority \(authority)")
        }
        let head = HTTP2RequestHead(method: method, scheme: pseudo[1], authority: pseudo[2],
                                    path: pseudo[3], connectProtocol: pseudo[4], fields: regular,
                                    contentLength: contentLength)
        try checkPseudo(head, streamID: streamID, connectProtocolEnabled: connectProtocolEnabled)
        return head
    }

    static let hostName = Array("host".utf8)

    /// A request's pseudo-header values by slot (0 :method, 1 :scheme, 2 :authority, 3 :path,
    /// 4 :protocol): five optionals instead of a dictionary keyed by String.
    struct PseudoFields {
        private var values: (String?, String?, String?, String?, String?) = (nil, nil, nil, nil, nil)
        static let names: [[UInt8]] = [":method", ":scheme", ":authority", ":path", ":protocol"].map { Array($0.utf8) }

        static func slot(_ name: [UInt8]) -> Int? { names.firstIndex { $0 == name } }

        subscript(slot: Int) -> String? {
            get {
                switch slot {
                case 0: return values.0
                case 1: return values.1
                case 2: return values.2
                case 3: return values.3
                default: return values.4
                }
            }
            set {
                switch slot {
                case 0: values.0 = newValue
                case 1: values.1 = newValue
                case 2: values.2 = newValue
                case 3: values.3 = newValue
                default: values.4 = newValue
                }
            }
        }
    }
    static let teName = Array("te".utf8)
    static let trailersValue = Array("trailers".utf8)
    static let contentLengthName = Array("content-length".utf8)

    /// RFC 3986 §6.2.2/6.2.3 comparison: case-insensitive, a scheme's default port ignored.
    static func sameAuthority(_ a: String, _ b: String, scheme: String?) -> Bool {
        func normalized(_ s: String) -> String {
            let lower = s.lowercased()
            let defaultPort = scheme == "https" ? ":443" : scheme == "http" ? ":80" : nil
            if let port = defaultPort, lower.hasSuffix(port) { return String(lower.dropLast(port.count)) }
            return lower
        }
        return normalized(a) == normalized(b)
    }

    /// Trailers: regular fields only (§8.1).
    public static func trailers(_ list: [HPACKHeaderField], streamID: UInt32) throws(HTTP2Error) {
        for field in list {
            try checkField(field, streamID: streamID)
            guard field.name.first != UInt8(ascii: ":") else { throw malformed(streamID, "pseudo-header in trailers") }
            try checkRegular(field, streamID: streamID)
        }
    }

    private static func checkPseudo(_ head: HTTP2RequestHead, streamID: UInt32, connectProtocolEnabled: Bool) throws(HTTP2Error) {
        if head.method == "CONNECT" {
            if let proto = head.connectProtocol {
                // RFC 8441 §4: extended CONNECT carries all of :scheme, :path, :authority.
                guard connectProtocolEnabled else { throw malformed(streamID, ":protocol without SETTINGS_ENABLE_CONNECT_PROTOCOL") }
                guard !proto.isEmpty, head.scheme != nil, let path = head.path, !path.isEmpty, head.authority != nil else {
                    throw malformed(streamID, "extended CONNECT without :scheme, :path and :authority")
                }
            } else {
                // §8.5: plain CONNECT has only :method and :authority.
                guard head.scheme == nil, head.path == nil, let authority = head.authority, !authority.isEmpty else {
                    throw malformed(streamID, "CONNECT must carry :authority and neither :scheme nor :path")
                }
            }
            return
        }
        guard head.connectProtocol == nil else { throw malformed(streamID, ":protocol on a \(head.method) request") }
        guard let scheme = head.scheme, !scheme.isEmpty else { throw malformed(streamID, "no :scheme") }
        guard let path = head.path, !path.isEmpty else { throw malformed(streamID, "no :path or an empty one") }
        guard path.first == "/" || (path == "*" && head.method == "OPTIONS") || !["http", "https"].contains(scheme) else {
            throw malformed(streamID, ":path \(path) is not origin-form")
        }
    }

    /// §8.2.1: lowercase token names, values without NUL/CR/LF or surrounding whitespace.
    private static func checkField(_ field: HPACKHeaderField, streamID: UInt32) throws(HTTP2Error) {
        guard !field.name.isEmpty else { throw malformed(streamID, "empty field name") }
        for (i, byte) in field.name.enumerated() where !(i == 0 && byte == UInt8(ascii: ":")) {
            guard isLowercaseTokenByte(byte) else { throw malformed(streamID, "invalid byte 0x\(String(byte, radix: 16)) in a field name") }
        }
        for byte in field.value where byte == 0 || byte == 0x0a || byte == 0x0d {
            throw malformed(streamID, "NUL, CR or LF in the value of \(field.nameString)")
        }
        if let first = field.value.first, let last = field.value.last,
           first == 0x20 || first == 0x09 || last == 0x20 || last == 0x09 {
            throw malformed(streamID, "whitespace around the value of \(field.nameString)")
        }
    }

    private static func checkRegular(_ field: HPACKHeaderField, streamID: UInt32) throws(HTTP2Error) {
        if isConnectionSpecific(field.name) { throw malformed(streamID, "connection-specific field \(field.nameString)") }
        if field.name == teName && field.value != trailersValue {
            throw malformed(streamID, "te: \(field.valueString)")
        }
    }

    /// RFC 9110 token characters, uppercase letters excluded (§8.2: names are lowercase in HTTP/2).
    @inline(__always)
    static func isLowercaseTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
             UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
             UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"): return true
        default: return false
        }
    }

    static func malformed(_ streamID: UInt32, _ reason: String) -> HTTP2Error {
        .stream(streamID, .protocolError, "malformed request: \(reason)")
    }
}
