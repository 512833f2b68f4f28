// fuzz-chunked: the chunked transfer-coding decoder behind HTTPRequestParser (chunk sizes,
// extensions, data CRLF, trailers, the body limit). Input: [limits option byte][read-split seed]
// [bytes after a fixed `Transfer-Encoding: chunked` head]. Same checks as fuzz-http-request, plus:
// the decoded body is never longer than the input.
import FuzzHTTPSupport
import FuzzSupport

let head = Array("POST /upload HTTP/1.1\r\nHost: fuzz\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)

runFuzzer { data in
    var input = FuzzInput(data)
    let limits = fuzzLimits(input.byte())
    let seed = input.byte()
    let stream = head + Array(input.rest)
    stream.withUnsafeBytes { bytes in
        let items = checkSplitInvariance(bytes, seed: seed, limits: limits)
        let bodyBytes = items.reduce(0) { total, item in
            if case .body(let b) = item { return total + b.count }
            return total
        }
        fuzzCheck(bodyBytes <= bytes.count - head.count, "decoded \(bodyBytes) body bytes from \(bytes.count - head.count)")
    }
}
