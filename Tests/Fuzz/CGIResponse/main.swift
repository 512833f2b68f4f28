// fuzz-cgi-response: CGIResponseHeaderParser (the header block a CGI script writes before its body).
// Input: [options: bit 0 = NPH, bit 1 = 64-byte header limit][read-split seed][script output].
// Checks: the body offset lies inside the read that completed the head; the head is sane (status
// 100-999, 302 for a Location without Status, Content-Length >= 0); a completed parser ignores
// further input; EOF without a head reports an error; and splitting the output into different reads
// gives the same head, body offset and error kind.
import FuzzSupport
import SwitchyardGatewayCodecs

/// The observable result: a head summary and the body's offset in the whole stream, or an error kind.
enum Outcome: Equatable {
    case head(status: Int, reason: String?, headers: [String], location: String?, localRedirect: Bool,
              contentLength: Int?, bodyStart: Int)
    case error(CGIResponseError.Kind)
    case incomplete(CGIResponseError.Kind?)
}

func parse(_ output: UnsafeRawBufferPointer, reads: [Range<Int>], nph: Bool, limit: Int) -> Outcome {
    var parser = CGIResponseHeaderParser(maxHeaderBytes: limit, nph: nph)
    for read in reads {
        let chunk = slice(output, read)
        do throws(CGIResponseError) {
            guard let (head, bodyStart) = try parser.feed(chunk) else { continue }
            fuzzCheck(bodyStart >= 0 && bodyStart <= chunk.count, "body offset \(bodyStart) outside a \(chunk.count)-byte read")
            fuzzCheck(read.lowerBound + bodyStart <= limit, "head of \(read.lowerBound + bodyStart) bytes over the \(limit)-byte limit")
            fuzzCheck(parser.isComplete, "head returned but parser not complete")
            fuzzCheck((100...999).contains(head.status), "status \(head.status)")
            if let length = head.contentLength { fuzzCheck(length >= 0, "negative Content-Length") }
            if head.isLocalRedirect { fuzzCheck(head.status == 302 && head.location?.hasPrefix("/") == true, "bad local redirect") }
            let again = try? parser.feed(chunk)
            fuzzCheck(again == nil, "a completed parser produced a second head")
            do { try parser.finish() } catch { fuzzCheck(false, "finish() after the head threw \(error)") }
            return .head(status: head.status, reason: head.reason, headers: head.headers.map { $0.name + ":" + $0.value },
                         location: head.location, localRedirect: head.isLocalRedirect,
                         contentLength: head.contentLength, bodyStart: read.lowerBound + bodyStart)
        } catch {
            return .error(error.kind)
        }
    }
    do throws(CGIResponseError) {
        try parser.finish()
        fuzzCheck(false, "finish() accepted EOF before the end of the header block")
        return .incomplete(nil)
    } catch {
        fuzzCheck(error.kind == (output.isEmpty ? .noHeaders : .truncated), "EOF error \(error.kind) after \(output.count) bytes")
        return .incomplete(error.kind)
    }
}

runFuzzer { data in
    var input = FuzzInput(data)
    let options = input.byte()
    let seed = input.byte()
    let output = input.rest
    let nph = options & 1 != 0
    let limit = options & 2 != 0 ? 64 : 64 * 1024
    let whole = parse(output, reads: [0..<output.count], nph: nph, limit: limit)
    let split = parse(output, reads: readSizes(count: output.count, seed: seed), nph: nph, limit: limit)
    fuzzCheck(whole == split, "split reads changed the result: \(whole) vs \(split)")
}
