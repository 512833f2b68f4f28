import Testing
import SwitchyardGatewayCodecs

@Suite struct FastCGIRecordEncoderTests {
    @Test func beginRequestGolden() {
        var out: [UInt8] = []
        FastCGIRecordEncoder.beginRequest(requestId: 1, keepConnection: true, into: &out)
        #expect(out == [1, 1, 0, 1, 0, 8, 0, 0, /**/ 0, 1, 1, 0, 0, 0, 0, 0])
        out = []
        FastCGIRecordEncoder.beginRequest(requestId: 0x1234, role: 3, keepConnection: false, into: &out)
        #expect(out == [1, 1, 0x12, 0x34, 0, 8, 0, 0, /**/ 0, 3, 0, 0, 0, 0, 0, 0])
    }

    @Test func paramsGolden() {
        var out: [UInt8] = []
        FastCGIRecordEncoder.params(env([("A", "b"), ("QUERY_STRING", "")]), requestId: 1, into: &out)
        let content: [UInt8] = [1, 1, 0x41, 0x62, 12, 0] + bytes("QUERY_STRING")   // 18 bytes
        #expect(out == [1, 4, 0, 1, 0, 18, 6, 0] + content + [0, 0, 0, 0, 0, 0] + [1, 4, 0, 1, 0, 0, 0, 0])
    }

    @Test func emptyParamsIsOnlyTheTerminator() {
        var out: [UInt8] = []
        FastCGIRecordEncoder.params(CGIEnvironment(), requestId: 2, into: &out)
        #expect(out == [1, 4, 0, 2, 0, 0, 0, 0])
    }

    @Test func stdinGoldenWithPaddingAndEnd() {
        var out: [UInt8] = []
        FastCGIRecordEncoder.stream(.stdin, requestId: 1, payload: bytes("hello"), into: &out)
        FastCGIRecordEncoder.stream(.stdin, requestId: 1, payload: [], into: &out)
        #expect(out == [1, 5, 0, 1, 0, 5, 3, 0, 0x68, 0x65, 0x6C, 0x6C, 0x6F, 0, 0, 0, /**/ 1, 5, 0, 1, 0, 0, 0, 0])
        out = []
        FastCGIRecordEncoder.stream(.stdout, requestId: 1, payload: bytes("12345678"), into: &out)
        #expect(out == [1, 6, 0, 1, 0, 8, 0, 0] + bytes("12345678"))
    }

    @Test func endRequestAndManagementGolden() {
        var out: [UInt8] = []
        FastCGIRecordEncoder.endRequest(requestId: 1, appStatus: 0x0102_0304, protocolStatus: .overloaded, into: &out)
        #expect(out == [1, 3, 0, 1, 0, 8, 0, 0, /**/ 1, 2, 3, 4, 2, 0, 0, 0])
        out = []
        FastCGIRecordEncoder.abortRequest(requestId: 7, into: &out)
        #expect(out == [1, 2, 0, 7, 0, 0, 0, 0])
        out = []
        FastCGIRecordEncoder.unknownType(42, into: &out)
        #expect(out == [1, 11, 0, 0, 0, 8, 0, 0, /**/ 42, 0, 0, 0, 0, 0, 0, 0])
        out = []
        FastCGIRecordEncoder.getValues(names: ["FCGI_MPXS_CONNS"], into: &out)
        #expect(out == [1, 9, 0, 0, 0, 17, 7, 0, 15, 0] + bytes("FCGI_MPXS_CONNS") + [0, 0, 0, 0, 0, 0, 0])
        out = []
        FastCGIRecordEncoder.getValuesResult([("FCGI_MPXS_CONNS", "0")], into: &out)
        #expect(out == [1, 10, 0, 0, 0, 18, 6, 0, 15, 1] + bytes("FCGI_MPXS_CONNS0") + [0, 0, 0, 0, 0, 0])
    }

    @Test func pairLengthEncodings() throws {
        var out: [UInt8] = []
        let v200 = String(repeating: "v", count: 200)
        let n127 = String(repeating: "n", count: 127)
        FastCGINameValuePairs.encode([(name: "X", value: v200), (name: n127, value: "")], into: &out)
        #expect(Array(out[0..<5]) == [1, 0x80, 0, 0, 200])
        #expect(out[5] == 0x58)
        #expect(Array(out[206..<208]) == [127, 0])
        #expect(out.count == 5 + 1 + 200 + 2 + 127)
        #expect(FastCGINameValuePairs.encodedSize(name: "X", value: v200) == 206)
        let decoded = try out.withUnsafeBytes { try FastCGINameValuePairs.decode($0) }
        #expect(decoded.count == 2)
        #expect(decoded[0] == ("X", v200))
        #expect(decoded[1] == (n127, ""))
    }

    /// A 70 000-byte value forces 4-byte lengths and a pair straddling two PARAMS records.
    @Test func largeParamsStraddleRecords() throws {
        let big = String(repeating: "z", count: 70_000)
        let e = env([("REQUEST_METHOD", "GET"), ("HTTP_BIG", big), ("HTTP_SMALL", String(repeating: "s", count: 200)), ("Z", "")])
        var out: [UInt8] = []
        FastCGIRecordEncoder.params(e, requestId: 3, into: &out)
        let records = try decodeAll(out)
        #expect(records.count == 3)
        #expect(records.allSatisfy { $0.type == FastCGIRecordType.params.rawValue && $0.requestId == 3 })
        #expect(records[0].content.count == 65535)
        #expect(records.last!.content.isEmpty)
        #expect(out.count % 8 == 0)
        let joined = records.flatMap(\.content)
        let decoded = try joined.withUnsafeBytes { try FastCGINameValuePairs.decodeEnvironment($0) }
        #expect(decoded.pairs.map(\.name) == ["REQUEST_METHOD", "HTTP_BIG", "HTTP_SMALL", "Z"])
        #expect(decoded.value("HTTP_BIG") == big)
        #expect(decoded.value("Z") == "")
    }

    @Test func paramsExactlyOneFullRecord() throws {
        // 1 + 4 + 1 + 65529 = 65535 content bytes: one full record, no empty extra record.
        let e = env([("A", String(repeating: "a", count: 65529))])
        var out: [UInt8] = []
        FastCGIRecordEncoder.params(e, requestId: 1, into: &out)
        let records = try decodeAll(out)
        #expect(records.map(\.content.count) == [65535, 0])
    }

    @Test(arguments: [(65535, [65535]), (65536, [65535, 1]), (200_000, [65535, 65535, 65535, 3395]), (1, [1])])
    func stdinChunking(size: Int, expected: [Int]) throws {
        let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var out: [UInt8] = []
        FastCGIRecordEncoder.stream(.stdin, requestId: 9, payload: payload, into: &out)
        FastCGIRecordEncoder.stream(.stdin, requestId: 9, payload: [], into: &out)
        #expect(out.count % 8 == 0)
        let records = try decodeAll(out)
        #expect(records.map(\.content.count) == expected + [0])
        #expect(records.allSatisfy { $0.type == 5 && $0.requestId == 9 })
        #expect(records.flatMap(\.content) == payload)
        // Padding: header byte 6 of the first record.
        #expect(Int(out[6]) == (8 - expected[0] % 8) % 8)
    }

    @Test func genericRecordEncoderRoundTrip() throws {
        let r = FastCGIRecord(type: 200, requestId: 5, content: [1, 2, 3])
        var out: [UInt8] = []
        FastCGIRecordEncoder.record(r, into: &out)
        #expect(out == [1, 200, 0, 5, 0, 3, 5, 0, 1, 2, 3, 0, 0, 0, 0, 0])
        #expect(try decodeAll(out) == [r])
    }
}
