import Testing
import SwitchyardHTTP
@testable import SwitchyardGatewayCodecs

@Suite("FastCGI name-value pairs")
struct FastCGINameValuePairsTests {
    /// Found by fuzz-fastcgi-record: `decode` replaced a value's invalid UTF-8 with U+FFFD while
    /// `decodeEnvironment` kept the bytes, so the two disagreed on the same PARAMS.
    @Test func decodeAndDecodeEnvironmentKeepTheSameValueBytes() throws {
        let value: [UInt8] = [0x61, 0xFF, 0xC3, 0x28, 0x62]        // "a", two invalid sequences, "b"
        let name = Array("HTTP_X_RAW".utf8)
        let wire: [UInt8] = [UInt8(name.count), UInt8(value.count)] + name + value
        let pairs = try wire.withUnsafeBytes { try FastCGINameValuePairs.decode($0) }
        let env = try wire.withUnsafeBytes { try FastCGINameValuePairs.decodeEnvironment($0) }
        #expect(pairs.count == 1)
        #expect(pairs[0].1 == env["HTTP_X_RAW"])
        var back: [UInt8] = []
        FieldValueBytes.append(pairs[0].1, to: &back)
        #expect(back == value)
    }
}
