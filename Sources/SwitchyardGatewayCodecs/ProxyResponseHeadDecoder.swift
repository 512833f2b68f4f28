import SwitchyardHTTP

/// Turns a proxied server's response head into the `CGIResponseHead` the gateway exchange relays:
/// status and reason from the status line, header fields through `ProxyResponseHeaderMapper`
/// (hop-by-hop removed, map-host-response / map-urlpath reversed), the body length when the head
/// fixes one. Interim heads (100, 103) are returned one by one, before the final head, when the
/// decoder was made with `yieldsInterimHeads` (the gateway relays them to HTTP/1.1 clients);
/// otherwise they are skipped. A `101` is accepted only for a WebSocket upgrade the gateway asked for
/// (`ProxyResponseHeaderMapper.acceptsSwitch`); anything else is an error (the client gets 502).
///
/// Fed the bytes `ProxyResponseFramer` emits as heads; keeps a partial head itself, so any split works.
public struct ProxyResponseHeadDecoder: Sendable {
    public let mapper: ProxyResponseHeaderMapper
    public let requestIsUpgrade: Bool
    public let requestIsHead: Bool
    /// `feed` returns interim heads (1xx other than 101) too, each as soon as it is complete.
    public let yieldsInterimHeads: Bool
    private var parser: HTTPResponseHeadParser
    private var pending: [UInt8] = []

    public init(mapper: ProxyResponseHeaderMapper, requestIsUpgrade: Bool, requestIsHead: Bool,
                yieldsInterimHeads: Bool = false, limits: HTTPResponseParserLimits = .init()) {
        self.mapper = mapper
        self.yieldsInterimHeads = yieldsInterimHeads
        self.requestIsUpgrade = requestIsUpgrade
        self.requestIsHead = requestIsHead
        parser = HTTPResponseHeadParser(requestIsHead: requestIsHead, limits: limits)
    }

    /// Returns the final head and where its body starts in `bytes`, or nil while incomplete. With
    /// `yieldsInterimHeads`, an interim head comes back first (status 1xx, `bodyStartInInput`
    /// where the next head starts): the caller feeds the rest of `bytes` again.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) throws(HTTPResponseParseError) -> (head: CGIResponseHead, bodyStartInInput: Int)? {
        let before = pending.count
        pending.append(contentsOf: bytes)
        var used = 0
        var result: (ProxiedResponseHead, Int)?
        var failure: HTTPResponseParseError?
        pending.withUnsafeBytes { all in
            while result == nil && failure == nil {
                switch parser.parse(UnsafeRawBufferPointer(rebasing: all[used...])) {
                case .needMoreData(let consumed):
                    used += consumed
                    return
                case .interim(let head, let consumed):
                    used += consumed
                    if yieldsInterimHeads { result = (head, used) }
                case .head(let head, let consumed), .switchingProtocols(let head, let consumed):
                    used += consumed
                    result = (head, used)
                case .failure(let error):
                    failure = error
                case .body, .end:
                    failure = HTTPResponseParseError(.malformedStatusLine, "response head decoder fed past the head")
                }
            }
        }
        if let failure { throw failure }
        guard let (head, end) = result else {
            pending.removeFirst(used)
            return nil
        }
        pending = []
        return (try convert(head), max(0, end - before))
    }

    /// A head `ProxyResponseFramer` already parsed, fed in place of its `byteCount` bytes: the same
    /// answer `feed(_:)` gives for those bytes, without parsing them again. Only when nothing is
    /// pending (the framer hands over whole heads); false means feed the bytes instead.
    public mutating func feed(framed head: ProxiedResponseHead, byteCount: Int) throws(HTTPResponseParseError)
        -> (accepted: Bool, result: (head: CGIResponseHead, bodyStartInInput: Int)?) {
        guard pending.isEmpty else { return (false, nil) }
        if head.status < 200 && head.status != 101 && !yieldsInterimHeads { return (true, nil) }   // skipped, as feed(_:) does
        return (true, (try convert(head), byteCount))
    }

    /// The server ended: an error when no complete head arrived.
    public func finish() throws(HTTPResponseParseError) {
        throw HTTPResponseParseError(.truncated, pending.isEmpty ? "closed before sending a response" : "closed inside the response head")
    }

    func convert(_ head: ProxiedResponseHead) throws(HTTPResponseParseError) -> CGIResponseHead {
        let fields = Array(head.headers)
        if head.status == 101 && !ProxyResponseHeaderMapper.acceptsSwitch(requestIsUpgrade: requestIsUpgrade, fields: fields) {
            throw HTTPResponseParseError(.invalidFraming, "101 Switching Protocols to a request that did not ask for a WebSocket upgrade (or not to websocket)")
        }
        var length: Int?
        switch head.framing {
        case .length(let n): length = n
        case .none:
            // HEAD: the client learns the length the GET would have (the connection sends no body).
            length = requestIsHead ? head.headers.first("Content-Length").flatMap { Int($0) } ?? 0 : 0
        case .chunked, .untilClose: length = nil
        }
        return CGIResponseHead(status: head.status, reason: head.reason.isEmpty ? nil : head.reason,
                               headers: mapper.map(fields, status: head.status), contentLength: length)
    }
}
