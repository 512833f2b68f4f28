// fuzz-http-response: HTTPResponseHeadParser (a proxied server's responses) and
// ProxyResponseHeaderMapper. Input: [options: bit 0 = the request was HEAD, bit 1 = small limits,
// bit 2 = feed EOF at the end][read-split seed][response bytes].
// Checks: the same events for the whole input and for the split one (sans-I/O); consumed never
// exceeds the bytes given; body bytes never exceed the input; no body after `.none` framing; a
// failed parser stays failed; mapped headers keep no hop-by-hop field and no CR/LF.
import FuzzSupport
import SwitchyardGatewayCodecs
import SwitchyardHTTP

enum Item: Equatable {
    case interim(Int), head(Int, ResponseBodyFraming), switched(Int), body([UInt8]), end(Bool), failure(HTTPResponseParseError.Kind)
}

func trace(_ stream: UnsafeRawBufferPointer, pieces: [Range<Int>], head: Bool, limits: HTTPResponseParserLimits, eof: Bool) -> [Item] {
    var parser = HTTPResponseHeadParser(requestIsHead: head, limits: limits)
    var items: [Item] = []
    var buffer: [UInt8] = []
    var body: [UInt8] = []
    var done = false
    func step(_ s: HTTPResponseHeadParser.Step) -> Bool {
        switch s {
        case .needMoreData(let c): fuzzCheck(c <= buffer.count, "consumed \(c) of \(buffer.count)"); buffer.removeFirst(c); return false
        case .interim(let h, let c): items.append(.interim(h.status)); buffer.removeFirst(c)
        case .head(let h, let c):
            items.append(.head(h.status, h.framing)); buffer.removeFirst(c)
            let mapper = ProxyResponseHeaderMapper(options: ProxyHeaderOptions(mapHostResponse: [("-", "-")], mapURLPath: [("/a/", "/")],
                                                                               httpsRemap: true),
                                                   clientHost: "client.test", backendHost: "backend.test", clientIsHTTPS: true)
            for (name, value) in mapper.map(Array(h.headers), status: h.status) {
                let lower = String(decoding: name.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
                fuzzCheck(!["connection", "keep-alive", "transfer-encoding", "te", "trailer"].contains(lower), "hop-by-hop \(name) relayed")
                fuzzCheck(!value.utf8.contains(13) && !value.utf8.contains(10), "line break in \(name)")
            }
        case .switchingProtocols(let h, _): items.append(.switched(h.status)); done = true; return false
        case .body(let r, let c):
            fuzzCheck(r.upperBound <= buffer.count && c <= buffer.count, "body range \(r) of \(buffer.count)")
            body += buffer[r]; buffer.removeFirst(c)
        case .end(let c, let k): flush(); items.append(.end(k)); buffer.removeFirst(c); done = parser.isComplete; return !done
        case .failure(let e): items.append(.failure(e.kind)); done = true; return false
        }
        return true
    }
    func flush() { if !body.isEmpty { items.append(.body(body)); body = [] } }
    for piece in pieces where !done {
        buffer += slice(stream, piece)
        while !done && step(buffer.withUnsafeBytes { parser.parse($0) }) {}
    }
    if eof && !done { _ = step(parser.finish()) }
    flush()
    if case .failure(let kind)? = items.last {
        if case .failure(let again) = parser.parse([]) { fuzzCheck(again.kind == kind, "failure changed") } else { fuzzCheck(false, "recovered after failure") }
    }
    return items
}

runFuzzer { data in
    var input = FuzzInput(data)
    let options = input.byte()
    let seed = input.byte()
    let limits = options & 2 != 0 ? HTTPResponseParserLimits(maxHeadSize: 96, maxHeaderCount: 3, maxInterimResponses: 2) : .init()
    let stream = input.rest
    let whole = trace(stream, pieces: [0..<stream.count], head: options & 1 != 0, limits: limits, eof: options & 4 != 0)
    let split = trace(stream, pieces: readSizes(count: stream.count, seed: seed), head: options & 1 != 0, limits: limits, eof: options & 4 != 0)
    fuzzCheck(whole == split, "split feeding differs: \(whole) vs \(split)")
    var bodyBytes = 0
    var framing: ResponseBodyFraming?
    for item in whole {
        if case .head(_, let f) = item { framing = f }
        if case .body(let b) = item {
            bodyBytes += b.count
            fuzzCheck(framing != ResponseBodyFraming.none, "body after a head without one")
        }
    }
    fuzzCheck(bodyBytes <= stream.count, "\(bodyBytes) body bytes from \(stream.count)")
}
