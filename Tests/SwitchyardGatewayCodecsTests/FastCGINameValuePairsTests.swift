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

    /// PARAMS written by `FastCGIRecordEncoder.params` read back to the same bytes: values with
    /// escaped bytes (obs-text), values and names too long for one record or a one-byte length.
    @Test func paramsRoundTripEscapedAndLongPairs() throws {
        let raw: [UInt8] = Array("caf".utf8) + [0xE9, 0x20, 0xFF, 0x80, 0xC3, 0x28] + Array(" ok".utf8)
        let longPlain = String(repeating: "v", count: 70_000)
        let longEscaped = [UInt8]((0..<40_000).map { UInt8(truncatingIfNeeded: $0 % 7 == 0 ? 0xE9 : 0x61) })
        let longName = "HTTP_" + String(repeating: "N", count: 200)
        let env = CGIEnvironment([
            (name: "HTTP_X_RAW", value: raw.withUnsafeBytes { FieldValueBytes.string($0) }),
            (name: "HTTP_X_LONG", value: longPlain),
            (name: "HTTP_X_LONG_RAW", value: longEscaped.withUnsafeBytes { FieldValueBytes.string($0) }),
            (name: longName, value: "x"),
            (name: "SHORT", value: ""),
        ])
        var wire: [UInt8] = []
        FastCGIRecordEncoder.params(env, requestId: 3, into: &wire)
        // Concatenate the PARAMS records' contents (8-byte headers, padding skipped).
        var content: [UInt8] = []
        var at = 0
        var sawEnd = false
        while at + 8 <= wire.count {
            #expect(wire[at + 1] == 4)                       // FCGI_PARAMS
            let length = Int(wire[at + 4]) << 8 | Int(wire[at + 5])
            let padding = Int(wire[at + 6])
            if length == 0 { sawEnd = true }
            content += wire[(at + 8)..<(at + 8 + length)]
            at += 8 + length + padding
        }
        #expect(sawEnd && at == wire.count)
        let back = try content.withUnsafeBytes { try FastCGINameValuePairs.decodeEnvironment($0) }
        #expect(back["HTTP_X_RAW"].map(FieldValueBytes.bytes) == raw)
        #expect(back["HTTP_X_LONG"] == longPlain)
        #expect(back["HTTP_X_LONG_RAW"].map(FieldValueBytes.bytes) == longEscaped)
        #expect(back[longName] == "x" && back["SHORT"] == "")
    }
}
