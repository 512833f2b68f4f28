/// Builds the header list of a response (RFC 9113 §8.3.2) from an HTTP/1.1-style head, as a
/// backend or handler produces it.
public enum HTTP2ResponseFields {
    /// `:status` first, then the fields with names lowercased (§8.2). Connection-specific fields
    /// (§8.2.2: Connection, Keep-Alive, Proxy-Connection, Transfer-Encoding, Upgrade, and any field
    /// the Connection header names) are dropped, as are fields with CR, LF or NUL in the value,
    /// which HTTP/2 cannot carry and a backend must not smuggle through.
    public static func make(status: Int, headers: [(name: String, value: String)]) -> [HPACKHeaderField] {
        var named: Set<[UInt8]> = HTTP2HeaderValidator.connectionSpecific
        for header in headers where lowercased(header.name) == Array("connection".utf8) {
            for token in header.value.split(separator: ",") {
                named.insert(lowercased(token.trimmingSpaces))
            }
        }
        var fields = [HPACKHeaderField(name: Array(":status".utf8), value: Array(String(status).utf8))]
        fields.reserveCapacity(headers.count + 1)
        for header in headers {
            let name = lowercased(header.name)
            guard !name.isEmpty, !named.contains(name), name.first != UInt8(ascii: ":") else { continue }
            let value = Array(header.value.utf8)
            guard !value.contains(where: { $0 == 0 || $0 == 0x0a || $0 == 0x0d }) else { continue }
            // "TE" is request-only; "Set-Cookie" and the rest pass unchanged, duplicates kept.
            if name == Array("te".utf8) { continue }
            fields.append(HPACKHeaderField(name: name, value: value))
        }
        return fields
    }

    static func lowercased<S: StringProtocol>(_ text: S) -> [UInt8] {
        text.utf8.map { $0 >= 0x41 && $0 <= 0x5a ? $0 | 0x20 : $0 }
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var text = self
        while text.first == " " || text.first == "\t" { text = text.dropFirst() }
        while text.last == " " || text.last == "\t" { text = text.dropLast() }
        return text
    }
}
