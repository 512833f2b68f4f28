import Testing
@testable import SwitchyardWebSocket

/// Decodes everything in `bytes` frame by frame.
func decodeAll(_ bytes: [UInt8], role: WebSocketFrameDecoder.Role, lenient: Bool = false,
               maxPayload: Int = 16 << 20 + 1024) throws(WebSocketProtocolError) -> [WebSocketFrame] {
    var decoder = WebSocketFrameDecoder(role: role, maxPayload: maxPayload, lenient: lenient)
    var frames: [WebSocketFrame] = []
    var offset = 0
    while offset < bytes.count {
        guard let (frame, consumed) = try decoder.decode(Array(bytes[offset...])) else { break }
        frames.append(frame)
        offset += consumed
    }
    return frames
}

/// Feeds `bytes` one byte at a time into a growing buffer, decoding whenever possible.
func decodeByteByByte(_ bytes: [UInt8], role: WebSocketFrameDecoder.Role, lenient: Bool = false,
                      maxPayload: Int = 16 << 20 + 1024) throws(WebSocketProtocolError) -> [WebSocketFrame] {
    var decoder = WebSocketFrameDecoder(role: role, maxPayload: maxPayload, lenient: lenient)
    var frames: [WebSocketFrame] = []
    var pending: [UInt8] = []
    for byte in bytes {
        pending.append(byte)
        while let (frame, consumed) = try decoder.decode(pending) {
            frames.append(frame)
            pending.removeFirst(consumed)
        }
    }
    return frames
}

func decodeError(_ bytes: [UInt8], role: WebSocketFrameDecoder.Role, lenient: Bool = false,
                 maxPayload: Int = 16 << 20 + 1024) -> WebSocketProtocolError? {
    do {
        _ = try decodeAll(bytes, role: role, lenient: lenient, maxPayload: maxPayload)
        return nil
    } catch {
        return error
    }
}

let hello: [UInt8] = Array("Hello".utf8)

@Suite struct WebSocketFrameDecoderTests {
    // RFC 6455 section 5.7 examples.

    @Test func singleFrameUnmaskedText() throws {
        var decoder = WebSocketFrameDecoder(role: .client)
        let result = try #require(try decoder.decode([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]))
        #expect(result.consumed == 7)
        #expect(result.frame == WebSocketFrame(fin: true, opcode: .text, payload: hello))
    }

    @Test func singleFrameMaskedText() throws {
        var decoder = WebSocketFrameDecoder(role: .server)
        let bytes: [UInt8] = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
        let result = try #require(try decoder.decode(bytes))
        #expect(result.consumed == 11)
        #expect(result.frame.maskKey == 0x37fa_213d)
        #expect(result.frame.payload == hello)
        #expect(result.frame.opcode == .text && result.frame.fin && result.frame.rsv == 0)
    }

    @Test func fragmentedUnmaskedText() throws {
        let frames = try decodeAll([0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f], role: .client)
        #expect(frames == [
            WebSocketFrame(fin: false, opcode: .text, payload: Array("Hel".utf8)),
            WebSocketFrame(fin: true, opcode: .continuation, payload: Array("lo".utf8)),
        ])
    }

    @Test func pingAndMaskedPong() throws {
        let ping = try decodeAll([0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f], role: .client)
        #expect(ping == [WebSocketFrame(opcode: .ping, payload: hello)])
        let pong = try decodeAll([0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58], role: .server)
        #expect(pong == [WebSocketFrame(opcode: .pong, maskKey: 0x37fa_213d, payload: hello)])
    }

    @Test func binary256UsesSixteenBitLength() throws {
        let payload = (0..<256).map { UInt8(truncatingIfNeeded: $0) }
        let frames = try decodeAll([0x82, 0x7E, 0x01, 0x00] + payload, role: .client)
        #expect(frames == [WebSocketFrame(opcode: .binary, payload: payload)])
    }

    @Test func binary64KiBUsesSixtyFourBitLength() throws {
        let payload = (0..<65536).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let header: [UInt8] = [0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00]
        var decoder = WebSocketFrameDecoder(role: .client)
        let result = try #require(try decoder.decode(header + payload))
        #expect(result.consumed == 10 + 65536)
        #expect(result.frame.payload == payload)
        // Incomplete payload: need more.
        #expect(try decoder.decode(header + payload.dropLast()) == nil)
    }

    @Test func everyPrefixNeedsMore() throws {
        let frame: [UInt8] = [0x82, 0xFE, 0x00, 0x80, 1, 2, 3, 4] + [UInt8](repeating: 9, count: 128)
        var decoder = WebSocketFrameDecoder(role: .server)
        for n in 0..<frame.count {
            #expect(try decoder.decode(Array(frame[..<n])) == nil, "prefix \(n)")
        }
        #expect(try decoder.decode(frame)?.consumed == frame.count)
    }

    @Test func trailingBytesAreNotConsumed() throws {
        var decoder = WebSocketFrameDecoder(role: .client)
        let result = try #require(try decoder.decode([0x81, 0x02, 0x68, 0x69, 0x81, 0x05, 0x48]))
        #expect(result.consumed == 4)
        #expect(result.frame.payload == Array("hi".utf8))
    }

    @Test(arguments: [WebSocketFrameDecoder.Role.server, .client])
    func byteByByteEqualsWhole(role: WebSocketFrameDecoder.Role) throws {
        var stream: [UInt8] = []
        var expected: [WebSocketFrame] = []
        var rng = FastRandom(seed: 42)
        let sizes = [0, 1, 5, 7, 8, 9, 125, 126, 127, 1000, 65535, 65536, 70000]
        for (i, size) in sizes.enumerated() {
            let payload = (0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let key: UInt32? = role == .server ? UInt32.random(in: 0...UInt32.max, using: &rng) : nil
            let opcode: WebSocketOpcode = i % 2 == 0 ? .binary : .text
            WebSocketFrameEncoder.encode(opcode: opcode, payload: payload, maskKey: key, into: &stream)
            expected.append(WebSocketFrame(opcode: opcode, maskKey: key, payload: payload))
            // A control frame between data frames.
            WebSocketFrameEncoder.encode(opcode: .ping, payload: Array(payload.prefix(125)), maskKey: key, into: &stream)
            expected.append(WebSocketFrame(opcode: .ping, maskKey: key, payload: Array(payload.prefix(125))))
        }
        let whole = try decodeAll(stream, role: role)
        #expect(whole == expected)
        // Byte by byte is quadratic in the pending buffer; limit to the first 20 KB of frames.
        let cut = 20_000
        var prefixEnd = 0
        var prefixFrames = 0
        var decoder = WebSocketFrameDecoder(role: role)
        while prefixEnd < cut, let (_, n) = try decoder.decode(Array(stream[prefixEnd...])) {
            prefixEnd += n
            prefixFrames += 1
        }
        let incremental = try decodeByteByByte(Array(stream[..<prefixEnd]), role: role)
        #expect(incremental == Array(expected.prefix(prefixFrames)))
        #expect(prefixFrames > 10)
    }

    @Test func decodeFromRawBufferPointer() throws {
        let bytes: [UInt8] = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
        var decoder = WebSocketFrameDecoder(role: .server)
        let result = try bytes.withUnsafeBytes { raw in try decoder.decode(raw) }
        #expect(result?.frame.payload == hello)
    }

    @Test func headerOnly() throws {
        let decoder = WebSocketFrameDecoder(role: .server)
        let bytes: [UInt8] = [0x02, 0xFF, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00, 0xAA, 0xBB, 0xCC, 0xDD]
        let header = try bytes.withUnsafeBytes { raw in try decoder.decodeHeader(raw) }
        #expect(header == WebSocketFrameHeader(fin: false, opcode: .binary, maskKey: 0xAABB_CCDD,
                                               payloadLength: 65536, headerLength: 14))
        let partial = try bytes.withUnsafeBytes { raw in try decoder.decodeHeader(UnsafeRawBufferPointer(rebasing: raw[..<13])) }
        #expect(partial == nil)
    }

    // MARK: Protocol errors

    @Test(arguments: [3, 4, 5, 6, 7, 11, 12, 13, 14, 15] as [UInt8])
    func reservedOpcode(opcode: UInt8) {
        let error = decodeError([0x80 | opcode, 0x00], role: .client)
        #expect(error?.closeCode == 1002)
        // Detected from the first byte alone.
        #expect(decodeError([0x80 | opcode], role: .client)?.closeCode == 1002)
    }

    @Test func controlFrameTooLong() {
        #expect(decodeError([0x89, 0x7E, 0x00, 0x7E] + [UInt8](repeating: 0, count: 126), role: .client)?.closeCode == 1002)
        #expect(decodeError([0x88, 0x7E], role: .client)?.closeCode == 1002)
        // 125 is fine.
        #expect(decodeError([0x89, 0x7D] + [UInt8](repeating: 0, count: 125), role: .client) == nil)
    }

    @Test(arguments: [0x08, 0x09, 0x0A] as [UInt8])
    func fragmentedControlFrame(byte0: UInt8) {
        #expect(decodeError([byte0, 0x00], role: .client)?.closeCode == 1002)
    }

    @Test func maskBitPerRole() {
        // Unmasked frame to a server.
        #expect(decodeError([0x81, 0x05] + hello, role: .server)?.closeCode == 1002)
        // Masked frame to a client.
        #expect(decodeError([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58], role: .client)?.closeCode == 1002)
    }

    @Test func lenientAcceptsEitherMask() throws {
        // The seed ws_echo.py echoes with the client's key: a masked server frame.
        let masked: [UInt8] = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
        let frames = try decodeAll(masked, role: .client, lenient: true)
        #expect(frames == [WebSocketFrame(opcode: .text, maskKey: 0x37fa_213d, payload: hello)])
        let unmasked = try decodeAll([0x81, 0x05] + hello, role: .server, lenient: true)
        #expect(unmasked == [WebSocketFrame(opcode: .text, payload: hello)])
    }

    @Test(arguments: [0x10, 0x20, 0x40, 0x70] as [UInt8])
    func reservedBits(bits: UInt8) throws {
        #expect(decodeError([0x81 | bits, 0x00], role: .client)?.closeCode == 1002)
        // Allowed when an extension negotiated them.
        var decoder = WebSocketFrameDecoder(role: .client)
        decoder.allowedReservedBits = 0x7
        let frame = try #require(try decoder.decode([0x81 | bits, 0x00])).frame
        #expect(frame.rsv == bits >> 4)
    }

    @Test func sixtyFourBitLengthWithHighBit() {
        let bytes: [UInt8] = [0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0x01]
        #expect(decodeError(bytes, role: .client)?.closeCode == 1002)
    }

    @Test func payloadTooBig() {
        #expect(decodeError([0x82, 0x7E, 0x01, 0x00], role: .client, maxPayload: 255)?.closeCode == 1009)
        #expect(decodeError([0x82, 0x7F, 0, 0, 0, 0, 0x02, 0, 0, 0], role: .client)?.closeCode == 1009)
        #expect(decodeError([0x82, 0x0A], role: .client, maxPayload: 9)?.closeCode == 1009)
        #expect(decodeError([0x82, 0x09] + [UInt8](repeating: 0, count: 9), role: .client, maxPayload: 9) == nil)
    }

    @Test func errorsAreTheSameByteByByte() {
        let cases: [[UInt8]] = [
            [0x83, 0x00],
            [0x09, 0x00],
            [0x89, 0x7E, 0x00, 0x7E],
            [0xC1, 0x00],
            [0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0],
            [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58],
        ]
        for bytes in cases {
            let whole = decodeError(bytes, role: .client)
            var incremental: WebSocketProtocolError? = nil
            do { _ = try decodeByteByByte(bytes, role: .client) } catch { incremental = error }
            #expect(whole != nil)
            #expect(whole == incremental, "\(bytes)")
        }
    }

    @Test func errorDescription() {
        let error = WebSocketProtocolError(closeCode: 1002, reason: "reserved opcode 3")
        #expect(error.description == "WebSocket protocol error 1002: reserved opcode 3")
    }
}
