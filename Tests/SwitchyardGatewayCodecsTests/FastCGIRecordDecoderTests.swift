import Testing
import SwitchyardGatewayCodecs

@Suite struct FastCGIRecordDecoderTests {
    static func sampleStream() -> [UInt8] {
        var out: [UInt8] = []
        FastCGIRecordEncoder.beginRequest(requestId: 1, keepConnection: true, into: &out)
        FastCGIRecordEncoder.params(env([("SCRIPT_NAME", "/x"), ("HTTP_BIG", String(repeating: "b", count: 300))]), requestId: 1, into: &out)
        FastCGIRecordEncoder.stream(.stdin, requestId: 1, payload: bytes("abc"), into: &out)
        FastCGIRecordEncoder.stream(.stdin, requestId: 1, payload: [], into: &out)
        FastCGIRecordEncoder.stream(.stdout, requestId: 1, payload: bytes("Status: 200\r\n\r\nhi"), into: &out)
        FastCGIRecordEncoder.stream(.stderr, requestId: 1, payload: bytes("warn"), into: &out)
        FastCGIRecordEncoder.stream(.stdout, requestId: 1, payload: [], into: &out)
        FastCGIRecordEncoder.endRequest(requestId: 1, appStatus: 3, into: &out)
        return out
    }

    @Test func decodesRangesWithoutCopying() throws {
        let stream = Self.sampleStream()
        var d = FastCGIRecordDecoder()
        try stream.withUnsafeBytes { raw in
            let (h, content, consumed) = try #require(try d.next(raw))
            #expect(h == .init(type: 1, requestId: 1, contentLength: 8, paddingLength: 0))
            #expect(content == 8..<16)
            #expect(consumed == 16)
            let begin = try #require(FastCGIBeginRequest(content: UnsafeRawBufferPointer(rebasing: raw[content])))
            #expect(begin == FastCGIBeginRequest(role: 1, keepConnection: true))
        }
    }

    @Test func byteByByteMatchesWholeStream() throws {
        let stream = Self.sampleStream()
        let whole = try decodeAll(stream)
        #expect(whole.map(\.type) == [1, 4, 4, 5, 5, 6, 7, 6, 3])

        var d = FastCGIRecordDecoder()
        var buffer: [UInt8] = []
        var records: [FastCGIRecord] = []
        for byte in stream {
            buffer.append(byte)
            while let (record, consumed) = try buffer.withUnsafeBytes({ try d.nextRecord($0) }) {
                records.append(record)
                buffer.removeFirst(consumed)
            }
        }
        #expect(buffer.isEmpty)
        #expect(records == whole)
        let end = try #require(records.last.flatMap { r in r.content.withUnsafeBytes { FastCGIEndRequest(content: $0) } })
        #expect(end == FastCGIEndRequest(appStatus: 3, protocolStatus: .requestComplete))
    }

    @Test func incompleteReturnsNil() throws {
        var d = FastCGIRecordDecoder()
        let stream = Self.sampleStream()
        for n in [0, 1, 7, 8, 15] {
            let r = try Array(stream[..<n]).withUnsafeBytes { try d.next($0) }
            #expect(r == nil)
        }
    }

    @Test func endRequestBody() {
        let body: [UInt8] = [0, 0, 1, 0, 3, 0, 0, 0]
        let end = body.withUnsafeBytes { FastCGIEndRequest(content: $0) }
        #expect(end?.appStatus == 256)
        #expect(end?.protocolStatus == FastCGIProtocolStatus.unknownRole.rawValue)
        #expect([UInt8](repeating: 0, count: 7).withUnsafeBytes { FastCGIEndRequest(content: $0) } == nil)
        #expect([UInt8](repeating: 0, count: 9).withUnsafeBytes { FastCGIBeginRequest(content: $0) } == nil)
    }

    static let badRecords: [([UInt8], FastCGIError.Kind)] = [
        ([2, 6, 0, 1, 0, 0, 0, 0], .badVersion),
        ([0, 6, 0, 1, 0, 0, 0, 0], .badVersion),
        ([0x48, 0x54, 0x54, 0x50, 0x2F, 0x31, 0x2E, 0x31], .badVersion),  // "HTTP/1.1" from a non-FastCGI peer
        ([1, 0, 0, 1, 0, 0, 0, 0], .badRecord),        // type 0
        ([1, 1, 0, 1, 0, 7, 0, 0], .badRecord),        // BEGIN_REQUEST with 7 bytes
        ([1, 3, 0, 1, 0, 9, 0, 0], .badRecord),        // END_REQUEST with 9 bytes
        ([1, 2, 0, 1, 0, 1, 0, 0], .badRecord),        // ABORT with content
        ([1, 6, 0, 0, 0, 0, 0, 0], .badRecord),        // STDOUT on request id 0
        ([1, 9, 0, 1, 0, 0, 0, 0], .badRecord),        // GET_VALUES on request id 1
        ([1, 11, 0, 0, 0, 4, 4, 0], .badRecord),       // UNKNOWN_TYPE with 4 bytes
    ]

    /// Rejected from the 8 header bytes alone, without waiting for content.
    @Test(arguments: badRecords)
    func rejectsBadHeaders(header: [UInt8], kind: FastCGIError.Kind) {
        var d = FastCGIRecordDecoder()
        let e = #expect(throws: FastCGIError.self) { try header.withUnsafeBytes { try d.next($0) } }
        #expect(e?.kind == kind, "\(header): \(String(describing: e))")
    }

    @Test func unknownTypesPassThrough() throws {
        let records = try decodeAll([1, 99, 0, 1, 0, 2, 6, 0, 7, 7, 0, 0, 0, 0, 0, 0])
        #expect(records == [FastCGIRecord(type: 99, requestId: 1, content: [7, 7])])
        #expect(records[0].knownType == nil)
    }

    static let badPairs: [([UInt8], FastCGIError.Kind)] = [
        ([0x80, 0, 0], .truncatedPair),                          // 4-byte name length cut off
        ([1], .truncatedPair),                                   // value length missing
        ([1, 0x80], .truncatedPair),                             // 4-byte value length cut off
        ([5, 1, 0x41], .pairTooLong),                            // declares 5+1, has 1
        ([0x8F, 0xFF, 0xFF, 0xFF, 0, 0x41], .pairTooLong),       // ~256 MiB name
        ([1, 0xFF, 0xFF, 0xFF, 0xFF, 0x41, 0x42], .pairTooLong), // 2 GiB value
    ]

    @Test(arguments: badPairs)
    func rejectsMalformedPairs(input: [UInt8], kind: FastCGIError.Kind) {
        let e = #expect(throws: FastCGIError.self) { try input.withUnsafeBytes { try FastCGINameValuePairs.decode($0) } }
        #expect(e?.kind == kind, "\(input): \(String(describing: e))")
    }

    @Test func emptyPairsDecodeToNothing() throws {
        #expect(try [UInt8]().withUnsafeBytes { try FastCGINameValuePairs.decode($0) }.isEmpty)
        var count = 0
        try [UInt8]([1, 0, 0x41, 0, 0]).withUnsafeBytes { raw in
            try FastCGINameValuePairs.forEachPair(raw) { n, v in count += 1; _ = (n, v) }
        }
        #expect(count == 2)
    }
}
