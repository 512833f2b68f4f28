import SwitchyardOS
import SwitchyardHTTP
import SwitchyardGatewayCodecs

/// A request to an SCGI or uwsgi route whose body length is unknown (HTTP/1.1 chunked, or an HTTP/2
/// request without content-length, which `HTTP2RequestMapping` makes chunked). Both protocols put
/// CONTENT_LENGTH in the header block before the body, so — as lighttpd does for them — the body is
/// collected first (`RequestBodySpool`: 64 KiB in memory, then an unnamed temporary file in
/// `server.upload-dirs`), bounded by `server.max-request-size` (413 from the connection beyond it),
/// and only then is a backend chosen and sent the request with the real CONTENT_LENGTH, the body
/// read back 64 KiB at a time as the backend takes it (`GatewayExchange.onRequestBodyWritable`).
///
/// Per request this holds at most 64 KiB of body in memory plus one 64 KiB read buffer, beside the
/// backend stream's own 256 KiB write watermark. The spool (and its file) is closed as soon as the
/// body went out, and on every other way out: abort (client gone), a backend refused, deinit.
final class SpooledBodyExchange: RequestHandler {
    /// Bytes kept in memory before the body moves to a temporary file; also the read-back size.
    static let memoryLimit = 64 * 1024
    /// The ceiling for a collected body when `server.max-request-size` is 0 (unlimited): the body
    /// goes to disk, and "unlimited" must not mean a client may fill it.
    static let unlimitedCeiling = 2 << 30

    /// Starts the backend exchange for the request once its length is known.
    typealias Launch = (RequestContext) -> Result<GatewayExchange, BackendRuntime.RefusedStatus>

    private weak var connection: (any ClientExchange)?
    private let context: RequestContext
    private let spool: RequestBodySpool
    private let launch: Launch
    private(set) var exchange: GatewayExchange?
    private var failed = false
    private var feeding = false
    private var bodyEndSent = false

    init(connection: any ClientExchange, context: RequestContext, directories: [String], launch: @escaping Launch) {
        self.connection = connection
        self.context = context
        self.launch = launch
        spool = RequestBodySpool(directories: directories, memoryLimit: Self.memoryLimit, chunkSize: Self.memoryLimit)
    }

    deinit { spool.close() }

    /// Only SCGI and uwsgi need the length first; a WebSocket upgrade has no body to collect.
    static func needsSpool(_ head: HTTPRequestHead, wire: BackendWireProtocol) -> Bool {
        (wire == .scgi || wire == .uwsgi) && head.isChunked && !CGIRequestInfo.wantsWebSocket(head)
    }

    /// The body limit the connection enforces (413 beyond it).
    static func bodyLimit(_ settings: RequestSettings) -> Int {
        settings.maxRequestSize > 0 ? settings.maxRequestSize : unlimitedCeiling
    }

    /// The request as the backend sees it once the body is complete: its length announced, no
    /// Transfer-Encoding (the body the backend gets is no longer chunked).
    static func knownLengthHead(_ head: HTTPRequestHead, length: Int) -> HTTPRequestHead {
        var h = head
        h.isChunked = false
        h.contentLength = length
        h.headers.remove(name: "Transfer-Encoding")
        return h
    }

    func start() {}

    func requestBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard !failed, exchange == nil else { return true }
        do {
            try spool.append(bytes)
        } catch {
            failed = true
            spool.close()
            connection?.worker.errorLog.error("request body", "cannot collect the body for \(context.path) (server.upload-dirs): \(error): 500")
            connection?.sendError(500, close: true)
        }
        return true
    }

    func requestBodyEnd() {
        guard !failed, exchange == nil, let connection else { return }
        let c = context
        let known = RequestContext(head: Self.knownLengthHead(c.head, length: spool.count), settings: c.settings, path: c.path,
                                   query: c.query, host: c.host, scheme: c.scheme, remoteIP: c.remoteIP, remoteUser: c.remoteUser)
        switch launch(known) {
        case .failure(let refused):
            failed = true
            spool.close()
            connection.sendError(refused.status)
        case .success(let ex):
            exchange = ex
            ex.onRequestBodyWritable = { [weak self] in self?.feed() }
            ex.start()
            feed()
        }
    }

    /// Sends collected bytes while the backend takes them, then the body's end.
    private func feed() {
        guard let ex = exchange, !feeding, !bodyEndSent else { return }
        feeding = true
        defer { feeding = false }
        var more = true
        do {
            while more && spool.remaining > 0 && ex.acceptsRequestBody {
                try spool.nextChunk { more = ex.requestBody($0) }
            }
        } catch {
            spool.close()
            ex.fail(.ioError("\(ex.label): reading the collected request body back: \(error)"))
            return
        }
        guard spool.remaining == 0 else { return }
        bodyEndSent = true
        spool.close()
        ex.requestBodyEnd()
    }

    func outputDrained() { exchange?.outputDrained() }
    func upgradedData(_ bytes: UnsafeRawBufferPointer) -> Bool { exchange?.upgradedData(bytes) ?? true }
    func upgradedClientEOF() { exchange?.upgradedClientEOF() }
    func tick(now: UInt64) { exchange?.tick(now: now) }

    func abort() {
        spool.close()
        let ex = exchange
        exchange = nil
        ex?.abort()
    }
}
