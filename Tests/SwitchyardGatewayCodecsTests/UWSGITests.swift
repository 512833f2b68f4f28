import Testing
import SwitchyardGatewayCodecs

@Suite struct UWSGITests {
    @Test func goldenBytes() throws {
        var out: [UInt8] = []
        try UWSGIRequestEncoder.encodeHeaders(env([("A", "bc"), ("REQUEST_METHOD", "GET")]), into: &out)
        let expected: [UInt8] = [0x00, 0x1C, 0x00, 0x00,
                                 0x01, 0x00, 0x41, 0x02, 0x00, 0x62, 0x63]
            + [0x0E, 0x00] + bytes("REQUEST_METHOD") + [0x03, 0x00] + bytes("GET")
        #expect(out == expected)
        #expect(out.count == 4 + 0x1C)
    }

    @Test func emptyEnvironment() throws {
        var out: [UInt8] = []
        try UWSGIRequestEncoder.encodeHeaders(CGIEnvironment(), into: &out)
        #expect(out == [0, 0, 0, 0])
    }

    @Test func tooLargeThrowsAndAppendsNothing() {
        var out: [UInt8] = [9]
        let big = env([("HTTP_X", String(repeating: "a", count: 40_000)), ("HTTP_Y", String(repeating: "b", count: 30_000))])
        let e = #expect(throws: UWSGIError.self) { try UWSGIRequestEncoder.encodeHeaders(big, into: &out) }
        #expect(e?.kind == .tooLarge)
        #expect(out == [9])
        let huge = env([("HTTP_X", String(repeating: "a", count: 70_000))])
        #expect(throws: UWSGIError.self) { try UWSGIRequestEncoder.encodeHeaders(huge, into: &out) }
    }

    @Test func maximumSizeFits() throws {
        // 4 + 6 + 65525 = 65535 bytes of variables.
        var out: [UInt8] = []
        try UWSGIRequestEncoder.encodeHeaders(env([("HTTP_X", String(repeating: "a", count: 65525))]), into: &out)
        #expect(out[1] == 0xFF && out[2] == 0xFF)
    }

    @Test func roundTripSplitAtEveryOffset() throws {
        let e = env([("REQUEST_METHOD", "POST"), ("CONTENT_LENGTH", "3"), ("QUERY_STRING", "")])
        var packet: [UInt8] = []
        try UWSGIRequestEncoder.encodeHeaders(e, modifier2: 0, into: &packet)
        let input = packet + bytes("abc")
        for split in 0...input.count {
            var d = UWSGIRequestDecoder()
            if let (decoded, consumed) = try d.feed(Array(input[..<split])) {
                #expect(consumed == packet.count)
                #expect(pairsEqual(decoded.pairs, e.pairs.map { ($0.name, $0.value) }))
            } else {
                let (decoded, consumed) = try #require(try d.feed(Array(input[split...])))
                #expect(consumed == packet.count - split)
                #expect(pairsEqual(decoded.pairs, e.pairs.map { ($0.name, $0.value) }))
            }
        }
    }

    static let malformedCases: [([UInt8], UWSGIError.Kind)] = [
        ([0x05, 0x00, 0x00, 0x00], .unsupportedModifier),
        ([0x00, 0x01, 0x00, 0x00, 0x01], .malformed),                    // truncated name length
        ([0x00, 0x03, 0x00, 0x00, 0x05, 0x00, 0x41], .malformed),        // name overruns
        ([0x00, 0x05, 0x00, 0x00, 0x01, 0x00, 0x41, 0x09, 0x00], .malformed), // value overruns
        ([0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00], .malformed),  // empty name
        ([0x00, 0x0B, 0x00, 0x00, 0x01, 0x00, 0x41, 0x00, 0x00, 0x01, 0x00, 0x41, 0x01, 0x00, 0x78], .malformed), // repeated
    ]

    @Test(arguments: malformedCases)
    func decoderRejects(input: [UInt8], kind: UWSGIError.Kind) {
        var d = UWSGIRequestDecoder()
        let e = #expect(throws: UWSGIError.self) { try d.feed(input) }
        #expect(e?.kind == kind, "\(input): \(String(describing: e))")
    }

    @Test func decoderSizeLimit() {
        var d = UWSGIRequestDecoder(maxHeaderBytes: 16)
        let e = #expect(throws: UWSGIError.self) { try d.feed([0x00, 0x11, 0x00, 0x00]) }
        #expect(e?.kind == .tooLarge)
    }
}
