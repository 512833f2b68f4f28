/// Incremental, sans-I/O HTTP/1.1 request parser (RFC 9112).
///
/// The caller owns the byte buffer. Each call to `parse(_:)` is given the *unconsumed*
/// bytes (everything after what earlier calls reported as consumed, plus newly read bytes)
/// and returns one event and how many bytes it consumed; the caller drops those bytes.
/// Body bytes are reported as a range into the buffer passed to that call, so no body
/// byte is copied. A head is only consumed once it is complete, so the caller keeps
/// buffering until then (bounded by `HTTPParserLimits`).
///
/// Call `parse` in a loop until it returns `.needMoreData` — including with an empty
/// buffer: after `.head` of a body-less request (or after the last `.body`) the next call
/// returns `.end` without needing bytes. Pipelined requests are simply the next head.
///
/// After a failure the parser stays failed (every call returns the same error): the
/// stream can no longer be framed, so the server answers with `error.status` and closes.
public struct HTTPRequestParser: Sendable {
    public enum Event: Equatable, Sendable {
        /// Nothing more can be produced from these bytes; `consumed` may still be > 0
        /// (chunk framing, empty lines before a request line).
        case needMoreData
        case head(HTTPRequestHead)
        /// Body bytes: indices into the input buffer passed to this call.
        case body(Range<Int>)
        /// The message is complete (after the body, or right after a body-less head);
        /// the parser is ready for the next (pipelined) request.
        case end
    }

    enum State: Sendable {
        case head
        case pendingEnd
        case fixedBody(remaining: Int)
        case chunked(ChunkedDecoder)
        case failed(HTTPParseError)
    }

    public var limits: HTTPParserLimits
    var state: State = .head
    var scanner = HeadScanner()

    public init(limits: HTTPParserLimits = .init()) {
        self.limits = limits
    }

    /// True between messages: no byte of the next request has been seen (only skipped
    /// empty lines). Lets the server pick the keep-alive idle timeout instead of the
    /// read timeout.
    public var isIdle: Bool {
        if case .head = state { return scanner.isEmpty }
        return false
    }

    /// True when parsing is in the middle of a message body.
    public var isInBody: Bool {
        switch state {
        case .fixedBody, .chunked, .pendingEnd: return true
        case .head, .failed: return false
        }
    }

    /// The error the parser failed with, if any.
    public var failure: HTTPParseError? {
        if case .failed(let e) = state { return e }
        return nil
    }

    /// Parses from `input` (the caller's unconsumed bytes).
    /// - Returns: the event and how many bytes of `input` were consumed, or the error
    ///   status to answer with.
    public mutating func parse(_ input: UnsafeRawBufferPointer) -> Result<(Event, consumed: Int), HTTPParseError> {
        switch state {
        case .failed(let error):
            return .failure(error)

        case .pendingEnd:
            state = .head
            return .success((.end, 0))

        case .fixedBody(let remaining):
            guard !input.isEmpty else { return .success((.needMoreData, 0)) }
            let n = min(remaining, input.count)
            state = remaining == n ? .pendingEnd : .fixedBody(remaining: remaining - n)
            return .success((.body(0..<n), n))

        case .chunked(var decoder):
            switch decoder.decode(input, limits: limits) {
            case .failure(let error):
                return fail(error)
            case .success(let (event, consumed)):
                state = event == .end ? .head : .chunked(decoder)
                return .success((event, consumed))
            }

        case .head:
            return parseHead(input)
        }
    }

    private mutating func parseHead(_ input: UnsafeRawBufferPointer) -> Result<(Event, consumed: Int), HTTPParseError> {
        switch scanner.scan(input, limits: limits) {
        case .failure(let error):
            return fail(error)
        case .success(.incomplete(let skipped)):
            return .success((.needMoreData, skipped))
        case .success(.complete(let block, let consumed)):
            scanner = HeadScanner()
            switch HeadParser.parse(UnsafeRawBufferPointer(rebasing: input[block]), limits: limits) {
            case .failure(let error):
                return fail(error)
            case .success(let head):
                if head.isChunked {
                    state = .chunked(ChunkedDecoder())
                } else if let length = head.contentLength, length > 0 {
                    state = .fixedBody(remaining: length)
                } else {
                    state = .pendingEnd
                }
                return .success((.head(head), consumed))
            }
        }
    }

    private mutating func fail(_ error: HTTPParseError) -> Result<(Event, consumed: Int), HTTPParseError> {
        state = .failed(error)
        return .failure(error)
    }
}

extension HTTPRequestParser {
    /// Convenience for byte arrays (tests, small tools): same contract as the raw-buffer form.
    public mutating func parse(_ input: [UInt8]) -> Result<(Event, consumed: Int), HTTPParseError> {
        input.withUnsafeBytes { parse($0) }
    }
}
