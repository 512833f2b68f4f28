// fuzz-http-request: HTTPRequestParser (request line, header fields, framing, pipelining).
// Input: [limits option byte][read-split seed][request stream]. Checks the parser contract on every
// step (see parseTranscript) and that splitting the stream into reads does not change the result.
import FuzzHTTPSupport
import FuzzSupport

runFuzzer { data in
    var input = FuzzInput(data)
    let limits = fuzzLimits(input.byte())
    let seed = input.byte()
    checkSplitInvariance(input.rest, seed: seed, limits: limits)
}
