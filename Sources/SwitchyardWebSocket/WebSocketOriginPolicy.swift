/// lighttpd's `wstunnel.origins` rule: which `Origin` values may open a WebSocket.
///
/// An empty list admits every request (with or without Origin). Otherwise the request must carry
/// `Origin` (400 without it) and it must equal an entry or end with it right after a `.` (entry
/// `example.org` admits `https://www.example.org` but not `https://badexample.org`); 403 otherwise.
/// lighttpd applies that test to the header as sent, so its entry `example.org` refuses
/// `https://example.org` itself (a `/` precedes the suffix); here the test is also applied to the
/// origin's host, which admits it, on any port. Entries may be full origins
/// (`https://example.org:8443`). Comparison ignores ASCII case, as scheme and host do.
public struct WebSocketOriginPolicy: Sendable, Equatable {
    public var allowed: [String]

    public enum Decision: Sendable, Equatable {
        case admit
        /// 400: the policy needs an Origin and the request has none.
        case missingOrigin
        /// 403: the Origin is not on the list.
        case forbidden(String)

        /// The status to answer with, nil for `.admit`.
        public var status: Int? {
            switch self {
            case .admit: return nil
            case .missingOrigin: return 400
            case .forbidden: return 403
            }
        }
    }

    public init(allowed: [String]) {
        self.allowed = allowed.map(lowercasedASCII)
    }

    public func evaluate(origin: String?) -> Decision {
        if allowed.isEmpty { return .admit }
        guard let origin, !origin.isEmpty else { return .missingOrigin }
        let full = lowercasedASCII(origin)
        let host = Self.host(ofOrigin: full)
        for entry in allowed where Self.matches(full, entry) || Self.matches(host, entry) {
            return .admit
        }
        return .forbidden(origin)
    }

    /// lighttpd's test: `value` equals `entry`, or ends with it right after a `.`.
    static func matches(_ value: String, _ entry: String) -> Bool {
        let v = value.utf8, e = entry.utf8
        guard !e.isEmpty, v.count >= e.count, v.suffix(e.count).elementsEqual(e) else { return false }
        if v.count == e.count { return true }
        return v[v.index(v.endIndex, offsetBy: -e.count - 1)] == UInt8(ascii: ".")
    }

    /// The host of `scheme://host[:port]`; the whole string when it has no scheme (lighttpd compares
    /// the header as given, so both spellings are accepted).
    static func host(ofOrigin origin: String) -> String {
        var rest = Substring(origin)
        let u = Array(origin.utf8)
        if let i = u.indices.first(where: { $0 + 2 < u.count && u[$0] == 0x3A && u[$0 + 1] == 0x2F && u[$0 + 2] == 0x2F }) {
            rest = Substring(String(decoding: u[(i + 3)...], as: UTF8.self))
        }
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        if rest.hasPrefix("[") {
            if let close = rest.firstIndex(of: "]") { return String(rest[...close]) }
            return String(rest)
        }
        if let colon = rest.lastIndex(of: ":") { rest = rest[..<colon] }
        return String(rest)
    }
}

func lowercasedASCII(_ s: String) -> String {
    String(decoding: s.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
}
