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
    public static func evaluate(method: String, isHTTP11: Bool, headers: [(name: String, value: String)],
                                options: Options = .init()) -> Result<Acceptance, Rejection> {
        func bad(_ why: String, _ extra: [String: String] = [:]) -> Result<Acceptance, Rejection> {
            .failure(Rejection(status: 400, reason: why, headers: extra))
        }
        func values(_ name: String) -> [String] { headers.filter { asciiEqualsIgnoringCase($0.name, name) }.map(\.value) }
        func tokens(_ name: String) -> [String] { values(name).flatMap(listElements) }
        guard method == "GET" else { return bad("WebSocket handshake must be GET") }
        guard isHTTP11 else { return bad("WebSocket handshake needs HTTP/1.1") }
        guard tokens("Upgrade").contains(where: { asciiEqualsIgnoringCase($0, "websocket") }) else {
            return bad("Upgrade does not name websocket")
        }
        guard tokens("Connection").contains(where: { asciiEqualsIgnoringCase($0, "upgrade") }) else {
            return bad("Connection does not contain the upgrade token")
        }
        let versions = values("Sec-WebSocket-Version")
        guard versions.count == 1, trimmed(versions[0]) == "13" else {
            return bad("Sec-WebSocket-Version must be 13", ["Sec-WebSocket-Version": "13"])
        }
        let keys = values("Sec-WebSocket-Key")
        guard keys.count == 1, WebSocketHandshake.isValidKey(trimmed(keys[0])) else {
            return bad("Sec-WebSocket-Key missing, repeated or not 16 bytes of base64")
        }
        let accept = WebSocketHandshake.acceptValue(forKey: trimmed(keys[0]))
        let offered = tokens("Sec-WebSocket-Protocol")
        let subprotocol = options.subprotocols.first { mine in offered.contains(mine) }
        var deflate: PerMessageDeflateParameters?
        if let config = options.deflate {
            deflate = PerMessageDeflateNegotiation.accept(offers: PerMessageDeflateNegotiation.offers(values("Sec-WebSocket-Extensions")),
                                                          config: config)
        }
        var response: [(name: String, value: String)] = [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                                                         ("Sec-WebSocket-Accept", accept)]
        if let subprotocol { response.append(("Sec-WebSocket-Protocol", subprotocol)) }
        if let deflate { response.append(("Sec-WebSocket-Extensions", deflate.headerValue)) }
        return .success(Acceptance(accept: accept, subprotocol: subprotocol, deflate: deflate, responseHeaders: response))
    }

    /// Comma-separated elements, trimmed, empty ones dropped (RFC 9110 5.6.1).
    static func listElements(_ value: String) -> [String] {
        value.split(separator: ",", omittingEmptySubsequences: true).map { trimmed(String($0)) }.filter { !$0.isEmpty }
    }

    static func trimmed(_ s: String) -> String {
        var u = Substring(s)
        while let f = u.first, f == " " || f == "\t" { u.removeFirst() }
        while let l = u.last, l == " " || l == "\t" { u.removeLast() }
        return String(u)
    }
}
