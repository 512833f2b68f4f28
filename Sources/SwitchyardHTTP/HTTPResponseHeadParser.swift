/// Incremental, sans-I/O parser for the responses of a proxied HTTP/1.x server (RFC 9112).
///
/// Same contract as `HTTPRequestParser`: each call gets the caller's *unconsumed* bytes and returns
/// one step with how many bytes it consumed; body bytes are ranges of that input (never copied).
/// Interim heads (100 Continue, 103 Early Hints) are their own steps and parsing continues with the
/// next head; `101 Switching Protocols` ends HTTP: what follows is the upgraded protocol's bytes and
/// belongs to the caller. `finish()` reports the server's EOF: it completes a body delimited by
/// close and is a `.truncated` error anywhere else. After an error the parser stays failed.
public struct HTTPResponseHeadParser: Sendable {
    public enum Step: Sendable, Equatable {
        case needMoreData(consumed: Int)
        /// A 1xx other than 101; another head follows.
        case interim(ProxiedResponseHead, consumed: Int)
        /// The final head; body steps (or `.end`) follow according to `head.framing`.
        case head(ProxiedResponseHead, consumed: Int)
        /// 101: the bytes after `consumed` are the new protocol's.
        case switchingProtocols(ProxiedResponseHead, consumed: Int)
        case body(Range<Int>, consumed: Int)
        /// The response is complete; `keepAlive` says whether the connection may carry another request.
        case end(consumed: Int, keepAlive: Bool)
        case failure(HTTPResponseParseError)
    }

    enum State: Sendable {
        case head
        case pendingEnd(keepAlive: Bool)
        case fixedBody(remaining: Int, keepAlive: Bool)
        case chunked(ChunkedDecoder, keepAlive: Bool)
        case untilClose
        case done
        case failed(HTTPResponseParseError)
    }

    public let limits: HTTPResponseParserLimits
    /// The request was HEAD: the final response has no body whatever its headers say.
    public let requestIsHead: Bool
    var state: State = .head
    var scanner = HeadScanner()
    var interimCount = 0

    public init(requestIsHead: Bool = false, limits: HTTPResponseParserLimits = .init()) {
        self.requestIsHead = requestIsHead
        self.limits = limits
    }

    /// True once the response ended (or switched protocols): nothing more is parsed.
    public var isComplete: Bool {
        if case .done = state { return true }
        return false
    }

    public mutating func parse(_ input: UnsafeRawBufferPointer) -> Step {
        switch state {
        case .failed(let error):
            return .failure(error)
        case .done:
            return .needMoreData(consumed: 0)
        case .pendingEnd(let keepAlive):
            state = .done
            return .end(consumed: 0, keepAlive: keepAlive)
        case .fixedBody(let remaining, let keepAlive):
            guard !input.isEmpty else { return .needMoreData(consumed: 0) }
            let n = min(remaining, input.count)
            state = remaining == n ? .pendingEnd(keepAlive: keepAlive) : .fixedBody(remaining: remaining - n, keepAlive: keepAlive)
            return .body(0..<n, consumed: n)
        case .untilClose:
            guard !input.isEmpty else { return .needMoreData(consumed: 0) }
            return .body(0..<input.count, consumed: input.count)
        case .chunked(var decoder, let keepAlive):
            switch decoder.decode(input, limits: limits.asRequestLimits) {
            case .failure(let error):
                let kind: HTTPResponseParseError.Kind = error.status == 431 ? .tooLarge : .malformedChunk
                return fail(.init(kind, error.reason))
            case .success(let (event, consumed)):
                switch event {
                case .needMoreData:
                    state = .chunked(decoder, keepAlive: keepAlive)
                    return .needMoreData(consumed: consumed)
                case .body(let range):
                    state = .chunked(decoder, keepAlive: keepAlive)
                    return .body(range, consumed: consumed)
                case .end, .head:
                    state = .done
                    return .end(consumed: consumed, keepAlive: keepAlive)
                }
            }
        case .head:
            return parseHead(input)
        }
    }

    /// The server closed its side. Returns `.end` when that completes the response, else the error.
    public mutating func finish() -> Step {
        switch state {
        case .untilClose, .pendingEnd:
            state = .done
            return .end(consumed: 0, keepAlive: false)
        case .done:
            return .needMoreData(consumed: 0)
        case .failed(let error):
            return .failure(error)
        case .head:
            return fail(.init(.truncated, scanner.isEmpty && interimCount == 0 ? "closed before sending a response" : "closed inside the response head"))
        case .fixedBody(let remaining, _):
            return fail(.init(.truncated, "closed with \(remaining) body bytes missing"))
        case .chunked:
            return fail(.init(.truncated, "closed inside the chunked body"))
        }
    }

    private mutating func parseHead(_ input: UnsafeRawBufferPointer) -> Step {
        switch scanner.scan(input, limits: limits.asRequestLimits) {
        case .failure(let error):
            return fail(.init(error.status == 400 ? .malformedStatusLine : .tooLarge, error.reason))
        case .success(.incomplete(let skipped)):
            return .needMoreData(consumed: skipped)
        case .success(.complete(let block, let consumed)):
            scanner = HeadScanner()
            let head: ProxiedResponseHead
            do {
                head = try ResponseHeadBlock.parse(UnsafeRawBufferPointer(rebasing: input[block]), requestIsHead: requestIsHead)
            } catch {
                return fail(error)
            }
            if head.status == 101 {
                state = .done
                return .switchingProtocols(head, consumed: consumed)
            }
            if head.isInterim {
                interimCount += 1
                if interimCount > limits.maxInterimResponses {
                    return fail(.init(.tooLarge, "more than \(limits.maxInterimResponses) interim responses"))
                }
                return .interim(head, consumed: consumed)
            }
            switch head.framing {
            case .none: state = .pendingEnd(keepAlive: head.keepAlive)
            case .length(let n): state = n == 0 ? .pendingEnd(keepAlive: head.keepAlive) : .fixedBody(remaining: n, keepAlive: head.keepAlive)
            case .chunked: state = .chunked(ChunkedDecoder(), keepAlive: head.keepAlive)
            case .untilClose: state = .untilClose
            }
            return .head(head, consumed: consumed)
        }
    }

    private mutating func fail(_ error: HTTPResponseParseError) -> Step {
        state = .failed(error)
        return .failure(error)
    }
}

extension HTTPResponseHeadParser {
    /// Convenience for byte arrays (tests, small tools).
    public mutating func parse(_ input: [UInt8]) -> Step {
        input.withUnsafeBytes { parse($0) }
    }
}
