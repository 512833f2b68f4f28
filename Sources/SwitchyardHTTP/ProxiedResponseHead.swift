/// How the body of a proxied response is delimited (RFC 9112 6.3), decided once from the head.
public enum ResponseBodyFraming: Sendable, Equatable {
    /// No body: HEAD, 1xx, 204, 304 (whatever Content-Length says).
    case none
    /// Exactly this many bytes.
    case length(Int)
    /// The chunked transfer coding.
    case chunked
    /// Everything until the server closes; the connection cannot be reused.
    case untilClose
}

/// One response head from a proxied HTTP/1.x server, with the framing decision made.
public struct ProxiedResponseHead: Sendable, Equatable {
    public var version: HTTPVersion
    public var status: Int
    /// The reason phrase as sent (may be empty).
    public var reason: String
    /// Header fields in order, names as sent.
    public var headers: HTTPHeaders
    public var framing: ResponseBodyFraming
    /// `Connection` tokens, lower-cased (hop-by-hop names to drop when relaying).
    public var connectionTokens: [String]
    /// The server lets the gateway reuse the connection after this response.
    public var keepAlive: Bool
    /// Bytes of the head on the wire, status line through the empty line.
    public var headBytes: Int

    public init(version: HTTPVersion, status: Int, reason: String, headers: HTTPHeaders, framing: ResponseBodyFraming,
                connectionTokens: [String], keepAlive: Bool, headBytes: Int) {
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers
        self.framing = framing
        self.connectionTokens = connectionTokens
        self.keepAlive = keepAlive
        self.headBytes = headBytes
    }

    /// 1xx other than 101: relayed to the client (100 Continue, 103 Early Hints), then the real head follows.
    public var isInterim: Bool { status >= 100 && status < 200 && status != 101 }
}
