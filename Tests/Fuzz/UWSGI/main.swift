// fuzz-uwsgi: UWSGIRequestDecoder (the uwsgi packet header: modifiers, size, u16-prefixed strings).
// Input: [options: bit 0 = 64-byte header limit][read-split seed][request bytes].
// Checks: `consumed` lies inside the read that completed the packet and equals 4 + the declared
// size; names are unique and non-empty; different read splits give the same variables, modifier2,
// end offset and error kind; and UWSGIRequestEncoder's encoding of the decoded variables decodes
// back to them.
import FuzzSupport
import SwitchyardGatewayCodecs

enum Outcome: Equatable {
    case request(pairs: [String], modifier2: UInt8, end: Int)
    case error(UWSGIError.Kind)
    case incomplete
}

func decode(_ bytes: UnsafeRawBufferPointer, reads: [Range<Int>], limit: Int) -> (Outcome, CGIEnvironment?) {
    var decoder = UWSGIRequestDecoder(maxHeaderBytes: limit)
    for read in reads {
        let chunk = slice(bytes, read)
        do throws(UWSGIError) {
            guard let (env, consumed) = try decoder.feed(chunk) else { continue }
            fuzzCheck(consumed >= 0 && consumed <= chunk.count, "consumed \(consumed) of a \(chunk.count)-byte read")
            let end = read.lowerBound + consumed
            fuzzCheck(end == 4 + (Int(bytes[1]) | Int(bytes[2]) << 8), "packet end \(end) does not match its size field")
            fuzzCheck(!env.pairs.contains { $0.name.isEmpty }, "empty variable name")
            fuzzCheck(Set(env.pairs.map(\.name)).count == env.count, "repeated variable name")
            return (.request(pairs: env.pairs.map { $0.name + "=" + $0.value }, modifier2: decoder.modifier2, end: end), env)
        } catch {
            return (.error(error.kind), nil)
        }
    }
    return (.incomplete, nil)
}

runFuzzer { data in
    var input = FuzzInput(data)
    let limit = input.byte() & 1 != 0 ? 64 : 64 * 1024
    let seed = input.byte()
    let bytes = input.rest
    let (whole, env) = decode(bytes, reads: [0..<bytes.count], limit: limit)
    let (split, _) = decode(bytes, reads: readSizes(count: bytes.count, seed: seed), limit: limit)
    fuzzCheck(whole == split, "split reads changed the result: \(whole) vs \(split)")
    guard let env, case .request(let pairs, let modifier2, _) = whole else { return }
    var encoded: [UInt8] = []
    // Lossy UTF-8 decoding can grow a string past the 16-bit limit; the encoder then refuses it.
    guard (try? UWSGIRequestEncoder.encodeHeaders(env, modifier2: modifier2, into: &encoded)) != nil else { return }
    let (again, _) = encoded.withUnsafeBytes { decode($0, reads: [0..<$0.count], limit: 1 << 20) }
    fuzzCheck(again == .request(pairs: pairs, modifier2: modifier2, end: encoded.count), "round trip gave \(again)")
}
