/// `Forwarded` (RFC 7239) and the `X-Forwarded-*` fields a reverse proxy adds.
///
/// The client's own values are kept and the proxy's hop is appended (`Forwarded: <theirs>, <ours>`,
/// `X-Forwarded-For: <theirs>, <client address>`): the backend decides how many hops it trusts.
/// `X-Forwarded-Proto` is replaced (only this hop knows the scheme it accepted). Values that are
/// not RFC 7239 tokens (IPv6 addresses in brackets, `host:port`, user names) are quoted.
///
/// Written straight into the head: the client's values and this hop's parameters go to `out` as
/// they are found, with no arrays or joined strings in between (every proxied request adds these).
enum ProxyForwarded {
    static func append(to out: inout [UInt8], info: CGIRequestInfo, headers: [(name: String, value: String)],
                       clientHost: String?, remoteUser: String?, parameters: ProxyHeaderOptions.ForwardedParameters) {
        let forFor = parameters.contains(.for), forProto = parameters.contains(.proto), by = parameters.contains(.by)
        let host = parameters.contains(.host) ? clientHost : nil
        let user = parameters.contains(.remoteUser) ? remoteUser : nil
        let ours = forFor || forProto || host != nil || by || user != nil
        if ours || has(headers, "Forwarded") {
            let mark = out.count
            startField(&out, "Forwarded")
            let valueStart = out.count
            var wrote = appendExisting(&out, headers, "Forwarded")
            if ours {
                if wrote { appendSeparator(&out, ", ") }
                wrote = false
                func parameter(_ name: StaticString, _ value: String) {
                    if wrote { out.append(UInt8(ascii: ";")) }
                    wrote = true
                    out.appendLiteral(name)
                    appendValue(&out, value)
                }
                if forFor { parameter("for=", node(info.remoteAddr, port: nil)) }
                if forProto { parameter("proto=", info.scheme) }
                if let host { parameter("host=", host) }
                if by { parameter("by=", node(info.serverAddr, port: info.serverPort)) }
                if let user { parameter("remote_user=", user) }
            }
            // Only empty values from the client and nothing of ours: no field at all.
            if out.count == valueStart { out.removeSubrange(mark...) } else { endField(&out) }
        }
        if !info.remoteAddr.isEmpty || has(headers, "X-Forwarded-For") {
            startField(&out, "X-Forwarded-For")
            let wrote = appendExisting(&out, headers, "X-Forwarded-For")
            if !info.remoteAddr.isEmpty {
                if wrote { appendSeparator(&out, ", ") }
                ProxyRequestHeadEncoder.appendSanitized(&out, info.remoteAddr, colonToo: false)
            }
            endField(&out)
        }
        ProxyRequestHeadEncoder.appendField(&out, "X-Forwarded-Proto", info.scheme)
        if let host {
            ProxyRequestHeadEncoder.appendField(&out, "X-Forwarded-Host", host)
        } else if has(headers, "X-Forwarded-Host") {
            startField(&out, "X-Forwarded-Host")
            _ = appendExisting(&out, headers, "X-Forwarded-Host")
            endField(&out)
        }
    }

    private static func has(_ headers: [(name: String, value: String)], _ name: String) -> Bool {
        headers.contains { ProxyMapping.equalsIgnoringCase($0.name, name) }
    }

    /// The values of every `name` field the client sent, joined with ", "; false when there was none.
    private static func appendExisting(_ out: inout [UInt8], _ headers: [(name: String, value: String)], _ name: String) -> Bool {
        var wrote = false
        for field in headers where ProxyMapping.equalsIgnoringCase(field.name, name) {
            if wrote { appendSeparator(&out, ", ") }
            wrote = true
            ProxyRequestHeadEncoder.appendSanitized(&out, field.value, colonToo: false)
        }
        return wrote
    }

    private static func startField(_ out: inout [UInt8], _ name: StaticString) {
        out.appendLiteral(name)
        out.append(ASCII.colon)
        out.append(ASCII.space)
    }

    private static func endField(_ out: inout [UInt8]) {
        out.append(ASCII.cr)
        out.append(ASCII.lf)
    }

    private static func appendSeparator(_ out: inout [UInt8], _ separator: StaticString) {
        out.appendLiteral(separator)
    }

    /// `value(s)` written to `out` (and sanitized as every field value is).
    private static func appendValue(_ out: inout [UInt8], _ s: String) {
        var s = s
        s.withUTF8 { bytes in
            if !bytes.isEmpty && bytes.allSatisfy(ASCII.isTokenChar) {
                out.append(contentsOf: bytes)
                return
            }
            // A quoted-string: `"` and `\` escaped (never part of a multi-byte character, so
            // escaping bytes is escaping characters), CR, LF and NUL as spaces.
            out.append(UInt8(ascii: "\""))
            for b in bytes {
                if b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") { out.append(UInt8(ascii: "\\")) }
                out.append(b == ASCII.cr || b == ASCII.lf || b == 0 ? ASCII.space : b)
            }
            out.append(UInt8(ascii: "\""))
        }
    }

    /// RFC 7239 6: an IPv6 address in brackets, `unknown` when there is no address (a unix socket).
    static func node(_ address: String, port: Int?) -> String {
        if address.isEmpty { return "unknown" }
        let host = address.utf8.contains(ASCII.colon) ? "[\(address)]" : address
        if let port, port > 0 { return "\(host):\(port)" }
        return host
    }
}
