import SwitchyardHTTP

/// Splits the byte stream of a proxied HTTP/1.x server into what the gateway relays: whole
/// response heads (interim ones included, passed on as they arrived so the exchange's head decoder
/// parses them), de-chunked body bytes, and the end of the response — or, after a `101`, every
/// later byte as is (the upgraded protocol). Sans-I/O: ranges refer to the caller's input, the
/// caller keeps what was not consumed and feeds it again with more.
///
/// It is the transport half of the proxy codec (the framing decides when an exchange is over and
/// whether its connection may serve another); `ProxyResponseHeadDecoder` is the head half.
public struct ProxyResponseFramer: Sendable {
    public enum Event: Sendable, Equatable {
        /// One complete response head (status line through the empty line).
        case head(Range<Int>)
        /// Body bytes, de-chunked; after a 101, the upgraded protocol's bytes.
        case body(Range<Int>)
        /// The response is complete; `keepAlive`: the server allows another request on the connection.
        case end(keepAlive: Bool)
    }

    private var parser: HTTPResponseHeadParser
    /// A 101 was framed: everything after it is the new protocol's.
    public private(set) var switched = false
    /// The final response was framed completely (`.end` was emitted).
    public private(set) var ended = false
    /// The body runs until the server closes (no Content-Length, not chunked).
    public private(set) var delimitedByClose = false
    public private(set) var keepAlive = false
    /// Bytes of the final head (and what came before it) were seen.
    public private(set) var sawHead = false
    /// The heads the last `decode` framed, as parsed, in order, each with its byte count: the
    /// gateway's head decoder takes them (`ProxyResponseHeadDecoder.feed(framed:byteCount:)`)
    /// instead of parsing the same bytes a second time.
    public private(set) var framedHeads: [(head: ProxiedResponseHead, byteCount: Int)] = []

    public init(requestIsHead: Bool, limits: HTTPResponseParserLimits = .init()) {
        parser = HTTPResponseHeadParser(requestIsHead: requestIsHead, limits: limits)
    }

    /// The server's EOF is the normal end: after a 101, or of a body delimited by close.
    public var endsAtClose: Bool { switched || delimitedByClose }

    /// Lets go of `framedHeads` (after the gateway took them): a switched stream keeps nothing of
    /// its 101 for the WebSocket's whole life, and then not even the array's storage.
    public mutating func releaseFramedHeads() {
        if !framedHeads.isEmpty || switched { framedHeads.removeAll(keepingCapacity: !switched) }
    }

    /// Frames `input`; returns how many bytes were consumed. After `.end` nothing more is consumed
    /// (bytes after a complete response are the caller's business: a pooled connection must not
    /// have any).
    public mutating func decode(_ input: UnsafeRawBufferPointer, _ emit: (Event) -> Void) throws(HTTPResponseParseError) -> Int {
        var used = 0
        if !framedHeads.isEmpty { framedHeads.removeAll(keepingCapacity: true) }
        while !ended {
            if switched {
                if used < input.count { emit(.body(used..<input.count)) }
                return input.count
            }
            let step = parser.parse(UnsafeRawBufferPointer(rebasing: input[used...]))
            switch step {
            case .needMoreData(let consumed):
                return used + consumed
            case .interim(let head, let consumed):
                framedHeads.append((head, consumed))
                emit(.head(used..<(used + consumed)))
                used += consumed
            case .head(let head, let consumed):
                sawHead = true
                delimitedByClose = head.framing == .untilClose
                framedHeads.append((head, consumed))
                emit(.head(used..<(used + consumed)))
                used += consumed
            case .switchingProtocols(let head, let consumed):
                sawHead = true
                switched = true
                framedHeads.append((head, consumed))
                emit(.head(used..<(used + consumed)))
                used += consumed
            case .body(let range, let consumed):
                if !range.isEmpty { emit(.body((used + range.lowerBound)..<(used + range.upperBound))) }
                used += consumed
                if consumed == 0 { return used }
            case .end(let consumed, let ka):
                used += consumed
                ended = true
                keepAlive = ka
                emit(.end(keepAlive: ka))
            case .failure(let error):
                throw error
            }
        }
        return used
    }

    /// The server closed its side: fine after a 101, a complete response or a body delimited by
    /// close; a `.truncated` (or the earlier) error anywhere else.
    public mutating func finish() throws(HTTPResponseParseError) {
        if switched || ended { return }
        switch parser.finish() {
        case .failure(let error): throw error
        default: ended = true
        }
    }
}

extension ProxyResponseFramer {
    /// Convenience for byte arrays (tests).
    public mutating func decode(_ input: [UInt8], _ emit: (Event) -> Void) throws(HTTPResponseParseError) -> Int {
        var result: Result<Int, HTTPResponseParseError> = .success(0)
        input.withUnsafeBytes { raw in
            do throws(HTTPResponseParseError) { result = .success(try decode(raw, emit)) } catch { result = .failure(error) }
        }
        return try result.get()
    }
}
