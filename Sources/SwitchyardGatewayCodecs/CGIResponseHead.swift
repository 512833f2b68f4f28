/// The parsed header block of a CGI (or SCGI/FastCGI stdout) response.
///
/// The gateway, not the script, writes the HTTP status line: `status`/`reason` say what to send
/// (`Status: 101` without a reason is common, e.g. lighttpd's ws_echo.py), and `isLocalRedirect`
/// tells the server to re-run the request internally (RFC 3875 6.2.2) instead of answering.
public struct CGIResponseHead: Sendable {
    /// From `Status:` (or the NPH status line); else 302 when a `Location` is present; else 200.
    public var status: Int
    /// Reason phrase if the script gave one; nil means the server picks the standard one.
    public var reason: String?
    /// Response headers in order, `Status` excluded, `Location` kept.
    public var headers: [(name: String, value: String)]
    public var location: String?
    /// `Location` is a local path (`/...`, not `//host`) and no `Status` was given.
    public var isLocalRedirect: Bool
    /// From `Content-Length`, validated.
    public var contentLength: Int?

    public init(status: Int = 200, reason: String? = nil, headers: [(name: String, value: String)] = [],
                location: String? = nil, isLocalRedirect: Bool = false, contentLength: Int? = nil) {
        self.status = status
        self.reason = reason
        self.headers = headers
        self.location = location
        self.isLocalRedirect = isLocalRedirect
        self.contentLength = contentLength
    }

    /// The first value of a header, name compared case-insensitively.
    public func value(_ name: String) -> String? {
        headers.first { CGIEnvironmentBuilder.asciiCaseInsensitiveEquals($0.name, name) }?.value
    }
}
