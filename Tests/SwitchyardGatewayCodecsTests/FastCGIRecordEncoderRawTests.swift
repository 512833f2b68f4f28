import Testing
import SwitchyardGatewayCodecs

/// The raw-memory writers the bridges, the echo app and the gateway's FastCGI connections write
/// their output buffers with: exact lengths, layout, padding, splitting, and nothing written past
/// the length they report.
@Suite struct FastCGIRecordEncoderRawTests {
    /// Runs `write` on a buffer of `capacity` bytes pre-filled with 0xEE and returns the bytes it
    /// reports, checking it left the rest of the buffer alone.
    func written(capacity: Int, _ write: (UnsafeMutableRawBufferPointer) -> Int) -> [UInt8] {
        var buffer = [UInt8](repeating: 0xEE, count: capacity)
        let n = buffer.withUnsafeMutableBytes { write($0) }
        #expect(n <= capacity)
        #expect(buffer[n...].allSatisfy { $0 == 0xEE }, "wrote past the length it returned")
        return Array(buffer[..<n])
    }

    func stream(_ type: FastCGIRecordType, id: UInt16, head: [UInt8] = [], body: [UInt8], slack: Int = 0) -> [UInt8] {
        let length = FastCGIRecordEncoder.streamLength(contentLength: head.count + body.count)
        return head.withUnsafeBytes { h in
            body.withUnsafeBytes { b in
                written(capacity: length + slack) { FastCGIRecordEncoder.stream(type, requestId: id, head: h, body: b, into: $0) }
            }
        }
    }

    @Test func headerPaddingAndContentGolden() {
        #expect(stream(.stdout, id: 0x0102, body: bytes("hello"), slack: 16)
                == [1, 6, 1, 2, 0, 5, 3, 0] + bytes("hello") + [0, 0, 0])
        #expect(stream(.stderr, id: 7, body: bytes("12345678"), slack: 5) == [1, 7, 0, 7, 0, 8, 0, 0] + bytes("12345678"))
        #expect(stream(.stdin, id: 1, body: [9], slack: 3) == [1, 5, 0, 1, 0, 1, 7, 0, 9, 0, 0, 0, 0, 0, 0, 0])
    }

    @Test func emptyContentIsTheEndOfStreamRecord() {
        #expect(FastCGIRecordEncoder.streamLength(contentLength: 0) == 8)
        #expect(stream(.stdout, id: 3, body: [], slack: 8) == [1, 6, 0, 3, 0, 0, 0, 0])
    }

    /// Content of every length mod 8 is padded to a multiple of 8, and the length is exact.
    @Test(arguments: 1...17)
    func paddingToEight(size: Int) throws {
        let out = stream(.stdout, id: 1, body: [UInt8](repeating: 0x41, count: size))
        #expect(out.count == FastCGIRecordEncoder.streamLength(contentLength: size))
        #expect(out.count % 8 == 0)
        #expect(Int(out[6]) == (8 - size % 8) % 8)
        #expect(try decodeAll(out).map(\.content) == [[UInt8](repeating: 0x41, count: size)])
    }

    @Test(arguments: [(65535, [65535]), (65536, [65535, 1]), (131_070, [65535, 65535]), (200_000, [65535, 65535, 65535, 3395])])
    func largeContentIsSplit(size: Int, expected: [Int]) throws {
        let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let out = stream(.stdout, id: 9, body: payload)
        #expect(out.count == FastCGIRecordEncoder.streamLength(contentLength: size))
        #expect(out.count % 8 == 0)
        let records = try decodeAll(out)
        #expect(records.map(\.content.count) == expected)
        #expect(records.allSatisfy { $0.type == FastCGIRecordType.stdout.rawValue && $0.requestId == 9 })
        #expect(records.flatMap(\.content) == payload)
    }

    /// A frame header and its payload share records; the split may fall anywhere, also inside
    /// the head.
    @Test(arguments: [(10, 5), (10, 70_000), (65_530, 10), (70_000, 3), (0, 65_536)])
    func headAndBodyShareRecords(headCount: Int, bodyCount: Int) throws {
        let head = (0..<headCount).map { UInt8(truncatingIfNeeded: $0 &* 3 &+ 1) }
        let body = (0..<bodyCount).map { UInt8(truncatingIfNeeded: $0 &* 5 &+ 2) }
        let out = stream(.stdout, id: 2, head: head, body: body)
        let records = try decodeAll(out)
        #expect(records.flatMap(\.content) == head + body)
        #expect(records.dropLast().allSatisfy { $0.content.count == 65535 })
    }

    /// The `[UInt8]` variant (the gateway's) produces the same bytes.
    @Test(arguments: [0, 1, 8, 65535, 65536, 140_000])
    func arrayVariantIsTheSame(size: Int) {
        let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0) }
        var array: [UInt8] = [0xAB]
        FastCGIRecordEncoder.stream(.stdin, requestId: 4, payload: payload, into: &array)
        #expect(array == [0xAB] + stream(.stdin, id: 4, body: payload))
    }

    @Test func endRequestGolden() {
        let out = written(capacity: 20) {
            FastCGIRecordEncoder.endRequest(requestId: 0x0203, appStatus: 0x0A0B_0C0D, protocolStatus: .unknownRole, into: $0)
        }
        #expect(out == [1, 3, 2, 3, 0, 8, 0, 0, /**/ 0x0A, 0x0B, 0x0C, 0x0D, 3, 0, 0, 0])
        #expect(out.count == FastCGIRecordEncoder.endRequestLength)
        var array: [UInt8] = []
        FastCGIRecordEncoder.endRequest(requestId: 0x0203, appStatus: 0x0A0B_0C0D, protocolStatus: .unknownRole, into: &array)
        #expect(array == out)
    }

    @Test func getValuesResultRoundTrips() throws {
        var out: [UInt8] = []
        FastCGIRecordEncoder.getValuesResult([("FCGI_MAX_CONNS", "10"), ("FCGI_MPXS_CONNS", "1")], into: &out)
        #expect(Array(out[0..<4]) == [1, 10, 0, 0])
        #expect(out.count % 8 == 0)
        let records = try decodeAll(out)
        #expect(records.count == 1)
        let pairs = try records[0].content.withUnsafeBytes { try FastCGINameValuePairs.decode($0) }
        #expect(pairs.map { "\($0.0)=\($0.1)" } == ["FCGI_MAX_CONNS=10", "FCGI_MPXS_CONNS=1"])
    }
}
