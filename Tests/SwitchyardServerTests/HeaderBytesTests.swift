import Testing
@testable import SwitchyardHTTP
import SwitchyardGatewayCodecs

/// Header value bytes survive the HTTP parser (FieldValueBytes) and every gateway encoder
/// (CGIByteEscape): what the client sent is what the backend reads.
@Suite("header value bytes")
struct HeaderBytesTests {
    static func roundTrip(_ bytes: [UInt8]) -> [UInt8] {
        let s = bytes.withUnsafeBytes { FieldValueBytes.string($0) }
        var env = CGIEnvironment()
        env.set("HTTP_X", s)
        return Array(env.envpBytes()[0].dropFirst("HTTP_X=".utf8.count))
    }

    static func scgiValue(_ bytes: [UInt8]) -> [UInt8] {
        let s = bytes.withUnsafeBytes { FieldValueBytes.string($0) }
        var out: [UInt8] = []
        SCGIRequestEncoder.encodeHeaders(CGIEnvironment([("HTTP_X", s)]), contentLength: 0, into: &out)
        let colon = out.firstIndex(of: 0x3A)!
        let declared = Int(String(decoding: out[..<colon], as: UTF8.self))!
        #expect(out.count == colon + 1 + declared + 1, "netstring length must count raw bytes")
        let body = Array(out[(colon + 1)..<(out.count - 1)])
        let parts = body.split(separator: 0, omittingEmptySubsequences: false)
        return Array(parts[parts.firstIndex(where: { Array($0) == Array("HTTP_X".utf8) })! + 1])
    }

    @Test(arguments: [
        Array("plain ascii".utf8), Array("h\u{e9}llo \u{2603} \u{1F600}".utf8),
        [0x63, 0x61, 0x66, 0xE9], [0xFF, 0x80, 0xC3, 0x28], [0xF4, 0x8F, 0xBE, 0x80], [0xF4, 0x8F, 0xBF, 0xBF, 0x41],
        [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82], [0xC0, 0xAF], [0xF4],
    ])
    func exactThroughEnvironmentAndSCGI(_ bytes: [UInt8]) {
        #expect(Self.roundTrip(bytes) == bytes)
        #expect(Self.scgiValue(bytes) == bytes)
    }

    @Test func everyByteAndPairRoundTrips() {
        for a in 0x20...0xFF {
            for b in stride(from: 0x20, through: 0xFF, by: 7) {
                let bytes: [UInt8] = [UInt8(a), UInt8(b), 0x78, UInt8(a)]
                #expect(Self.roundTrip(bytes) == bytes, "\(bytes)")
            }
        }
    }

    @Test func randomValuesRoundTripThroughFastCGIParams() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            let bytes = (0..<Int.random(in: 0...300, using: &rng)).map { _ in UInt8.random(in: 0x20...0xFF, using: &rng) }
            let s = bytes.withUnsafeBytes { FieldValueBytes.string($0) }
            var out: [UInt8] = []
            FastCGINameValuePairs.encode([("HTTP_X", s)], into: &out)
            let pairs = try? out.withUnsafeBytes { raw -> [(String, String)] in try FastCGINameValuePairs.decode(raw) }
            #expect(pairs?.count == 1)
            // the length prefix counts raw bytes: name (1) + value length field + name + value
            let headerLength = 1 + (bytes.count < 128 ? 1 : 4) + 6
            #expect(Array(out[headerLength...]) == bytes)
            #expect(Self.roundTrip(bytes) == bytes)
        }
    }

    @Test func asciiTakesThePlainPath() {
        let bytes = Array("0123456789abcdefXYZ".utf8)
        #expect(bytes.withUnsafeBytes { FieldValueBytes.isASCII($0) })
        #expect(![UInt8]([0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x80]).withUnsafeBytes { FieldValueBytes.isASCII($0) })
    }

    /// The bridges' side (fcgi-cgi, scgi-cgi): decoding what the gateway encoded gives the same
    /// bytes for the CGI they spawn.
    @Test func bridgesDecodeTheSameBytes() throws {
        let bytes: [UInt8] = [0x63, 0x61, 0x66, 0xE9, 0x20, 0xFF, 0x80, 0xF4, 0x8F, 0xBE, 0x80, 0x21]
        let s = bytes.withUnsafeBytes { FieldValueBytes.string($0) }
        let env = CGIEnvironment([("HTTP_X", s)])
        let expected = Array("HTTP_X=".utf8) + bytes

        var scgi: [UInt8] = []
        SCGIRequestEncoder.encodeHeaders(env, contentLength: 0, into: &scgi)
        var scgiDecoder = SCGIRequestDecoder()
        let fromSCGI = try #require(try scgi.withUnsafeBytes { try scgiDecoder.feed($0) })
        #expect(fromSCGI.env.envpBytes().contains(expected))

        var uwsgi: [UInt8] = []
        try UWSGIRequestEncoder.encodeHeaders(env, into: &uwsgi)
        var uwsgiDecoder = UWSGIRequestDecoder()
        let fromUWSGI = try #require(try uwsgi.withUnsafeBytes { try uwsgiDecoder.feed($0) })
        #expect(fromUWSGI.env.envpBytes().contains(expected))

        var params: [UInt8] = []
        FastCGINameValuePairs.encode(env, into: &params)
        let fromFastCGI = try params.withUnsafeBytes { try FastCGINameValuePairs.decodeEnvironment($0) }
        #expect(fromFastCGI.envpBytes() == [expected])
    }
}
