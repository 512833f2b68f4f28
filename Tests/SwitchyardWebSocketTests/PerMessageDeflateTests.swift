import Testing
@testable import SwitchyardWebSocket

@Suite struct PerMessageDeflateNegotiationTests {
    func offers(_ s: String...) -> [PerMessageDeflateParameters?] { PerMessageDeflateNegotiation.offers(s) }

    @Test func parsesOffersAndSkipsOtherExtensions() {
        let o = offers("x-webkit-deflate-frame, permessage-deflate; client_max_window_bits; server_max_window_bits=10",
                       "permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=\"9\"")
        #expect(o.count == 2)
        #expect(o[0] == PerMessageDeflateParameters(serverMaxWindowBits: 10, clientMaxWindowBits: .some(nil)))
        #expect(o[1] == PerMessageDeflateParameters(serverNoContextTakeover: true, clientNoContextTakeover: true,
                                                    clientMaxWindowBits: .some(9)))
    }

    @Test(arguments: [
        "permessage-deflate; server_max_window_bits",            // value required
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=010",
        "permessage-deflate; client_max_window_bits=abc",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
        "permessage-deflate; unknown_param",
        "permessage-deflate; a=b=c",
    ])
    func malformedOrDuplicateParametersDeclineTheOffer(_ header: String) {
        #expect(offers(header) == [nil])
        #expect(PerMessageDeflateNegotiation.accept(offers: offers(header), config: .init()) == nil)
    }

    @Test func serverChoosesFirstAcceptableOffer() throws {
        let config = PerMessageDeflateConfig(serverMaxWindowBits: 12, clientMaxWindowBits: 11)
        // First offer malformed, second insists on an 8-bit server window, third lacks client_max_window_bits
        // (so the client's window cannot be bounded), fourth is acceptable.
        let o = offers("permessage-deflate; bogus, permessage-deflate; server_max_window_bits=8; client_max_window_bits, "
                       + "permessage-deflate, permessage-deflate; client_max_window_bits; server_no_context_takeover")
        let r = try #require(PerMessageDeflateNegotiation.accept(offers: o, config: config))
        #expect(r == PerMessageDeflateParameters(serverNoContextTakeover: true, serverMaxWindowBits: 12, clientMaxWindowBits: .some(11)))
        #expect(r.headerValue == "permessage-deflate; server_no_context_takeover; server_max_window_bits=12; client_max_window_bits=11")
        let plain = try #require(PerMessageDeflateNegotiation.accept(offers: offers("permessage-deflate"), config: .init()))
        #expect(plain.headerValue == "permessage-deflate")
        let smaller = try #require(PerMessageDeflateNegotiation.accept(offers: offers("permessage-deflate; server_max_window_bits=10"), config: .init()))
        #expect(smaller.serverMaxWindowBits == 10)
    }
}

@Suite struct PerMessageDeflateCodecTests {
    /// The RFC 7692 7.2.3.1 example: "Hello" compressed is f2 48 cd c9 c9 07 00.
    @Test func rfcExampleBothWays() throws {
        let codec = try PerMessageDeflateCodec(parameters: .init())
        #expect(try codec.decompress([0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00], limit: 100) == Array("Hello".utf8))
        let compressed = try codec.compress(Array("Hello".utf8))
        #expect(compressed == [0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00])
    }

    @Test func contextTakeoverMakesTheSecondMessageSmaller() throws {
        let message = Array(String(repeating: "switchyard permessage-deflate ", count: 20).utf8)
        let keep = try PerMessageDeflateCodec(parameters: .init())
        let first = try keep.compress(message), second = try keep.compress(message)
        #expect(second.count < first.count)
        let reset = try PerMessageDeflateCodec(parameters: .init(serverNoContextTakeover: true))
        let a = try reset.compress(message), b = try reset.compress(message)
        #expect(a == b)
        // A peer decoder with context takes both in order.
        let peer = try PerMessageDeflateCodec(parameters: .init())
        #expect(try peer.decompress(first, limit: 1 << 20) == message)
        #expect(try peer.decompress(second, limit: 1 << 20) == message)
    }

    @Test func fragmentedCompressedMessageAndEmptyMessage() throws {
        let sender = try PerMessageDeflateCodec(parameters: .init())
        let message = (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let compressed = try sender.compress(message)
        let receiver = try PerMessageDeflateCodec(parameters: .init())
        var out: [UInt8] = []
        var i = 0
        while i < compressed.count {
            let end = min(i + 13, compressed.count)
            try receiver.decompress(Array(compressed[i..<end]), isFinal: end == compressed.count, limit: 1 << 20, into: &out)
            i = end
        }
        #expect(out == message)
        #expect(try receiver.decompress(try sender.compress([]), limit: 10) == [])
    }

    @Test func decompressionBombIsRefusedWith1009() throws {
        let sender = try PerMessageDeflateCodec(parameters: .init())
        let bomb = try sender.compress([UInt8](repeating: 0, count: 4 << 20))
        #expect(bomb.count < 8192)
        let receiver = try PerMessageDeflateCodec(parameters: .init())
        #expect(throws: WebSocketProtocolError.tooBig("inflated message exceeds 65536 bytes")) {
            _ = try receiver.decompress(bomb, limit: 65536)
        }
    }

    @Test func corruptDataIs1007() throws {
        let receiver = try PerMessageDeflateCodec(parameters: .init())
        #expect { _ = try receiver.decompress([0xFF, 0xFF, 0xFF, 0xFF], limit: 100) } throws: { error in
            (error as? WebSocketProtocolError)?.closeCode == 1007
        }
    }
}

/// The codec against a real peer: Python's zlib (the library behind the `websockets` package's
/// permessage-deflate), raw deflate with a sync flush and the 00 00 FF FF tail removed (RFC 7692 7.2.1).
@Suite struct PerMessageDeflateInteropTests {
    let message: [UInt8] = Array((String(repeating: "interop with python zlib ", count: 200) + "é ☃ end").utf8)

    @Test func inflatesWhatPythonCompresses() throws {
        let compressed = try PythonPeer.run("""
        import sys, zlib
        data = sys.stdin.buffer.read()
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
        out = b""
        for _ in range(2):  # two messages with context takeover
            m = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
            assert m.endswith(b"\\x00\\x00\\xff\\xff")
            out += len(m[:-4]).to_bytes(4, "big") + m[:-4]
        sys.stdout.buffer.write(out)
        """, input: message)
        var offset = 0
        let codec = try PerMessageDeflateCodec(parameters: .init())
        var messages = 0
        while offset + 4 <= compressed.count {
            let length = compressed[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
            let payload = Array(compressed[(offset + 4)..<(offset + 4 + length)])
            #expect(try codec.decompress(payload, limit: 1 << 20) == message)
            offset += 4 + length
            messages += 1
        }
        #expect(messages == 2)
    }

    @Test func pythonInflatesWhatWeCompress() throws {
        let codec = try PerMessageDeflateCodec(parameters: .init(), config: PerMessageDeflateConfig(serverMaxWindowBits: 10))
        let first = try codec.compress(message), second = try codec.compress(message)
        #expect(second.count < first.count, "context takeover")
        var framed: [UInt8] = []
        for m in [first, second] { framed += [UInt8(m.count >> 24), UInt8(m.count >> 16 & 0xFF), UInt8(m.count >> 8 & 0xFF), UInt8(m.count & 0xFF)] + m }
        let echoed = try PythonPeer.run("""
        import sys, zlib
        data = sys.stdin.buffer.read()
        d = zlib.decompressobj(-10)  # the peer's window is what server_max_window_bits=10 allows
        i = 0
        while i < len(data):
            n = int.from_bytes(data[i:i+4], "big")
            sys.stdout.buffer.write(d.decompress(data[i+4:i+4+n] + b"\\x00\\x00\\xff\\xff"))
            i += 4 + n
        """, input: framed)
        #expect(echoed == message + message)
    }
}
