import SwitchyardGatewayCodecs

/// One request as the backend layer hands it to a codec, before any wire protocol: method, target,
/// headers, addresses, the script mapping, TLS facts (`info`) and how long the body is. Each codec
/// encodes it its own way: SCGI, uwsgi and FastCGI as the CGI/1.1 variables (RFC 3875) built from
/// it, CGI pipes not at all (the variables go to the spawned program), and a proxy (next) as an
/// HTTP/1.1 request head. Nothing here is tied to one protocol.
struct BackendRequest {
    var info: CGIRequestInfo
    /// The body's length when known (Content-Length); nil when it is not (chunked, streamed).
    var bodyLength: Int?

    /// The CGI/1.1 variables of this request.
    func cgiEnvironment() -> CGIEnvironment { CGIEnvironmentBuilder.build(info) }

    /// CONTENT_LENGTH as SCGI and uwsgi must announce it (they have no way to say "unknown").
    var announcedLength: Int { bodyLength ?? 0 }
}

/// Turns the start of a backend's response into a response head: the CGI header block today (CGI,
/// SCGI, uwsgi, FastCGI), an HTTP/1.1 status line and header block for the proxy later. The
/// exchange is given one per request; it does not know which.
protocol ResponseHeadDecoder {
    /// Feeds response bytes; returns the head and where the body starts in `bytes` once complete.
    mutating func feed(_ bytes: UnsafeRawBufferPointer) throws -> (head: CGIResponseHead, bodyStartInInput: Int)?
    /// The backend ended: throws when what arrived is not a complete head.
    func finish() throws
    /// `feed` may return interim heads (1xx other than 101) before the final one: the exchange
    /// relays them and feeds the rest again. Only the proxy's decoder does.
    var yieldsInterimHeads: Bool { get }
}

extension ResponseHeadDecoder {
    var yieldsInterimHeads: Bool { false }
}

extension CGIResponseHeaderParser: ResponseHeadDecoder {}

/// What an exchange holds once the final head was decoded: nothing (no box, no buffered bytes).
struct HeadAlreadyDecoded: ResponseHeadDecoder {
    func feed(_ bytes: UnsafeRawBufferPointer) throws -> (head: CGIResponseHead, bodyStartInInput: Int)? { nil }
    func finish() throws {}
}
