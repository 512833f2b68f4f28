import SwitchyardOS
import SwitchyardHTTP
import SwitchyardGatewayCodecs

/// mod_proxy's wire protocol as a `BackendCodec`: the request goes out as the HTTP/1.1 head
/// `ProxyRequestHeadEncoder` built (hop-by-hop fields removed, Forwarded, host and path mapping),
/// then the body as is, or re-chunked when the client sent it chunked. The response is framed by
/// `ProxyResponseFramer`: heads pass through to the exchange's `ProxyResponseHeadDecoder`, the body
/// is de-chunked, and the end of a Content-Length or chunked body ends the exchange (`.end`)
/// without waiting for the server to close. After a `101` the codec is transparent: raw bytes
/// both ways, spliced when the server's `upgrade-relay` allows.
final class ProxyHTTPCodec: BackendCodec {
    let head: ProxyRequestHead
    private(set) var framer: ProxyResponseFramer
    private var chunkEnded = false
    private var events: [ProxyResponseFramer.Event] = []
    /// Where the heads of the `decode` in progress lie in its input, with their index in
    /// `framer.framedHeads`: `FramedProxyHeadDecoder` finds the parsed head by the bytes it is fed.
    /// Emptied before `decode` returns, so no pointer outlives the input it points into.
    private var framedSpans: [(start: UnsafeRawPointer?, count: Int, index: Int)] = []
    /// Request body bytes handed over (a request with a body cannot be sent again).

    init(head: ProxyRequestHead, requestIsHead: Bool) {
        self.head = head
        framer = ProxyResponseFramer(requestIsHead: requestIsHead)
    }

    /// Transparent after a 101 (splice may take over) and for a body delimited by close (EOF ends it cleanly).
    var isTransparent: Bool { framer.endsAtClose }
    var name: String { "proxy" }
    /// A body of known length, or any bytes after a 101, go as they are (a chunked body is re-chunked).
    var passesBodyThrough: Bool { !head.chunkedBody || framer.switched }
    /// Upgraded: every byte is the new protocol's (see `decode`).
    var passesResponseThrough: Bool { framer.switched }

    /// The request went out completely, its response ended completely, and the server allows
    /// another request on the connection.
    var allowsReuse: Bool { requestComplete && framer.ended && framer.keepAlive && !framer.switched && !head.isUpgrade }
    private var requestComplete = false

    func encodeRequestStart(_ request: BackendRequest, keepConnection: Bool, out: ByteBuffer) {
        out.append(head.bytes)
    }

    func encodeBody(_ bytes: UnsafeRawBufferPointer, out: ByteBuffer) {
        guard bytes.count > 0 else { return }
        if head.chunkedBody && !framer.switched {
            out.append(String(bytes.count, radix: 16) + "\r\n")
            out.append(bytes)
            out.append("\r\n")
        } else {
            out.append(bytes)
        }
    }

    /// The last chunk for a chunked body; a half-close only for an upgraded stream (the client's FIN).
    func encodeBodyEnd(upgraded: Bool, out: ByteBuffer) -> Bool {
        if upgraded { return true }
        requestComplete = true
        if head.chunkedBody && !chunkEnded {
            chunkEnded = true
            out.append("0\r\n\r\n")
        }
        return false
    }

    func encodeAbort(out: ByteBuffer) -> Bool { false }

    func decode(_ bytes: UnsafeRawBufferPointer, _ sink: (BackendEvent) -> Void) throws -> Int {
        if framer.switched {
            // Upgraded: every byte is the new protocol's, as it came (the relay's per-message path).
            if !bytes.isEmpty { sink(.stdout(bytes)) }
            return bytes.count
        }
        // The framer is updated before any event is delivered: the exchange reacts to a 101 by
        // asking `isTransparent` (splice), which must see the switch (and not overlap the mutation).
        events.removeAll(keepingCapacity: true)
        let used: Int
        do {
            used = try framer.decode(bytes) { events.append($0) }
        } catch {
            throw BackendProtocolError(description: "proxy: \(error)")
        }
        var heads = 0
        for event in events {
            guard case .head(let r) = event else { continue }
            framedSpans.append((bytes.baseAddress.map { $0 + r.lowerBound }, r.count, heads))
            heads += 1
        }
        defer {
            // Nothing of the heads outlives this call; an upgraded stream keeps no storage for them.
            framedSpans.removeAll(keepingCapacity: !framer.switched)
            framer.releaseFramedHeads()
        }
        for event in events {
            switch event {
            case .head(let r), .body(let r): sink(.stdout(UnsafeRawBufferPointer(rebasing: bytes[r])))
            case .end: sink(.end(appStatus: 0, protocolStatus: 0))
            }
        }
        return used
    }

    /// The head the framer parsed from exactly `bytes` during the `decode` in progress, if any.
    func framedHead(for bytes: UnsafeRawBufferPointer) -> ProxiedResponseHead? {
        for span in framedSpans where span.start == bytes.baseAddress && span.count == bytes.count {
            return framer.framedHeads[span.index].head
        }
        return nil
    }

    func describeEOF(pendingBytes: Int, label: String) -> BackendFailure {
        var copy = framer
        do {
            try copy.finish()
            return .ioError("\(label): proxy backend closed the connection")
        } catch {
            if !framer.sawHead && pendingBytes == 0 {
                // Nothing at all: the keep-alive race on a reused connection looks exactly like this.
                return .ioError("\(label): proxy backend closed the connection before sending a response")
            }
            return .protocolError("\(label): proxy backend closed the connection early: \(error)")
        }
    }
}

/// The proxied response head as the exchange's pluggable head decoder.
extension ProxyResponseHeadDecoder: ResponseHeadDecoder {}

/// The proxy's head decoder as the exchange uses it: the framer of the stream's `ProxyHTTPCodec`
/// has already parsed every head it hands over (to find the body's framing), so the bytes the
/// exchange feeds are turned into its response head from that parse instead of a second one.
/// Bytes that are not such a head (none, in practice) go through the decoder's own parser.
struct FramedProxyHeadDecoder: ResponseHeadDecoder {
    var decoder: ProxyResponseHeadDecoder
    let codec: ProxyHTTPCodec

    mutating func feed(_ bytes: UnsafeRawBufferPointer) throws -> (head: CGIResponseHead, bodyStartInInput: Int)? {
        if let parsed = codec.framedHead(for: bytes) {
            let (accepted, result) = try decoder.feed(framed: parsed, byteCount: bytes.count)
            if accepted { return result }
        }
        return try decoder.feed(bytes)
    }

    func finish() throws { try decoder.finish() }
    var yieldsInterimHeads: Bool { decoder.yieldsInterimHeads }
}
