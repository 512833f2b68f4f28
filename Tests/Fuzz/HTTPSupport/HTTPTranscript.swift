import FuzzSupport
import SwitchyardHTTP

/// What a connection would see while parsing a byte stream: heads, body bytes (adjacent pieces
/// merged), message ends and the final error. Two read splits of the same bytes must give equal
/// transcripts.
public enum HTTPItem: Equatable {
    case head(HTTPRequestHead)
    case body([UInt8])
    case end
    case failure(HTTPParseError)
}

/// Limits picked by one option byte: each bit swaps a default for a small value, so the limit
/// checks (414, 431, 413) are reachable with short inputs.
public func fuzzLimits(_ options: UInt8) -> HTTPParserLimits {
    HTTPParserLimits(maxRequestLineLength: options & 1 != 0 ? 48 : 8192,
                     maxHeaderBlockSize: options & 2 != 0 ? 160 : 8192,
                     maxBodySize: options & 4 != 0 ? 100 : 0,
                     maxHeaderCount: options & 8 != 0 ? 4 : 256)
}

/// Feeds `stream` to an `HTTPRequestParser` in the given reads the way `HTTP1Connection` does (keep
/// the unconsumed bytes, append the next read, parse until `.needMoreData`), checking the parser's
/// contract on every step.
public func parseTranscript(_ stream: UnsafeRawBufferPointer, reads: [Range<Int>], limits: HTTPParserLimits) -> [HTTPItem] {
    var none = HTTPRequestHeadMemo(capacity: 0)
    return parseTranscript(stream, reads: reads, limits: limits, memo: &none)
}

/// `parseTranscript` through a head memo the caller keeps (a server loop's): what it remembers
/// from one transcript answers the next.
public func parseTranscript(_ stream: UnsafeRawBufferPointer, reads: [Range<Int>], limits: HTTPParserLimits,
                            memo: inout HTTPRequestHeadMemo) -> [HTTPItem] {
    var parser = HTTPRequestParser(limits: limits)
    var pending: [UInt8] = []
    var items: [HTTPItem] = []
    var fixedBodyLeft: Int? = nil
    var steps = 0
    for read in reads {
        pending.append(contentsOf: slice(stream, read))
        while true {
            steps += 1
            fuzzCheck(steps <= 4 * stream.count + 4 * reads.count + 8, "parser makes no progress")
            let step = pending.withUnsafeBytes { parser.parseStep($0, memo: &memo) }
            var consumed = 0
            var stop = false
            switch step {
            case .needMoreData(let c):
                consumed = c
                stop = true
            case .head(let head, let c):
                fuzzCheck(c > 0, "a head consumed no bytes")
                fuzzCheck(!(head.isChunked && head.contentLength != nil), "chunked head with a Content-Length")
                fuzzCheck(head.headers.count <= limits.maxHeaderCount, "\(head.headers.count) header fields accepted")
                fuzzCheck(head.method.utf8.count + head.target.utf8.count + 10 <= limits.maxRequestLineLength,
                          "request line longer than \(limits.maxRequestLineLength) accepted")
                if let length = head.contentLength {
                    fuzzCheck(length >= 0, "negative Content-Length \(length)")
                    if limits.maxBodySize > 0 { fuzzCheck(length <= limits.maxBodySize, "Content-Length over the limit") }
                }
                fixedBodyLeft = head.isChunked ? nil : (head.contentLength ?? 0)
                consumed = c
                items.append(.head(head))
            case .body(let range, let c):
                fuzzCheck(!range.isEmpty && range.lowerBound >= 0 && range.upperBound == c,
                          "body range \(range) with consumed \(c)")
                fuzzCheck(c <= pending.count, "body beyond the input")
                if let left = fixedBodyLeft {
                    fuzzCheck(range.count <= left, "more body than Content-Length")
                    fixedBodyLeft = left - range.count
                }
                consumed = c
                let bytes = Array(pending[range])
                if case .body(let previous)? = items.last {
                    items[items.count - 1] = .body(previous + bytes)
                } else {
                    items.append(.body(bytes))
                }
            case .end(let c):
                if let left = fixedBodyLeft { fuzzCheck(left == 0, "message ended \(left) bytes short") }
                fixedBodyLeft = nil
                consumed = c
                items.append(.end)
            case .failure(let error):
                fuzzCheck([400, 411, 413, 414, 431, 501, 505].contains(error.status), "unexpected status \(error.status)")
                if case .failure(let again) = pending.withUnsafeBytes({ parser.parseStep($0) }) {
                    fuzzCheck(again == error, "a failed parser changed its error")
                } else {
                    fuzzCheck(false, "a failed parser recovered")
                }
                // Only the status must not depend on the reads: when a head breaks two limits,
                // the reason names whichever the parser noticed first.
                items.append(.failure(HTTPParseError(status: error.status, reason: "")))
                return items
            }
            fuzzCheck(consumed >= 0 && consumed <= pending.count, "consumed \(consumed) of \(pending.count) bytes")
            pending.removeFirst(consumed)
            if stop { break }
        }
    }
    return items
}

/// Parses `stream` whole and split as `seed` says; the transcripts must match. Returns the transcript.
@discardableResult
public func checkSplitInvariance(_ stream: UnsafeRawBufferPointer, seed: UInt8, limits: HTTPParserLimits) -> [HTTPItem] {
    let whole = parseTranscript(stream, reads: [0..<stream.count], limits: limits)
    guard seed != 0 else { return whole }
    let split = parseTranscript(stream, reads: readSizes(count: stream.count, seed: seed), limits: limits)
    fuzzCheck(whole == split, "split reads changed the result:\n  whole: \(whole)\n  split: \(split)")
    // Through a loop's head memo, twice (the second pass finds every head of the first
    // remembered, the last one whole, the others by their field lines): the same transcript.
    var memo = HTTPRequestHeadMemo()
    let first = parseTranscript(stream, reads: [0..<stream.count], limits: limits, memo: &memo)
    let again = parseTranscript(stream, reads: readSizes(count: stream.count, seed: seed), limits: limits, memo: &memo)
    fuzzCheck(whole == first && whole == again, "the head memo changed the result:\n  whole: \(whole)\n  memo: \(first)\n  again: \(again)")
    return whole
}
