/// The server side of the RFC 6455 opening handshake (section 4.2), for endpoints that terminate
/// WebSockets themselves (the tunnel): validates the client's request and builds the 101 answer.
///
/// Works on the request's method, version and header list only, so it is independent of the HTTP
/// parser and trivially unit-tested. Every refusal carries the status and headers to answer with:
/// a wrong or missing `Sec-WebSocket-Version` gets `Sec-WebSocket-Version: 13` (RFC 6455 4.4) so
/// the client can retry with a version the server speaks.
public enum WebSocketServerHandshake {
    /// What the server offers.
    public struct Options: Sendable {
        /// Subprotocols the server can speak, in its order of preference (lighttpd's tunnel: binary, base64).
        public var subprotocols: [String]
        /// Offer permessage-deflate with these bounds; nil = never negotiate it.
        public var deflate: PerMessageDeflateConfig?

        public init(subprotocols: [String] = ["binary", "base64"], deflate: PerMessageDeflateConfig? = nil) {
            self.subprotocols = subprotocols
            self.deflate = deflate
        }
    }

    public struct Acceptance: Sendable, Equatable {
        public var accept: String
        /// The chosen subprotocol; only ever one the client offered.
        public var subprotocol: String?
        /// The negotiated permessage-deflate parameters (server's response), nil without compression.
        public var deflate: PerMessageDeflateParameters?
        /// Header fields of the 101 response, in order.
        public var responseHeaders: [(name: String, value: String)]

        public static func == (a: Self, b: Self) -> Bool {
            a.accept == b.accept && a.subprotocol == b.subprotocol && a.deflate == b.deflate
                && a.responseHeaders.map { "\($0.name): \($0.value)" } == b.responseHeaders.map { "\($0.name): \($0.value)" }
        }
    }

    public struct Rejection: Error, Sendable, Equatable {
        public var status: Int
        public var reason: String
        /// Extra header fields for the error response.
        public var headers: [String: String]
    }

    /// Checks an upgrade request. `isHTTP11` is false for HTTP/1.0 (which cannot upgrade).
    ///
    /// One pass over the fields picks out the six the handshake reads; names and token lists are
    /// compared as bytes (a tunnel upgrade runs this once, and it used to build and split strings
    /// for every field it looked at).
    public static func evaluate(method: String, isHTTP11: Bool, headers: [(name: String, value: String)],
                                options: Options = .init()) -> Result<Acceptance, Rejection> {
        func bad(_ why: String, _ extra: [String: String] = [:]) -> Result<Acceptance, Rejection> {
            .failure(Rejection(status: 400, reason: why, headers: extra))
        }
        guard method == "GET" else { return bad("WebSocket handshake must be GET") }
        guard isHTTP11 else { return bad("WebSocket handshake needs HTTP/1.1") }
        var upgradesToWebSocket = false, connectionUpgrade = false
        var versions: [String] = [], keys: [String] = [], protocols: [String] = [], extensions: [String] = []
        for (name, value) in headers {
            switch HandshakeField(name) {
            case .upgrade?: upgradesToWebSocket = upgradesToWebSocket || TokenList.contains(value, "websocket")
            case .connection?: connectionUpgrade = connectionUpgrade || TokenList.contains(value, "upgrade")
            case .version?: versions.append(value)
            case .key?: keys.append(value)
            case .protocols?: protocols.append(value)
            case .extensions?: extensions.append(value)
            case nil: continue
            }
        }
        guard upgradesToWebSocket else { return bad("Upgrade does not name websocket") }
        guard connectionUpgrade else { return bad("Connection does not contain the upgrade token") }
        guard versions.count == 1, trimmed(versions[0]) == "13" else {
            return bad("Sec-WebSocket-Version must be 13", ["Sec-WebSocket-Version": "13"])
        }
        guard keys.count == 1, WebSocketHandshake.isValidKey(trimmed(keys[0])) else {
            return bad("Sec-WebSocket-Key missing, repeated or not 16 bytes of base64")
        }
        let accept = WebSocketHandshake.acceptValue(forKey: trimmed(keys[0]))
        let offered = protocols.flatMap(listElements)
        let subprotocol = offered.isEmpty ? nil : options.subprotocols.first { mine in offered.contains(mine) }
        var deflate: PerMessageDeflateParameters?
        if let config = options.deflate {
            deflate = PerMessageDeflateNegotiation.accept(offers: PerMessageDeflateNegotiation.offers(extensions), config: config)
        }
        var response: [(name: String, value: String)] = [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                                                         ("Sec-WebSocket-Accept", accept)]
        if let subprotocol { response.append(("Sec-WebSocket-Protocol", subprotocol)) }
        if let deflate { response.append(("Sec-WebSocket-Extensions", deflate.headerValue)) }
        return .success(Acceptance(accept: accept, subprotocol: subprotocol, deflate: deflate, responseHeaders: response))
    }

    /// The request fields the handshake reads, recognised by length and then bytes, any case.
    enum HandshakeField {
        case upgrade, connection, version, key, protocols, extensions

        init?(_ name: String) {
            switch name.utf8.count {
            case 7 where TokenList.equalsLowercased(name, "upgrade"): self = .upgrade
            case 10 where TokenList.equalsLowercased(name, "connection"): self = .connection
            case 17 where TokenList.equalsLowercased(name, "sec-websocket-key"): self = .key
            case 21 where TokenList.equalsLowercased(name, "sec-websocket-version"): self = .version
            case 22 where TokenList.equalsLowercased(name, "sec-websocket-protocol"): self = .protocols
            case 24 where TokenList.equalsLowercased(name, "sec-websocket-extensions"): self = .extensions
            default: return nil
            }
        }
    }

    /// Comma-separated elements, trimmed of spaces and tabs, empty ones dropped (RFC 9110 5.6.1).
    static func listElements(_ value: String) -> [String] {
        var out: [String] = []
        TokenList.forEach(value) { out.append(String(decoding: $0, as: UTF8.self)); return true }
        return out
    }

    /// `s` without leading and trailing spaces and tabs (`s` itself when there are none).
    static func trimmed(_ s: String) -> String {
        var copy = s
        return copy.withUTF8 { bytes in
            var lo = 0, hi = bytes.count
            while lo < hi && TokenList.isSpaceOrTab(bytes[lo]) { lo += 1 }
            while hi > lo && TokenList.isSpaceOrTab(bytes[hi - 1]) { hi -= 1 }
            if lo == 0 && hi == bytes.count { return s }
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[lo..<hi]), as: UTF8.self)
        }
    }
}

/// Comma-separated token lists read in place as bytes, ASCII case-insensitively.
enum TokenList {
    @inline(__always)
    static func isSpaceOrTab(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 }

    @inline(__always)
    static func lower(_ b: UInt8) -> UInt8 { b >= 0x41 && b <= 0x5A ? b | 0x20 : b }

    /// Calls `body` with each non-empty trimmed element of `list` until it returns false.
    static func forEach(_ list: String, _ body: (UnsafeBufferPointer<UInt8>) -> Bool) {
        var list = list
        list.withUTF8 { bytes in
            var start = 0
            let end = bytes.count
            while start < end {
                var comma = start
                while comma < end && bytes[comma] != 0x2C { comma += 1 }
                var lo = start, hi = comma
                while lo < hi && isSpaceOrTab(bytes[lo]) { lo += 1 }
                while hi > lo && isSpaceOrTab(bytes[hi - 1]) { hi -= 1 }
                if lo < hi && !body(UnsafeBufferPointer(rebasing: bytes[lo..<hi])) { return }
                start = comma + 1
            }
        }
    }

    /// `list` has the element `token` (a lower-case literal), any case.
    static func contains(_ list: String, _ token: StaticString) -> Bool {
        let t = UnsafeBufferPointer(start: token.utf8Start, count: token.utf8CodeUnitCount)
        var found = false
        forEach(list) { element in
            found = equals(element, t)
            return !found
        }
        return found
    }

    /// `s` equals `lower` (a lower-case literal), any case.
    static func equalsLowercased(_ s: String, _ lower: StaticString) -> Bool {
        var s = s
        let t = UnsafeBufferPointer(start: lower.utf8Start, count: lower.utf8CodeUnitCount)
        return s.withUTF8 { equals($0, t) }
    }

    @inline(__always)
    static func equals(_ a: UnsafeBufferPointer<UInt8>, _ lowercased: UnsafeBufferPointer<UInt8>) -> Bool {
        guard a.count == lowercased.count else { return false }
        for i in 0..<a.count where lower(a[i]) != lowercased[i] { return false }
        return true
    }
}
