/// How the request body travels to the proxied server.
public enum ProxyBodyFraming: Sendable, Equatable {
    /// No body and no Content-Length (GET, HEAD, ... without one).
    case none
    /// `Content-Length: n` (also 0 when the client sent `Content-Length: 0`).
    case length(Int)
    /// The client's length is unknown (it sent chunked): re-chunked to the backend.
    case chunked
}

/// What the encoder produced: the bytes and the facts the response side needs.
public struct ProxyRequestHead: Sendable, Equatable {
    public var bytes: [UInt8]
    /// The request asks the backend to switch to WebSocket (expect 101 and then raw bytes).
    public var isUpgrade: Bool
    /// The Host sent to the backend (the `-` key of map-host-response).
    public var backendHost: String
    /// The body is sent with the chunked coding.
    public var chunkedBody: Bool
}

public struct ProxyRequestError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The status to answer the client with (405 for a CONNECT: never forwarded).
    public var status: Int
    public var reason: String
    public var description: String { "\(status): \(reason)" }
}

/// Builds the HTTP/1.1 request head a reverse proxy sends to its backend from the protocol-neutral
/// request facts (`CGIRequestInfo`, the same value SCGI/uwsgi/FastCGI encode).
///
/// Hop-by-hop fields never cross (RFC 9110 7.6.1): Connection and every field it names (parsed as
/// a case-insensitive token list: browsers send `keep-alive, Upgrade`), Keep-Alive, TE, Trailer,
/// Transfer-Encoding, Upgrade, HTTP2-Settings and Proxy-*; the body framing is the proxy's own.
/// `Upgrade` is re-added only as `websocket`, only when the route enables upgrades and the client
/// asked for it properly, so no other protocol (h2c) can be smuggled through.
public enum ProxyRequestHeadEncoder {
    /// Fields the proxy never forwards as they came: hop-by-hop (RFC 9110 7.6.1) or its own to set.
    static let hopByHop: [StaticString] = ["connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade",
                                           "http2-settings", "content-length", "host", "forwarded",
                                           "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"]

    /// One pass over the name's bytes: only the list's entries of its length are compared.
    static func isHopByHop(_ name: String) -> Bool {
        var name = name
        return name.withUTF8 { utf8 in
            let bytes = UnsafeRawBufferPointer(utf8)
            for h in hopByHop where h.utf8CodeUnitCount == bytes.count
                && HTTPFieldTokens.equals(bytes, UnsafeRawBufferPointer(start: h.utf8Start, count: h.utf8CodeUnitCount), lowerCasingBoth: false) {
                return true
            }
            let prefix: StaticString = "proxy-"
            return bytes.count >= prefix.utf8CodeUnitCount
                && HTTPFieldTokens.equals(UnsafeRawBufferPointer(rebasing: bytes[0..<prefix.utf8CodeUnitCount]),
                                          UnsafeRawBufferPointer(start: prefix.utf8Start, count: prefix.utf8CodeUnitCount),
                                          lowerCasingBoth: false)
        }
    }

    public static func encode(_ info: CGIRequestInfo, body: ProxyBodyFraming, backendAuthority: String,
                              remoteUser: String? = nil, keepAlive: Bool = true,
                              options: ProxyHeaderOptions) throws(ProxyRequestError) -> ProxyRequestHead {
        if info.method == "CONNECT" {
            // lighttpd's mod_proxy tunnels a CONNECT itself (`proxy.header` connect): no backend sees one.
            throw ProxyRequestError(status: 405, reason: "CONNECT is tunnelled by the gateway, never forwarded")
        }
        let clientHost = info.headers.first { ProxyMapping.equalsIgnoringCase($0.name, "Host") }?.value
        let isHTTPS = info.scheme == "https"
        // The Connection values, kept as they are: the fields they name are dropped below.
        var connectionValues: [String] = []
        var connectionUpgrade = false, offersWebSocket = false
        for (name, value) in info.headers {
            if HTTPFieldTokens.name(name, is: "connection") {
                connectionValues.append(value)
                connectionUpgrade = connectionUpgrade || HTTPFieldTokens.list(value, contains: "upgrade")
            } else if HTTPFieldTokens.name(name, is: "upgrade") {
                offersWebSocket = offersWebSocket || HTTPFieldTokens.list(value, contains: "websocket")
            }
        }
        let isUpgrade = options.upgrade && info.method == "GET" && connectionUpgrade && offersWebSocket

        // Host: replace-http-host, then map-host-request.
        var host = options.replaceHTTPHost ? backendAuthority : (clientHost ?? backendAuthority)
        var hostMapped = false
        if let mapped = ProxyMapping.host(host, in: options.mapHostRequest, dashKey: clientHost, dashValue: clientHost) {
            host = mapped
            hostMapped = true
        }

        var out: [UInt8] = []
        out.reserveCapacity(256 + info.headers.count * 48)
        out.appendUTF8(info.method)
        out.append(ASCII.space)
        out.appendUTF8(target(info, options: options, isHTTPS: isHTTPS, hostMapped: hostMapped))
        out.appendUTF8(" HTTP/1.1\r\n")
        appendField(&out, "Host", host)
        for (name, value) in info.headers {
            if isHopByHop(name) || HTTPFieldTokens.lists(connectionValues, name: name) { continue }
            var v = value
            if HTTPFieldTokens.name(name, is: "destination"), let mapped = mapURI(value, options: options, isHTTPS: isHTTPS, clientHost: clientHost) { v = mapped }
            appendField(&out, name, v)
        }
        ProxyForwarded.append(to: &out, info: info, headers: info.headers, clientHost: clientHost,
                              remoteUser: remoteUser, parameters: options.forwarded)
        switch body {
        case .none: break
        case .length(let n): appendField(&out, "Content-Length", String(n))
        case .chunked: appendField(&out, "Transfer-Encoding", "chunked")
        }
        if isUpgrade {
            appendField(&out, "Connection", "Upgrade")
            appendField(&out, "Upgrade", "websocket")
        } else if !keepAlive {
            appendField(&out, "Connection", "close")
        }
        out.append(ASCII.cr)
        out.append(ASCII.lf)
        return ProxyRequestHead(bytes: out, isUpgrade: isUpgrade, backendHost: host, chunkedBody: body == .chunked)
    }

    /// Origin-form target with map-urlpath applied; an absolute-form target loses scheme and authority.
    static func target(_ info: CGIRequestInfo, options: ProxyHeaderOptions, isHTTPS: Bool, hostMapped: Bool) -> String {
        var t = info.requestURI
        if t.utf8.first != UInt8(ascii: "/"), let absolute = ProxyMapping.splitAbsolute(t) { t = absolute.rest.isEmpty ? "/" : absolute.rest }
        return ProxyMapping.urlPath(t, in: options.mapURLPath, reversed: false) ?? t
    }

    /// A request header carrying a URI (WebDAV Destination): authority through map-host-request,
    /// path through map-urlpath, and with https-remap `https://` -> `http://` when the host mapped.
    static func mapURI(_ uri: String, options: ProxyHeaderOptions, isHTTPS: Bool, clientHost: String?) -> String? {
        if let (scheme, authority, rest) = ProxyMapping.splitAbsolute(uri) {
            guard let mappedHost = ProxyMapping.host(authority, in: options.mapHostRequest, dashKey: clientHost, dashValue: clientHost) else {
                return nil
            }
            let path = ProxyMapping.urlPath(rest, in: options.mapURLPath, reversed: false) ?? rest
            let newScheme = options.httpsRemap && isHTTPS && scheme == "https" ? "http" : scheme
            return "\(newScheme)://\(mappedHost)\(path)"
        }
        return ProxyMapping.urlPath(uri, in: options.mapURLPath, reversed: false)
    }

    /// "Name: value\r\n" with CR, LF and NUL replaced by a space (nothing can split the head).
    static func appendField(_ out: inout [UInt8], _ name: String, _ value: String) {
        appendSanitized(&out, name, colonToo: true)
        out.append(ASCII.colon)
        out.append(ASCII.space)
        appendSanitized(&out, value, colonToo: false)
        out.append(ASCII.cr)
        out.append(ASCII.lf)
    }

    /// `text`'s bytes with CR, LF, NUL (and in a name ':') as spaces: one copy when there is none
    /// to replace, which is every field a well-behaved client sends.
    static func appendSanitized(_ out: inout [UInt8], _ text: String, colonToo: Bool) {
        var text = text
        text.withUTF8 { appendSanitized(&out, $0, colonToo: colonToo) }
    }

    /// The same for bytes. `withUTF8` (not `withContiguousStorageIfAvailable`, which has no storage
    /// to offer for a small string and sent those, most field names and values, byte by byte), and
    /// a typed buffer, which `append(contentsOf:)` copies with one memcpy.
    static func appendSanitized(_ out: inout [UInt8], _ bytes: UnsafeBufferPointer<UInt8>, colonToo: Bool) {
        @inline(__always) func unsafe(_ b: UInt8) -> Bool {
            b == ASCII.cr || b == ASCII.lf || b == 0 || (colonToo && b == ASCII.colon)
        }
        var clean = true
        for b in bytes where unsafe(b) { clean = false; break }
        guard clean else {
            for b in bytes { out.append(unsafe(b) ? ASCII.space : b) }
            return
        }
        out.append(contentsOf: bytes)
    }
}

extension String {
    /// Without leading and trailing spaces and tabs.
    func trimmingOWS() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}
