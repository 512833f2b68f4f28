import SwitchyardOS
import SwitchyardHTTP

/// What a handler (static files, a gateway exchange, a fixed answer) sees of the client side of one
/// request: the request, who sent it, and how to answer — a head, a body, an end, an abort, or
/// becoming a two-way byte stream (after `101`). Handlers never touch the HTTP/1.1 connection
/// itself, so an HTTP/2 stream (or a TLS connection) can stand behind the same interface.
///
/// `HTTP1Exchange` is the HTTP/1.1 implementation (one request on an `HTTP1Connection`, which
/// serves one exchange at a time so pipelined responses leave in order). An exchange whose request
/// is over ignores further calls, so a handler that outlives it cannot disturb the next request.
protocol ClientExchange: AnyObject {
    /// The event loop's worker this exchange runs on (loop, logs, caches).
    var worker: Worker { get }
    /// The request being answered (nil between requests).
    var request: HTTPRequestHead? { get }
    var remote: SocketAddress? { get }
    var local: SocketAddress? { get }
    var remoteHost: String { get }
    var localHost: String { get }
    var listener: ListenerInfo { get }
    /// The client's TLS session (nil on plain HTTP): protocol and cipher for gateways.
    var tls: TLSTransport? { get }
    /// The Host header without its port (memoised per client).
    func hostWithoutPort(_ rawHost: String) -> String

    // MARK: answering
    /// An interim (1xx) head before the final one, relayed from a backend (103 Early Hints).
    func sendInterim(_ head: HTTPResponseHead)
    func sendHead(_ head: HTTPResponseHead, framing requested: BodyFraming)
    /// `sendHead` with ready-made, sanitised header lines (static files keep theirs per file).
    func sendHead(status: Int, framing requested: BodyFraming, fields: (ByteBuffer) -> Void)
    /// A static file's 200/206 head: its cached fields (`StaticFileFields.full`), then the lines
    /// `extra` writes (Content-Range, expire), if any. HTTP/2 starts from the cached field list.
    func sendStaticHead(status: Int, framing requested: BodyFraming, fields: StaticFileFields, extra: ((ByteBuffer) -> Void)?)
    /// Body bytes; false when the client is behind (stop producing until `outputDrained`).
    @discardableResult func sendBody(_ bytes: UnsafeRawBufferPointer) -> Bool
    /// A file region as the body (takes ownership of `fd`).
    func sendFile(fd fileFD: Int32, offset: Int, count: Int)
    func sendCachedFile(_ storage: [UInt8], offset: Int, count: Int)
    /// The plain 200 answer with a cached file (`body` is `entry.body`): its head, and the whole
    /// file unless the request is a HEAD. HTTP/1.1 sends the head the entry keeps for the second.
    func sendCachedFileAnswer(_ entry: StaticFileEntry, body: [UInt8], isHead: Bool)
    func finishResponse()
    /// The response cannot be completed (the backend failed after the head): the client must see
    /// an incomplete response.
    func abortResponse(_ reason: String)
    func sendError(_ status: Int, close: Bool, extraHeaders: [(String, String)])
    /// Serves another path for the same request (cgi.local-redir).
    func localRedirect(to location: String)
    /// Resumes reading the request body after the handler paused it.
    func resumeReading()
    /// The client is gone or must be cut off now.
    func clientVanished()

    // MARK: becoming a byte stream
    func switchToUpgraded(_ head: HTTPResponseHead)
    @discardableResult func sendRaw(_ bytes: UnsafeRawBufferPointer) -> Bool
    func finishUpgraded()
    var outputBacklog: Int { get }
    /// The client side could be handed to a kernel relay (plain socket, nothing else queued).
    var canDetachForRelay: Bool { get }
    /// The counters of the route answering (a splice relay taking the stream over keeps counting there).
    var routeStats: RouteStats? { get }
    func detachForRelay() -> (fd: Int32, pendingInput: ByteBuffer, pendingOutput: ByteBuffer)?
}

extension ClientExchange {
    func sendError(_ status: Int) { sendError(status, close: false, extraHeaders: []) }
    func sendError(_ status: Int, close: Bool) { sendError(status, close: close, extraHeaders: []) }
    func sendError(_ status: Int, extraHeaders: [(String, String)]) { sendError(status, close: false, extraHeaders: extraHeaders) }

    func sendCachedFileAnswer(_ entry: StaticFileEntry, body: [UInt8], isHead: Bool) {
        sendAssembledCachedFileAnswer(entry, body: body, isHead: isHead)
    }

    /// The plain 200 with a cached file, its head assembled from the entry's fields (what HTTP/1.1
    /// falls back to when the kept answer does not apply).
    func sendAssembledCachedFileAnswer(_ entry: StaticFileEntry, body: [UInt8], isHead: Bool) {
        sendStaticHead(status: 200, framing: .length(body.count), fields: entry.fields, extra: nil)
        if !isHead { sendCachedFile(body, offset: 0, count: body.count) }
    }

    /// HTTP/1.1 writes the cached lines as they are.
    func sendStaticHead(status: Int, framing requested: BodyFraming, fields: StaticFileFields, extra: ((ByteBuffer) -> Void)?) {
        sendHead(status: status, framing: requested) { out in
            out.append(fields.full)
            extra?(out)
        }
    }
}

