/// A parsed request line and header block, with the framing-relevant headers already
/// validated and interpreted.
///
/// The parser does the security-sensitive interpretation once (Content-Length vs
/// Transfer-Encoding, Host rules, Connection tokens) so the server, the CGI environment
/// builder and the gateway backends all see the same answers. Strings are the raw wire
/// text: `path` is still percent-encoded — run it through `RequestPath.normalize` before
/// touching the file system.
public struct HTTPRequestHead: Sendable, Equatable {
    /// The method token, case preserved ("GET"; methods are case-sensitive).
    public var method: String
    /// Raw request-target as received (origin-form, absolute-form, "*" or authority-form).
    public var target: String
    /// Raw (still percent-encoded) path part; "/p" for "http://h/p?q"; "*" for `OPTIONS *`;
    /// "" for CONNECT's authority-form.
    public var path: String
    /// Raw query after '?', nil if the target has no '?'.
    public var query: String?
    public var version: HTTPVersion
    /// All fields, in order, duplicates kept.
    public var headers: HTTPHeaders
    /// The absolute-form authority if present, else the Host header (possibly ""), else nil
    /// (HTTP/1.0 without Host). For CONNECT it is the authority-form target.
    public var host: String?
    /// Validated Content-Length; nil when absent (or when chunked).
    public var contentLength: Int?
    /// Transfer-Encoding: chunked is the (only) coding.
    public var isChunked: Bool
    /// Whether the connection may stay open after this exchange, from the version default
    /// and the Connection tokens.
    public var keepAlive: Bool
    /// `Expect: 100-continue` on an HTTP/1.1 request (ignored on 1.0, RFC 9110 10.1.1).
    public var expectsContinue: Bool
    /// Lower-cased tokens of all Connection header fields.
    public var connectionTokens: [String]
    /// Raw Upgrade header value (multiple fields joined with ", "); kept for handlers to
    /// decide. The parser never switches protocols itself.
    public var upgrade: String?
    /// Size of the request line + header block incl. the final empty line.
    public var headBytes: Int

    public init(method: String = "GET",
                target: String = "/",
                path: String? = nil,
                query: String? = nil,
                version: HTTPVersion = .http1_1,
                headers: HTTPHeaders = .init(),
                host: String? = nil,
                contentLength: Int? = nil,
                isChunked: Bool = false,
                keepAlive: Bool = true,
                expectsContinue: Bool = false,
                connectionTokens: [String] = [],
                upgrade: String? = nil,
                headBytes: Int = 0) {
        self.method = method
        self.target = target
        self.path = path ?? target
        self.query = query
        self.version = version
        self.headers = headers
        self.host = host
        self.contentLength = contentLength
        self.isChunked = isChunked
        self.keepAlive = keepAlive
        self.expectsContinue = expectsContinue
        self.connectionTokens = connectionTokens
        self.upgrade = upgrade
        self.headBytes = headBytes
    }

    /// True when a message body follows the head (chunked, or Content-Length > 0).
    /// A request with neither has no body (RFC 9112 6.3); whether to demand a length
    /// (411) for POST/PUT is the server's call — see `lacksLengthForBodyMethod`.
    public var hasBody: Bool { isChunked || (contentLength ?? 0) > 0 }

    /// POST/PUT/PATCH with neither Content-Length nor chunked framing: a server that wants
    /// lighttpd's behaviour answers 411 Length Required.
    public var lacksLengthForBodyMethod: Bool {
        contentLength == nil && !isChunked && (method == "POST" || method == "PUT" || method == "PATCH")
    }

    /// True when the Connection header lists the token (case-insensitive), e.g. "upgrade".
    public func hasConnectionToken(_ token: String) -> Bool {
        connectionTokens.contains { ASCII.caseInsensitiveEquals($0, token) }
    }
}
