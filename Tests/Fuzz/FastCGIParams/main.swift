// fuzz-fastcgi-params: FastCGINameValuePairs (PARAMS / GET_VALUES name-value pair encoding).
// Input: pair data as it would arrive in concatenated PARAMS content.
// Checks: forEachPair's views lie inside the input, in order, and account for every byte (lengths
// plus prefixes) when decoding succeeds; decode returns the same pairs; encoding the decoded pairs
// and decoding that gives them back; FastCGIRecordEncoder.params of the decoded environment, read
// back with FastCGIRecordDecoder, decodes to the same environment.
import FuzzSupport
import SwitchyardGatewayCodecs

/// Decodes a PARAMS record stream for request 1 back into an environment.
func decodeParamsRecords(_ stream: [UInt8]) -> CGIEnvironment? {
    var decoder = FastCGIRecordDecoder()
    var content: [UInt8] = []
    var offset = 0
    return stream.withUnsafeBytes { raw -> CGIEnvironment? in
        while offset < raw.count {
            guard let (header, range, consumed) = try? decoder.next(slice(raw, offset..<raw.count)) else { return nil }
            fuzzCheck(header.knownType == .params && header.requestId == 1, "unexpected record \(header)")
            fuzzCheck(header.recordLength % 8 == 0, "record not padded to 8 bytes")
            if range.isEmpty {
                fuzzCheck(offset + consumed == raw.count, "bytes after the empty PARAMS record")
                return content.withUnsafeBytes { try? FastCGINameValuePairs.decodeEnvironment($0) }
            }
            content.append(contentsOf: slice(raw, (offset + range.lowerBound)..<(offset + range.upperBound)))
            offset += consumed
        }
        return nil
    }
}

runFuzzer { data in
    var views: [(Range<Int>, Range<Int>)] = []
    let base = data.baseAddress.map { UnsafeRawPointer($0) }
    let walked: Bool
    do throws(FastCGIError) {
        try FastCGINameValuePairs.forEachPair(data) { name, value in
            let n = name.baseAddress.map { base!.distance(to: $0) } ?? 0
            let v = value.baseAddress.map { base!.distance(to: $0) } ?? 0
            views.append((n..<(n + name.count), v..<(v + value.count)))
        }
        walked = true
    } catch {
        walked = false
    }
    var position = 0
    for (name, value) in views {
        fuzzCheck([2, 5, 8].contains(name.lowerBound - position), "length prefixes of \(name.lowerBound - position) bytes")
        fuzzCheck(value.lowerBound == name.upperBound && value.upperBound <= data.count, "value view \(value) after name \(name)")
        position = value.upperBound
    }
    let decoded = try? FastCGINameValuePairs.decode(data)
    fuzzCheck((decoded != nil) == walked, "decode and forEachPair disagree on validity")
    guard let decoded else { return }
    fuzzCheck(position == data.count, "pairs account for \(position) of \(data.count) bytes")
    fuzzCheck(decoded.count == views.count, "decode returned \(decoded.count) pairs, forEachPair \(views.count)")

    var encoded: [UInt8] = []
    FastCGINameValuePairs.encode(decoded.map { (name: $0.0, value: $0.1) }, into: &encoded)
    let again = encoded.withUnsafeBytes { try? FastCGINameValuePairs.decode($0) }
    fuzzCheck(again.map { $0.map { $0.0 + "=" + $0.1 } } == decoded.map { $0.0 + "=" + $0.1 }, "pair round trip changed the pairs")

    let env = CGIEnvironment(decoded.map { (name: $0.0, value: $0.1) })
    var records: [UInt8] = []
    FastCGIRecordEncoder.params(env, requestId: 1, into: &records)
    let back = decodeParamsRecords(records)
    fuzzCheck(back.map { $0.pairs.map { $0.name + "=" + $0.value } } == env.pairs.map { $0.name + "=" + $0.value },
              "PARAMS records round trip changed the environment")
}
