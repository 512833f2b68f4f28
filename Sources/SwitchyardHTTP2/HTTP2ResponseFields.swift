/// Builds the header list of a response (RFC 9113 §8.3.2) from an HTTP/1.1-style head, as a
/// backend or handler produces it.
public enum HTTP2ResponseFields {
    /// `:status` first, then the fields with names lowercased (§8.2). Connection-specific fields
    /// (§8.2.2: Connection, Keep-Alive, Proxy-Connection, Transfer-Encoding, Upgrade, and any field
    /// the Connection header names) are dropped, as are fields with CR, LF or NUL in the value,
    /// which HTTP/2 cannot carry and a backend must not smuggle through.
    public static func make(status: Int, headers: [(name: String, value: String)]) -> [HPACKHeaderField] {
        list(status: status, headers: headers).headerFields
    }

    /// The same rules into a field list (`HTTP2FieldList`), the gateway's way.
    public static func list(status: Int, headers: [(name: String, value: String)]) -> HTTP2FieldList {
        // Fields a Connection header names (rare): found first, since it may come after them.
        var named: [[UInt8]] = []
        for header in headers where header.name.utf8.count == connectionName.count && lowercased(header.name) == connectionName {
            for token in header.value.split(separator: ",") { named.append(lowercased(token.trimmingSpaces)) }
        }
        var list = HTTP2FieldList(status: status)
        for header in headers {
            guard passes(name: header.name.utf8, value: header.value.utf8) else { continue }
            if !named.isEmpty && named.contains(lowercased(header.name)) { continue }
            list.append(name: header.name, value: header.value)
        }
        return list
    }

    /// Appends ready-made `Name: value\r\n` lines (a static file's cached head) under the same
    /// rules, straight from the bytes (no Connection header names fields there).
    public static func appendLines(_ lines: UnsafeRawBufferPointer, to list: inout HTTP2FieldList) {
        let bytes = lines.bindMemory(to: UInt8.self)
        var lineStart = 0
        while lineStart < bytes.count {
            var lineEnd = lineStart
            while lineEnd < bytes.count && bytes[lineEnd] != 0x0a { lineEnd += 1 }
            var colon = lineStart
            while colon < lineEnd && bytes[colon] != UInt8(ascii: ":") { colon += 1 }
            if colon < lineEnd {
                var valueStart = colon + 1, valueEnd = lineEnd
                while valueStart < valueEnd && (bytes[valueStart] == 0x20 || bytes[valueStart] == 0x09) { valueStart += 1 }
                while valueEnd > valueStart && (bytes[valueEnd - 1] == 0x0d || bytes[valueEnd - 1] == 0x20 || bytes[valueEnd - 1] == 0x09) {
                    valueEnd -= 1
                }
                let name = UnsafeBufferPointer(rebasing: bytes[lineStart..<colon])
                let value = UnsafeBufferPointer(rebasing: bytes[valueStart..<valueEnd])
                if passes(name: name, value: value) { list.append(name: name, value: value) }
            }
            lineStart = lineEnd + 1
        }
    }

    /// No pseudo-header, nothing connection-specific, no `te` (request-only), and no NUL, CR or
    /// LF in the value; Set-Cookie and the rest pass unchanged, duplicates kept.
    private static func passes<N: Collection, V: Collection>(name: N, value: V) -> Bool where N.Element == UInt8, V.Element == UInt8 {
        guard let first = name.first, first != UInt8(ascii: ":") else { return false }
        switch name.count {
        case 2, 7, 10, 16, 17:
            // The lengths of "te" and the connection-specific names: only these need a closer look.
            let lower = lowercased(name)
            if HTTP2HeaderValidator.isConnectionSpecific(lower) || lower == teName { return false }
        default: break
        }
        return !value.contains { $0 == 0 || $0 == 0x0a || $0 == 0x0d }
    }

    static let statusName = Array(":status".utf8)
    static let connectionName = Array("connection".utf8)
    static let teName = Array("te".utf8)
    /// ASCII-lowercased bytes of a field name, written straight into one array.
    static func lowercased<S: StringProtocol>(_ text: S) -> [UInt8] {
        lowercased(text.utf8)
    }

    static func lowercased<C: Collection>(_ utf8: C) -> [UInt8] where C.Element == UInt8 {
        [UInt8](unsafeUninitializedCapacity: utf8.count) { buffer, count in
            var i = 0
            for byte in utf8 {
                buffer[i] = byte >= 0x41 && byte <= 0x5a ? byte | 0x20 : byte
                i += 1
            }
            count = i
        }
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
