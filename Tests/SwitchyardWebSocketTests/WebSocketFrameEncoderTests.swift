import Testing
@testable import SwitchyardWebSocket

@Suite struct WebSocketFrameEncoderTests {
    @Test func unmaskedTextGolden() {
        var out: [UInt8] = []
        WebSocketFrameEncoder.encode(opcode: .text, payload: hello, into: &out)
        #expect(out == [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f])
    }

    @Test func maskedTextGolden() {
        var out: [UInt8] = []
        WebSocketFrameEncoder.encode(opcode: .text, payload: hello, maskKey: 0x37fa_213d, into: &out)
        #expect(out == [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58])
    }

    @Test func fragmentsAndControlGolden() {
        var out: [UInt8] = []
        WebSocketFrameEncoder.encode(opcode: .text, payload: Array("Hel".utf8), fin: false, into: &out)
        WebSocketFrameEncoder.encode(opcode: .continuation, payload: Array("lo".utf8), into: &out)
        WebSocketFrameEncoder.encode(opcode: .ping, payload: hello, into: &out)
        WebSocketFrameEncoder.encode(opcode: .pong, payload: hello, maskKey: 0x37fa_213d, into: &out)
        #expect(out == [0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f,
                        0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f,
                        0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58])
    }

    @Test(arguments: [(0, 2), (125, 2), (126, 4), (256, 4), (65535, 4), (65536, 10), (70000, 10)])
    func lengthEncodings(size: Int, headerLength: Int) throws {
        let payload = [UInt8](repeating: 0x5A, count: size)
        var out: [UInt8] = []
        WebSocketFrameEncoder.encode(opcode: .binary, payload: payload, into: &out)
        #expect(out.count == headerLength + size)
        switch headerLength {
        case 2: #expect(out[1] == UInt8(size))
        case 4: #expect(Array(out[1..<4]) == [0x7E, UInt8(size >> 8), UInt8(size & 0xFF)])
        default:
            #expect(out[1] == 0x7F)
            #expect(Array(out[2..<10]) == [0, 0, 0, 0, 0, UInt8(size >> 16), UInt8((size >> 8) & 0xFF), UInt8(size & 0xFF)])
        }
        var masked: [UInt8] = []
        WebSocketFrameEncoder.encode(opcode: .binary, payload: payload, maskKey: 0x0102_0304, into: &masked)
        #expect(masked.count == headerLength + 4 + size)
        #expect(masked[1] & 0x80 != 0)
        let frames = try decodeAll(masked, role: .server)
        #expect(frames == [WebSocketFrame(opcode: .binary, maskKey: 0x0102_0304, payload: payload)])
    }

    @Test func rfcBinaryHeaders() {
        var out: [UInt8] = []
        WebSocketFrameEncoder.encode(opcode: .binary, payload: [UInt8](repeating: 0, count: 256), into: &out)
        #expect(Array(out.prefix(4)) == [0x82, 0x7E, 0x01, 0x00])
        out.removeAll(keepingCapacity: true)
        WebSocketFrameEncoder.encode(opcode: .binary, payload: [UInt8](repeating: 0, count: 65536), into: &out)
        #expect(Array(out.prefix(10)) == [0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00])
    }

    @Test func appendsAfterExistingBytes() throws {
        var out: [UInt8] = [0xEE]
        WebSocketFrameEncoder.encode(opcode: .text, payload: hello, maskKey: 0x37fa_213d, into: &out)
        #expect(out == [0xEE, 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58])
        let raw: [UInt8] = [1, 2, 3]
        raw.withUnsafeBytes { WebSocketFrameEncoder.encode(opcode: .binary, payload: $0, fin: false, into: &out) }
        #expect(Array(out.suffix(5)) == [0x02, 0x03, 1, 2, 3])
    }

    @Test func manySmallAppendsStayLinear() {
        var out: [UInt8] = []
        for i in 0..<100_000 {
            WebSocketFrameEncoder.encode(opcode: .binary, payload: [UInt8(truncatingIfNeeded: i)], maskKey: 7, into: &out)
        }
        #expect(out.count == 100_000 * 7)
    }

    @Test func encodeFrameValueWithRSV() throws {
        var out: [UInt8] = []
        WebSocketFrameEncoder.encode(WebSocketFrame(fin: true, rsv: 0b100, opcode: .text, payload: hello), into: &out)
        #expect(out.first == 0xC1)
        var decoder = WebSocketFrameDecoder(role: .client)
        decoder.allowedReservedBits = 0b100
        #expect(try decoder.decode(out)?.frame == WebSocketFrame(rsv: 0b100, opcode: .text, payload: hello))
    }

    @Test func closePayload() {
        #expect(WebSocketFrameEncoder.closePayload(code: 1000, reason: "") == [0x03, 0xE8])
        #expect(WebSocketFrameEncoder.closePayload(code: 1001, reason: "bye") == [0x03, 0xE9, 0x62, 0x79, 0x65])
        // Truncated to fit 125 bytes, never splitting a scalar.
        let long = WebSocketFrameEncoder.closePayload(code: 1000, reason: String(repeating: "é", count: 100))
        #expect(long.count == 124)
        #expect(UTF8Validation.isValid(Array(long[2...])))
        #expect(WebSocketFrameEncoder.closePayload(code: 1000, reason: String(repeating: "a", count: 200)).count == 125)
    }
}
