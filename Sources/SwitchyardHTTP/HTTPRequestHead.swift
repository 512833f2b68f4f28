/// A parsed request line and header block, with the framing-relevant headers already
/// validated and interpreted.
///
/// The parser does the security-sensitive interpretation once (Content-Length vs
/// Transfer-Encoding, Host rules, Connection tokens) so the server, the CGI environment
/// builder and the gateway backends all see the same answers. Strings are the raw wire
/// text: `path` is still percent-encoded — run it through `RequestPath.normalize` before
/// touching the file system.
///
/// A value type with copy-on-write storage: a head holds half a dozen strings and two
/// arrays, and it is handed from the parser through the connection and router to the
/// handler. With the fields inline every such copy retained and released each of them;
/// with one shared box a copy is a single retain, and only a mutation of a shared head
/// copies the fields.
public struct HTTPRequestHead: Sendable, Equatable {
    /// The method token, case preserved ("GET"; methods are case-sensitive).
    public var method: String {
        get { storage.line.method }
        set { uniqueStorage().line.method = newValue }
    }
    /// Raw request-target as received (origin-form, absolute-form, "*" or authority-form).
    public var target: String {
        get { storage.line.target }
        set { uniqueStorage().line.target = newValue }
    }
    /// Raw (still percent-encoded) path part; "/p" for "http://h/p?q"; "*" for `OPTIONS *`;
    /// "" for CONNECT's authority-form.
    public var path: String {
        get { storage.line.path }
        set { uniqueStorage().line.path = newValue }
    }
    /// Raw query after '?', nil if the target has no '?'.
    public var query: String? {
        get { storage.line.query }
        set { uniqueStorage().line.query = newValue }
    }
    public var version: HTTPVersion {
        get { storage.line.version }
        set { uniqueStorage().line.version = newValue }
    }
    /// All fields, in order, duplicates kept.
    public var headers: HTTPHeaders {
        get { storage.headers }
        _modify { yield &uniqueStorage().headers }
    }
    /// The absolute-form authority if present, else the Host header (possibly ""), else nil
    /// (HTTP/1.0 without Host). For CONNECT it is the authority-form target.
    public var host: String? {
        get { storage.host }
        set { uniqueStorage().host = newValue }
    }
    /// Validated Content-Length; nil when absent (or when chunked).
    public var contentLength: Int? {
        get { storage.contentLength }
        set { uniqueStorage().contentLength = newValue }
    }
    /// Transfer-Encoding: chunked is the (only) coding.
    public var isChunked: Bool {
        get { storage.isChunked }
        set { uniqueStorage().isChunked = newValue }
    }
    /// Whether the connection may stay open after this exchange, from the version default
    /// and the Connection tokens.
    public var keepAlive: Bool {
        get { storage.keepAlive }
        set { uniqueStorage().keepAlive = newValue }
    }
    /// `Expect: 100-continue` on an HTTP/1.1 request (ignored on 1.0, RFC 9110 10.1.1).
    public var expectsContinue: Bool {
        get { storage.expectsContinue }
        set { uniqueStorage().expectsContinue = newValue }
    }
    /// Lower-cased tokens of all Connection header fields.
    public var connectionTokens: [String] {
        get { storage.connectionTokens }
        _modify { yield &uniqueStorage().connectionTokens }
    }
    /// Raw Upgrade header value (multiple fields joined with ", "); kept for handlers to
    /// decide. The parser never switches protocols itself.
    public var upgrade: String? {
        get { storage.upgrade }
        set { uniqueStorage().upgrade = newValue }
    }
    /// Size of the request line + header block incl. the final empty line.
    public var headBytes: Int {
        get { storage.headBytes }
        set { uniqueStorage().headBytes = newValue }
    }

    private var storage: Storage

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
        let line = RequestLine(method: method, target: target, path: path ?? target, query: query, version: version,
                               authority: nil)
        storage = Storage(line: line, headers: headers, host: host, contentLength: contentLength, isChunked: isChunked,
                          keepAlive: keepAlive, expectsContinue: expectsContinue,
                          connectionTokens: connectionTokens, upgrade: upgrade, headBytes: headBytes)
    }

    /// The parser's way in: the request line and the header list move into the storage whole
    /// rather than string by string.
    init(line: consuming RequestLine, headers: consuming HTTPHeaders, host: String?, contentLength: Int?,
         isChunked: Bool, keepAlive: Bool, expectsContinue: Bool, connectionTokens: [String], upgrade: String?,
         headBytes: Int) {
        storage = Storage(line: line, headers: headers, host: host, contentLength: contentLength, isChunked: isChunked,
                          keepAlive: keepAlive, expectsContinue: expectsContinue,
                          connectionTokens: connectionTokens, upgrade: upgrade, headBytes: headBytes)
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

    public static func == (a: HTTPRequestHead, b: HTTPRequestHead) -> Bool {
        a.storage === b.storage || a.storage.hasSameFields(as: b.storage)
    }

    /// True when both heads share one storage box (a copy not mutated since), which `==` takes as
    /// equal without comparing fields.
    public func sharesStorage(with other: HTTPRequestHead) -> Bool { storage === other.storage }

    /// The storage, copied first if another head shares it.
    private mutating func uniqueStorage() -> Storage {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        return storage
    }

    /// The fields of a head. Only ever mutated through a uniquely referenced head (see
    /// `uniqueStorage()`), so sharing it between threads is as safe as sharing the values.
    private final class Storage: @unchecked Sendable {
        /// method, target, path, query and version (its `authority` is not used here).
        var line: RequestLine
        var headers: HTTPHeaders
        var host: String?
        var contentLength: Int?
        var isChunked: Bool
        var keepAlive: Bool
        var expectsContinue: Bool
        var connectionTokens: [String]
        var upgrade: String?
        var headBytes: Int

        init(line: RequestLine, headers: HTTPHeaders, host: String?, contentLength: Int?, isChunked: Bool,
             keepAlive: Bool, expectsContinue: Bool, connectionTokens: [String], upgrade: String?, headBytes: Int) {
            self.line = line
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

        func copy() -> Storage {
            Storage(line: line, headers: headers, host: host, contentLength: contentLength, isChunked: isChunked, keepAlive: keepAlive,
                    expectsContinue: expectsContinue, connectionTokens: connectionTokens, upgrade: upgrade,
                    headBytes: headBytes)
        }

        func hasSameFields(as o: Storage) -> Bool {
            line.method == o.line.method && line.target == o.line.target && line.path == o.line.path
                && line.query == o.line.query && line.version == o.line.version && headers == o.headers && host == o.host && contentLength == o.contentLength
                && isChunked == o.isChunked && keepAlive == o.keepAlive && expectsContinue == o.expectsContinue
                && connectionTokens == o.connectionTokens && upgrade == o.upgrade && headBytes == o.headBytes
        }
    }
}
