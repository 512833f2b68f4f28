/// `Forwarded` (RFC 7239) and the `X-Forwarded-*` fields a reverse proxy adds.
///
/// The client's own values are kept and the proxy's hop is appended (`Forwarded: <theirs>, <ours>`,
/// `X-Forwarded-For: <theirs>, <client address>`): the backend decides how many hops it trusts.
/// `X-Forwarded-Proto` is replaced (only this hop knows the scheme it accepted). Values that are
/// not RFC 7239 tokens (IPv6 addresses in brackets, `host:port`, user names) are quoted.
enum ProxyForwarded {
    static func append(to out: inout [UInt8], info: CGIRequestInfo, headers: [(name: String, value: String)],
                       clientHost: String?, remoteUser: String?, parameters: ProxyHeaderOptions.ForwardedParameters) {
        func existing(_ name: String) -> String? {
            let values = headers.filter { ProxyMapping.equalsIgnoringCase($0.name, name) }.map(\.value)
            return values.isEmpty ? nil : values.joined(separator: ", ")
        }
        var element: [String] = []
        if parameters.contains(.for) { element.append("for=" + value(node(info.remoteAddr, port: nil))) }
        if parameters.contains(.proto) { element.append("proto=" + value(info.scheme)) }
        if parameters.contains(.host), let clientHost { element.append("host=" + value(clientHost)) }
        if parameters.contains(.by) { element.append("by=" + value(node(info.serverAddr, port: info.serverPort))) }
        if parameters.contains(.remoteUser), let remoteUser { element.append("remote_user=" + value(remoteUser)) }
        let ours = element.joined(separator: ";")
        let forwarded = [existing("Forwarded"), ours.isEmpty ? nil : ours].compactMap { $0 }.joined(separator: ", ")
        if !forwarded.isEmpty { ProxyRequestHeadEncoder.appendField(&out, "Forwarded", forwarded) }

        let chain = [existing("X-Forwarded-For"), info.remoteAddr.isEmpty ? nil : info.remoteAddr].compactMap { $0 }
        if !chain.isEmpty { ProxyRequestHeadEncoder.appendField(&out, "X-Forwarded-For", chain.joined(separator: ", ")) }
        ProxyRequestHeadEncoder.appendField(&out, "X-Forwarded-Proto", info.scheme)
        if parameters.contains(.host), let clientHost {
            ProxyRequestHeadEncoder.appendField(&out, "X-Forwarded-Host", clientHost)
        } else if let theirs = existing("X-Forwarded-Host") {
            ProxyRequestHeadEncoder.appendField(&out, "X-Forwarded-Host", theirs)
        }
    }

    /// RFC 7239 6: an IPv6 address in brackets, `unknown` when there is no address (a unix socket).
    static func node(_ address: String, port: Int?) -> String {
        if address.isEmpty { return "unknown" }
        let host = address.utf8.contains(ASCII.colon) ? "[\(address)]" : address
        if let port, port > 0 { return "\(host):\(port)" }
        return host
    }

    /// A token as is, anything else as a quoted-string (with `"` and `\` escaped).
    static func value(_ s: String) -> String {
        if !s.isEmpty && s.utf8.allSatisfy(ASCII.isTokenChar) { return s }
        var q = "\""
        for c in s.unicodeScalars {
            if c == "\"" || c == "\\" { q.append("\\") }
            q.unicodeScalars.append(c)
        }
        return q + "\""
    }
}
