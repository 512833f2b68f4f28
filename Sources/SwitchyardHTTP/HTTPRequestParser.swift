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

    /// What `parseStep(_:)` returns: the event and the bytes consumed, or the failure, as one
    /// flat enum. Same information as `parse(_:)`; a server loop that runs this for every request
    /// avoids copying and destroying a generic `Result` of a tuple each time.
    public enum Step: Sendable {
        case needMoreData(consumed: Int)
        case head(HTTPRequestHead, consumed: Int)
        case body(Range<Int>, consumed: Int)
        case end(consumed: Int)
        case failure(HTTPParseError)
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
        switch parseStep(input) {
        case .needMoreData(let consumed): return .success((.needMoreData, consumed))
        case .head(let head, let consumed): return .success((.head(head), consumed))
        case .body(let range, let consumed): return .success((.body(range), consumed))
        case .end(let consumed): return .success((.end, consumed))
        case .failure(let error): return .failure(error)
        }
    }

    /// `parse(_:)` as a `Step`: same contract, same results.
    public mutating func parseStep(_ input: UnsafeRawBufferPointer) -> Step {
        var none = HTTPRequestHeadMemo(capacity: 0)
        return parseStep(input, memo: &none)
    }

    /// `parseStep(_:)` with a memo of the last head: a head block identical to the memo's comes
    /// back without being parsed again (same results as parsing it), and a new one is remembered.
    public mutating func parseStep(_ input: UnsafeRawBufferPointer, memo: inout HTTPRequestHeadMemo) -> Step {
        switch state {
        case .failed(let error):
            return .failure(error)

        case .pendingEnd:
            state = .head
            return .end(consumed: 0)

        case .fixedBody(let remaining):
            guard !input.isEmpty else { return .needMoreData(consumed: 0) }
            let n = min(remaining, input.count)
            state = remaining == n ? .pendingEnd : .fixedBody(remaining: remaining - n)
            return .body(0..<n, consumed: n)

        case .chunked(var decoder):
            switch decoder.decode(input, limits: limits) {
            case .failure(let error):
                return fail(error)
            case .success(let (event, consumed)):
                state = event == .end ? .head : .chunked(decoder)
                switch event {
                case .needMoreData: return .needMoreData(consumed: consumed)
                case .body(let range): return .body(range, consumed: consumed)
                case .end: return .end(consumed: consumed)
                case .head: preconditionFailure("the chunked decoder never reports a head")
                }
            }

        case .head:
            return parseHead(input, memo: &memo)
        }
    }

    private mutating func parseHead(_ input: UnsafeRawBufferPointer, memo: inout HTTPRequestHeadMemo) -> Step {
        let fresh = scanner.isEmpty
        if fresh, let known = memo.head(prefixing: input, limits: limits) {
            // The remembered block starts the input: the scan would end the head where it ends.
            scanner = HeadScanner()   // it may have counted empty lines before this request line
            return begin(known, consumed: memo.count)
        }
        switch scanner.scan(input, limits: limits) {
        case .failure(let error):
            return fail(error)
        case .success(.incomplete(let skipped)):
            return .needMoreData(consumed: skipped)
        case .success(.complete(let block, let consumed)):
            scanner = HeadScanner()
            let bytes = UnsafeRawBufferPointer(rebasing: input[block])
            let head: HTTPRequestHead
            // Not looked up at the start (a head that came in pieces, or after empty lines): now.
            if !fresh || block.lowerBound > 0, let known = memo.head(for: bytes, limits: limits) {
                head = known
            } else {
                do {
                    head = try HeadParser.parse(bytes, limits: limits, memo: &memo)
                } catch {
                    return fail(error)
                }
            }
            return begin(head, consumed: consumed)
        }
    }

    /// A head is in: the body's framing (or the end right away) comes next.
    private mutating func begin(_ head: HTTPRequestHead, consumed: Int) -> Step {
        if head.isChunked {
            state = .chunked(ChunkedDecoder())
        } else if let length = head.contentLength, length > 0 {
            state = .fixedBody(remaining: length)
        } else {
            state = .pendingEnd
        }
        return .head(head, consumed: consumed)
    }

    private mutating func fail(_ error: HTTPParseError) -> Step {
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
