/// Everything `CGIEnvironmentBuilder` needs to know about one request, filled in by the server.
///
/// Kept as plain values (no connection or socket types) so the environment rules can be unit
/// tested and shared by the CGI, SCGI, uwsgi and FastCGI backends.
public struct CGIRequestInfo: Sendable {
    public var serverSoftware: String
    /// Host name the request was addressed to, without port.
    public var serverName: String
    public var serverAddr: String
    public var serverPort: Int
    /// e.g. `"HTTP/1.1"`.
    public var serverProtocol: String

    public var method: String
    /// The raw request target, query included.
    public var requestURI: String
    /// `"http"` or `"https"` (REQUEST_SCHEME).
    public var scheme: String
    public var isTLS: Bool

    public var scriptName: String
    public var scriptFilename: String
    public var pathInfo: String
    /// The query without `?`, still percent-encoded; may be empty.
    public var queryString: String
    public var documentRoot: String

    public var remoteAddr: String
    public var remotePort: Int
    /// Request body length when known (CONTENT_LENGTH); nil omits the variable.
    public var contentLength: Int?
    /// Request headers in arrival order, names as sent.
    public var headers: [(name: String, value: String)]

    public var redirectStatus: Int = 200
    /// Extra variables set last (replacing any of the above), e.g. a route's bin-environment.
    public var extra: [(String, String)] = []

    public init(
        serverSoftware: String = "Switchyard",
        serverName: String = "",
        serverAddr: String = "",
        serverPort: Int = 80,
        serverProtocol: String = "HTTP/1.1",
        method: String = "GET",
        requestURI: String = "/",
        scheme: String = "http",
        isTLS: Bool = false,
        scriptName: String = "",
        scriptFilename: String = "",
        pathInfo: String = "",
        queryString: String = "",
        documentRoot: String = "",
        remoteAddr: String = "",
        remotePort: Int = 0,
        contentLength: Int? = nil,
        headers: [(name: String, value: String)] = [],
        redirectStatus: Int = 200,
        extra: [(String, String)] = []
    ) {
        self.serverSoftware = serverSoftware
        self.serverName = serverName
        self.serverAddr = serverAddr
        self.serverPort = serverPort
        self.serverProtocol = serverProtocol
        self.method = method
        self.requestURI = requestURI
        self.scheme = scheme
        self.isTLS = isTLS
        self.scriptName = scriptName
        self.scriptFilename = scriptFilename
        self.pathInfo = pathInfo
        self.queryString = queryString
        self.documentRoot = documentRoot
        self.remoteAddr = remoteAddr
        self.remotePort = remotePort
        self.contentLength = contentLength
        self.headers = headers
        self.redirectStatus = redirectStatus
        self.extra = extra
    }
}
