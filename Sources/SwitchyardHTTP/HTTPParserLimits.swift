/// Size limits applied while parsing a request, so a client cannot make the server buffer
/// without bound. Mirrors lighttpd's `server.max-request-field-size` / `server.max-request-size`.
public struct HTTPParserLimits: Sendable, Equatable {
    /// Longest request line (without its line ending); exceeded -> 414.
    public var maxRequestLineLength: Int
    /// Request line + header fields incl. the final empty line; exceeded -> 431.
    /// Also bounds chunked trailers.
    public var maxHeaderBlockSize: Int
    /// Largest body; 0 = unlimited. Content-Length above it (at head time) or a chunked body
    /// growing above it -> 413.
    public var maxBodySize: Int
    /// Most header fields (and trailer fields); exceeded -> 431.
    public var maxHeaderCount: Int

    public init(maxRequestLineLength: Int = 8192,
                maxHeaderBlockSize: Int = 8192,
                maxBodySize: Int = 0,
                maxHeaderCount: Int = 256) {
        self.maxRequestLineLength = maxRequestLineLength
        self.maxHeaderBlockSize = maxHeaderBlockSize
        self.maxBodySize = maxBodySize
        self.maxHeaderCount = maxHeaderCount
    }
}
