import Testing
import SwitchyardGatewayCodecs

@Suite struct SCGITests {
    /// The example from python.ca/scgi/protocol.txt.
    static let specExample = bytes("70:CONTENT_LENGTH\u{0}27\u{0}SCGI\u{0}1\u{0}REQUEST_METHOD\u{0}POST\u{0}REQUEST_URI\u{0}/deepthought\u{0},")
    static let specBody = bytes("What is the answer to life?")

    @Test func encoderMatchesSpecExample() {
        var out: [UInt8] = [0xEE]
        let e = env([("REQUEST_METHOD", "POST"), ("CONTENT_LENGTH", "999"), ("REQUEST_URI", "/deepthought"), ("SCGI", "7")])
        SCGIRequestEncoder.encodeHeaders(e, contentLength: 27, into: &out)
        #expect(out == [0xEE] + Self.specExample)
    }

    @Test func encoderEmptyEnvironment() {
        var out: [UInt8] = []
        SCGIRequestEncoder.encodeHeaders(CGIEnvironment(), contentLength: 0, into: &out)
        #expect(out == bytes("24:CONTENT_LENGTH\u{0}0\u{0}SCGI\u{0}1\u{0},"))
    }

    @Test func decoderSpecExampleWithBody() throws {
        var d = SCGIRequestDecoder()
        let (e, consumed) = try #require(try d.feed(Self.specExample + Self.specBody))
        #expect(consumed == Self.specExample.count)
        #expect(pairsEqual(e.pairs, [("CONTENT_LENGTH", "27"), ("SCGI", "1"), ("REQUEST_METHOD", "POST"), ("REQUEST_URI", "/deepthought")]))
    }

    @Test func decoderSplitAtEveryOffset() throws {
        let input = Self.specExample + Self.specBody
        for split in 0...input.count {
            var d = SCGIRequestDecoder()
            if let (e, consumed) = try d.feed(Array(input[..<split])) {
                #expect(split >= Self.specExample.count)
                #expect(consumed == Self.specExample.count)
                #expect(e.count == 4)
            } else {
                #expect(split < Self.specExample.count)
                let (e, consumed) = try #require(try d.feed(Array(input[split...])))
                #expect(consumed == Self.specExample.count - split)
                #expect(e.value("REQUEST_URI") == "/deepthought")
            }
        }
        var d = SCGIRequestDecoder()
        for (i, byte) in Self.specExample.enumerated() {
            let r = try d.feed([byte])
            #expect((r != nil) == (i == Self.specExample.count - 1))
        }
    }

    @Test func roundTrip() throws {
        let e = env([("REQUEST_METHOD", "GET"), ("QUERY_STRING", ""), ("HTTP_X", String(repeating: "v", count: 1000))])
        var out: [UInt8] = []
        SCGIRequestEncoder.encodeHeaders(e, contentLength: 123, into: &out)
        var d = SCGIRequestDecoder()
        let (decoded, consumed) = try #require(try d.feed(out))
        #expect(consumed == out.count)
        #expect(decoded.value("CONTENT_LENGTH") == "123")
        #expect(decoded.value("SCGI") == "1")
        #expect(decoded.value("QUERY_STRING") == "")
        #expect(decoded.value("HTTP_X")?.utf8.count == 1000)
    }

    static let malformedCases: [(String, SCGIError.Kind)] = [
        ("x:CONTENT_LENGTH\u{0}0\u{0},", .badLength),
        ("2a:CONTENT_LENGTH\u{0}0\u{0},", .badLength),
        (":,", .badLength),
        ("017:CONTENT_LENGTH\u{0}0\u{0},", .badLength),
        ("17:CONTENT_LENGTH\u{0}0\u{0};", .malformed),
        ("16:CONTENT_LENGTH\u{0}0\u{0},", .malformed),       // length too short: ',' expected where '\0' is
        ("17:CONTENT_LENGTH\u{0}0\u{0}X\u{0},", .malformed),  // declared length ends before the last pair
        ("19:CONTENT_LENGTH\u{0}0\u{0}X\u{0},", .malformed),  // odd count
        ("0:,", .malformed),
        ("20:CONTENT_LENGTH\u{0}0\u{0}\u{0}v\u{0},", .malformed), // empty name
        ("25:CONTENT_LENGTH\u{0}0\u{0}A\u{0}1\u{0}A\u{0}2\u{0},", .malformed), // repeated
        ("10:SCGI\u{0}1\u{0}A\u{0}\u{0},", .badContentLength),
        ("17:CONTENT_LENGTH\u{0}x\u{0},", .badContentLength),
        ("16:CONTENT_LENGTH\u{0}\u{0},", .badContentLength),
    ]

    @Test(arguments: malformedCases)
    func decoderRejects(text: String, kind: SCGIError.Kind) {
        var d = SCGIRequestDecoder()
        let e = #expect(throws: SCGIError.self) { try d.feed(bytes(text)) }
        #expect(e?.kind == kind, "\(text.debugDescription): \(String(describing: e))")
    }

    @Test func decoderRejectsTooLargeBeforeBuffering() {
        var d = SCGIRequestDecoder(maxHeaderBytes: 100)
        let e = #expect(throws: SCGIError.self) { try d.feed(bytes("101:")) }
        #expect(e?.kind == .tooLarge)
        var d2 = SCGIRequestDecoder(maxHeaderBytes: 100)
        let e2 = #expect(throws: SCGIError.self) { try d2.feed(bytes("99999999999999999999")) }
        #expect(e2?.kind == .tooLarge)
    }

    @Test func decoderRejectsMalformedLengthEarly() throws {
        var d = SCGIRequestDecoder()
        #expect(try d.feed(bytes("1")) == nil)
        let e = #expect(throws: SCGIError.self) { try d.feed(bytes("-")) }
        #expect(e?.kind == .badLength)
    }
}
