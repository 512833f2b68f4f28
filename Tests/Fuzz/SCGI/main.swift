// fuzz-scgi: SCGIRequestDecoder (the netstring header block of an SCGI request).
// Input: [options: bit 0 = 64-byte header limit][read-split seed][request bytes].
// Checks: `consumed` lies inside the read that completed the block and the block ends with ',';
// CONTENT_LENGTH is first and decimal; names are unique; different read splits give the same
// variables, end offset and error kind; and SCGIRequestEncoder's encoding of the decoded variables
// decodes back to them (CONTENT_LENGTH first, SCGI=1 second, the rest in order).
import FuzzSupport
import SwitchyardGatewayCodecs

enum Outcome: Equatable {
    case request(pairs: [String], end: Int)
    case error(SCGIError.Kind)
    case incomplete
}

func decode(_ bytes: UnsafeRawBufferPointer, reads: [Range<Int>], limit: Int) -> (Outcome, CGIEnvironment?) {
    var decoder = SCGIRequestDecoder(maxHeaderBytes: limit)
    for read in reads {
        let chunk = slice(bytes, read)
        do throws(SCGIError) {
            guard let (env, consumed) = try decoder.feed(chunk) else { continue }
            fuzzCheck(consumed > 0 && consumed <= chunk.count, "consumed \(consumed) of a \(chunk.count)-byte read")
            let end = read.lowerBound + consumed
            fuzzCheck(bytes[end - 1] == UInt8(ascii: ","), "block does not end with ','")
            fuzzCheck(env.pairs.first?.name == "CONTENT_LENGTH", "CONTENT_LENGTH is not first")
            fuzzCheck(Set(env.pairs.map(\.name)).count == env.count, "repeated variable name")
            return (.request(pairs: env.pairs.map { $0.name + "=" + $0.value }, end: end), env)
        } catch {
            return (.error(error.kind), nil)
        }
    }
    return (.incomplete, nil)
}

/// Encodes `env` again and checks that it decodes to what the encoder promises.
func checkRoundTrip(_ env: CGIEnvironment) {
    guard let contentLength = Int(env["CONTENT_LENGTH"] ?? "") else {
        fuzzCheck(false, "CONTENT_LENGTH \(env["CONTENT_LENGTH"] ?? "nil") is not an Int")
        return
    }
    var encoded: [UInt8] = []
    SCGIRequestEncoder.encodeHeaders(env, contentLength: contentLength, into: &encoded)
    let others = env.pairs.filter { $0.name != "CONTENT_LENGTH" && $0.name != "SCGI" }
    let expected = ["CONTENT_LENGTH=\(contentLength)", "SCGI=1"] + others.map { $0.name + "=" + $0.value }
    let (again, _) = encoded.withUnsafeBytes { decode($0, reads: [0..<$0.count], limit: 1 << 20) }
    fuzzCheck(again == .request(pairs: expected, end: encoded.count), "round trip gave \(again), expected \(expected)")
}

runFuzzer { data in
    var input = FuzzInput(data)
    let limit = input.byte() & 1 != 0 ? 64 : 64 * 1024
    let seed = input.byte()
    let bytes = input.rest
    let (whole, env) = decode(bytes, reads: [0..<bytes.count], limit: limit)
    let (split, _) = decode(bytes, reads: readSizes(count: bytes.count, seed: seed), limit: limit)
    fuzzCheck(whole == split, "split reads changed the result: \(whole) vs \(split)")
    if let env { checkRoundTrip(env) }
}
