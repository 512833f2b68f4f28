/// `--source-addresses`: the local addresses the load generator binds its connections to before
/// connecting, round-robin. One source address gives at most the ephemeral port range
/// (`net.ipv4.ip_local_port_range`, about 28 000 ports by default) of connections to one gateway
/// address and port; each further source address gives as many again.
///
/// Syntax: a comma list of IPv4 or IPv6 literals and inclusive IPv4 ranges
/// (`127.0.0.2-127.0.0.9`, or `127.0.0.2-9` for the last octet). Parsing is pure (no I/O).
public enum SourceAddressList {
    /// More addresses than any run can use (65 536 ports each); a typo such as
    /// `10.0.0.1-10.255.0.1` is refused instead of allocating millions of strings.
    public static let maxAddresses = 4096

    public struct ParseError: Error, CustomStringConvertible, Equatable {
        public var description: String
        public init(_ d: String) { description = d }
    }

    /// The addresses in order, each in its canonical text form (IPv4 dotted quad, IPv6 as given).
    public static func parse(_ text: String) throws(ParseError) -> [String] {
        var result: [String] = []
        let items = text.split(separator: ",", omittingEmptySubsequences: false)
        for raw in items {
            let item = raw.trimmingSpaces()
            guard !item.isEmpty else { throw ParseError("empty entry in \"\(text)\"") }
            if item.contains(":") {
                guard isIPv6Literal(item) else { throw ParseError("\"\(item)\" is not an IPv4 or IPv6 address") }
                result.append(item)
            } else if let dash = item.firstIndex(of: "-") {
                let first = String(item[..<dash]), last = String(item[item.index(after: dash)...])
                guard let low = ipv4(first) else { throw ParseError("\"\(first)\" is not an IPv4 address (in \"\(item)\")") }
                let high: UInt32
                if let full = ipv4(last) {
                    high = full
                } else if let octet = UInt32(last), octet <= 255 {
                    high = low & 0xFFFF_FF00 | octet      // 127.0.0.2-9
                } else {
                    throw ParseError("\"\(last)\" is not an IPv4 address or a last octet (in \"\(item)\")")
                }
                guard high >= low else { throw ParseError("range \"\(item)\" ends before it starts") }
                guard UInt64(high - low) + 1 + UInt64(result.count) <= UInt64(maxAddresses) else {
                    throw ParseError("more than \(maxAddresses) source addresses")
                }
                for a in low...high { result.append(format(a)) }
            } else {
                guard let a = ipv4(item) else { throw ParseError("\"\(item)\" is not an IPv4 or IPv6 address") }
                result.append(format(a))
            }
            guard result.count <= maxAddresses else { throw ParseError("more than \(maxAddresses) source addresses") }
        }
        return result
    }

    /// A dotted quad ("127.0.0.2") as a host-order number; nil for anything else (no leading
    /// zeros beyond "0", no shortened forms such as "127.1").
    public static func ipv4(_ text: String) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for p in parts {
            guard !p.isEmpty, p.count <= 3, p.allSatisfy({ $0.isASCII && $0.isNumber }),
                  p.count == 1 || p.first != "0", let octet = UInt32(p), octet <= 255 else { return nil }
            value = value << 8 | octet
        }
        return value
    }

    public static func format(_ a: UInt32) -> String {
        "\(a >> 24).\(a >> 16 & 0xFF).\(a >> 8 & 0xFF).\(a & 0xFF)"
    }

    /// A plausibility check only (hex digits, colons, at most one "::", optional IPv4 tail);
    /// the socket layer's inet_pton has the last word when the run starts.
    static func isIPv6Literal(_ text: String) -> Bool {
        guard text.count <= 45, text.contains(":") else { return false }
        let allowed = text.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." }
        let chars = Array(text)
        var doubleColons = 0
        for i in chars.indices.dropLast() where chars[i] == ":" && chars[i + 1] == ":" { doubleColons += 1 }
        return allowed && doubleColons <= 1
    }
}

private extension Substring {
    func trimmingSpaces() -> String {
        var s = self
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
