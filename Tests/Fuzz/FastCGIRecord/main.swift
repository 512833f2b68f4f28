// fuzz-fastcgi-record: FastCGIRecordDecoder over a stream of records, and the PARAMS pairs they carry.
// Input: the record stream as a FastCGI peer would send it.
// Checks for each record: consumed = 8 + content + padding, never more than the input or
// `maxRecordLength`; the content range lies right after the header; every shorter prefix is
// "need more" (or, from 8 bytes on, the same header error); `nextRecord` copies exactly that
// content; FastCGIRecordEncoder writes the same 7 header bytes back. PARAMS content of a request is
// collected until its empty PARAMS record and decoded; decode and decodeEnvironment must agree.
import FuzzSupport
import SwitchyardGatewayCodecs

func checkRecord(_ input: UnsafeRawBufferPointer) -> (FastCGIRecordDecoder.Header, Range<Int>, Int)? {
    var decoder = FastCGIRecordDecoder()
    let result: Result<(header: FastCGIRecordDecoder.Header, content: Range<Int>, consumed: Int)?, FastCGIError>
    do throws(FastCGIError) { result = .success(try decoder.next(input)) } catch { result = .failure(error) }
    switch result {
    case .failure(let error):
        fuzzCheck(input.count >= 8, "error before a whole header: \(error)")
        var headerKind: FastCGIError.Kind? = nil
        do throws(FastCGIError) { _ = try decoder.next(slice(input, 0..<8)) } catch let e { headerKind = e.kind }
        fuzzCheck(headerKind == error.kind, "the 8-byte header alone gave \(String(describing: headerKind)), not \(error.kind)")
        return nil
    case .success(nil):
        if input.count >= 8, let header = try? FastCGIRecordDecoder.parseHeader(input) {
            fuzzCheck(header.recordLength > input.count, "complete record reported as incomplete")
        }
        return nil
    case .success(let (header, content, consumed)?):
        fuzzCheck(consumed == header.recordLength && consumed <= input.count, "consumed \(consumed) of \(input.count)")
        fuzzCheck(consumed <= FastCGIRecordDecoder.maxRecordLength, "record longer than maxRecordLength")
        fuzzCheck(content == 8..<(8 + header.contentLength), "content range \(content)")
        fuzzCheck(header.version == 1 && header.type != 0, "invalid header accepted: \(header)")
        for shorter in [consumed - 1, 8, 7, 0] where shorter >= 0 && shorter < consumed {
            var needsMore = false
            do throws(FastCGIError) { needsMore = try decoder.next(slice(input, 0..<shorter)) == nil } catch {}
            fuzzCheck(needsMore, "a \(shorter)-byte prefix of a \(consumed)-byte record was not 'need more'")
        }
        if let (record, used) = try? decoder.nextRecord(input) {
            fuzzCheck(used == consumed && record.content == Array(slice(input, content)) && record.type == header.type
                      && record.requestId == header.requestId, "nextRecord disagrees with next")
        } else {
            fuzzCheck(false, "nextRecord failed where next succeeded")
        }
        var encoded: [UInt8] = []
        FastCGIRecordEncoder.header(type: header.type, requestId: header.requestId, contentLength: header.contentLength,
                                    paddingLength: header.paddingLength, into: &encoded)
        fuzzCheck(encoded[0..<7] == Array(slice(input, 0..<7))[...], "re-encoded header differs")
        return (header, content, consumed)
    }
}

runFuzzer { data in
    var offset = 0
    var params: [UInt16: [UInt8]] = [:]
    while offset < data.count {
        let rest = slice(data, offset..<data.count)
        guard let (header, content, consumed) = checkRecord(rest) else { return }
        if header.knownType == .params {
            if content.isEmpty {
                let bytes = params.removeValue(forKey: header.requestId) ?? []
                bytes.withUnsafeBytes { raw in
                    let pairs = try? FastCGINameValuePairs.decode(raw)
                    let env = try? FastCGINameValuePairs.decodeEnvironment(raw)
                    fuzzCheck((pairs == nil) == (env == nil), "decode and decodeEnvironment disagree on validity")
                    if let pairs, let env {
                        fuzzCheck(CGIEnvironment(pairs.map { (name: $0.0, value: $0.1) }).pairs.map { $0.name + "=" + $0.value }
                                  == env.pairs.map { $0.name + "=" + $0.value }, "decodeEnvironment differs from decode")
                    }
                }
            } else {
                params[header.requestId, default: []].append(contentsOf: slice(rest, content))
            }
        }
        offset += consumed
    }
}
