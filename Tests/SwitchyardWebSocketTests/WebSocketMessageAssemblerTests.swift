import Testing
@testable import SwitchyardWebSocket

@Suite struct WebSocketMessageAssemblerTests {
    func push(_ a: inout WebSocketMessageAssembler, _ frames: [WebSocketFrame]) throws(WebSocketProtocolError) -> [WebSocketMessage] {
        var out: [WebSocketMessage] = []
        for f in frames { if let m = try a.push(f) { out.append(m) } }
        return out
    }

    func error(_ frames: [WebSocketFrame], _ assembler: WebSocketMessageAssembler = .init()) -> UInt16? {
        var a = assembler
        do { _ = try push(&a, frames); return nil } catch { return error.closeCode }
    }

    @Test func reassemblesWithControlFramesInBetween() throws {
        var a = WebSocketMessageAssembler()
        let messages = try push(&a, [
            WebSocketFrame(fin: false, opcode: .text, payload: Array("Hel".utf8)),
            WebSocketFrame(opcode: .ping, payload: [1]),
            WebSocketFrame(fin: false, opcode: .continuation, payload: []),
            WebSocketFrame(opcode: .continuation, payload: Array("lo".utf8)),
            WebSocketFrame(opcode: .binary, payload: [0xFF]),
            WebSocketFrame(opcode: .pong, payload: []),
            WebSocketFrame(opcode: .close, payload: [0x03, 0xE8, 0x62]),
        ])
        #expect(messages == [.ping([1]), .text(hello), .binary([0xFF]), .pong([]), .close(code: 1000, reason: [0x62])])
        #expect(!a.isAssembling)
    }

    @Test func sequenceErrors() {
        #expect(error([WebSocketFrame(opcode: .continuation, payload: [])]) == 1002)
        #expect(error([WebSocketFrame(fin: false, opcode: .text, payload: []), WebSocketFrame(opcode: .binary, payload: [])]) == 1002)
        #expect(error([WebSocketFrame(fin: false, opcode: .binary, payload: [1, 2]), WebSocketFrame(opcode: .continuation, payload: [3])],
                      WebSocketMessageAssembler(maxMessageSize: 2)) == 1009)
    }

    @Test func utf8Checks() {
        #expect(error([WebSocketFrame(opcode: .text, payload: [0xC3])]) == 1007)
        // Split scalar across fragments is fine.
        #expect(error([WebSocketFrame(fin: false, opcode: .text, payload: [0xC3]), WebSocketFrame(opcode: .continuation, payload: [0xA9])]) == nil)
        #expect(error([WebSocketFrame(opcode: .text, payload: [0xC3])], WebSocketMessageAssembler(validateUTF8: false)) == nil)
        #expect(error([WebSocketFrame(opcode: .close, payload: [0x03, 0xE8, 0xFF])]) == 1007)
    }

    @Test func closeCodes() throws {
        #expect(error([WebSocketFrame(opcode: .close, payload: [0x03])]) == 1002)
        for bad: UInt16 in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 12592] {
            #expect(error([WebSocketFrame(opcode: .close, payload: [UInt8(bad >> 8), UInt8(bad & 0xFF)])]) == 1002, "\(bad)")
        }
        for good: UInt16 in [1000, 1001, 1002, 1003, 1007, 1011, 3000, 4999] {
            #expect(error([WebSocketFrame(opcode: .close, payload: [UInt8(good >> 8), UInt8(good & 0xFF)])]) == nil, "\(good)")
        }
        // The seed ws_echo.py CLOSE: ASCII "1000" = code 12592, reason "00"; accepted when lenient.
        var lenient = WebSocketMessageAssembler(validateCloseCodes: false)
        #expect(try lenient.push(WebSocketFrame(opcode: .close, payload: Array("1000".utf8))) == .close(code: 12592, reason: Array("00".utf8)))
        #expect(try lenient.push(WebSocketFrame(opcode: .close, payload: [])) == .close(code: nil, reason: []))
    }

    /// Found by fuzz-websocket-frame: with close codes unchecked, a one-byte CLOSE payload became the
    /// reason without the UTF-8 check that `validateUTF8` promises for close reasons.
    @Test func oneByteCloseReasonIsUTF8Checked() throws {
        #expect(error([WebSocketFrame(opcode: .close, payload: [0xC4])], WebSocketMessageAssembler(validateCloseCodes: false)) == 1007)
        var lenient = WebSocketMessageAssembler(validateCloseCodes: false)
        #expect(try lenient.push(WebSocketFrame(opcode: .close, payload: [0x41])) == .close(code: nil, reason: [0x41]))
        var unchecked = WebSocketMessageAssembler(validateUTF8: false, validateCloseCodes: false)
        #expect(try unchecked.push(WebSocketFrame(opcode: .close, payload: [0xC4])) == .close(code: nil, reason: [0xC4]))
    }

    @Test func utf8Validator() {
        let valid: [[UInt8]] = [[], Array("héllo ☃ 𝄞".utf8), [0x7F], [0xEF, 0xBF, 0xBF], [0xF4, 0x8F, 0xBF, 0xBF],
                                Array(String(repeating: "abcdefgh", count: 5).utf8) + [0xC3, 0xA9]]
        let invalid: [[UInt8]] = [[0x80], [0xC0, 0x80], [0xC1, 0xBF], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80],
                                  [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xE2, 0x98], [0xFF],
                                  Array("abcdefghijk".utf8) + [0xCE, 0xBA, 0xE1]]
        for v in valid { #expect(UTF8Validation.isValid(v), "\(v)") }
        for v in invalid { #expect(!UTF8Validation.isValid(v), "\(v)") }
    }
}

@Suite struct WebSocketMessageAssemblerServerRulesTests {
    func error(_ frames: [WebSocketFrame], _ assembler: WebSocketMessageAssembler = .init()) -> UInt16? {
        var a = assembler
        do { for f in frames { _ = try a.push(f) }; return nil } catch { return error.closeCode }
    }

    @Test func invalidUTF8FailsAtTheFirstBadFragment() throws {
        var a = WebSocketMessageAssembler()
        #expect(try a.push(WebSocketFrame(fin: false, opcode: .text, payload: Array("ok".utf8))) == nil)
        #expect(throws: WebSocketProtocolError.self) { try a.push(WebSocketFrame(fin: false, opcode: .continuation, payload: [0xED, 0xA0])) }
        // Truncated code point at the end of the message.
        #expect(error([WebSocketFrame(fin: false, opcode: .text, payload: [0xE2, 0x82]), WebSocketFrame(opcode: .continuation, payload: [])]) == 1007)
        #expect(error([WebSocketFrame(fin: false, opcode: .text, payload: [0xE2, 0x82]), WebSocketFrame(opcode: .continuation, payload: [0xAC])]) == nil)
    }

    @Test func rsvBitsAndControlFrameRules() throws {
        #expect(error([WebSocketFrame(rsv: 0b100, opcode: .text, payload: [])]) == 1002)
        #expect(error([WebSocketFrame(rsv: 0b010, opcode: .binary, payload: [])]) == 1002)
        #expect(error([WebSocketFrame(rsv: 0b100, opcode: .ping, payload: [])]) == 1002)
        #expect(error([WebSocketFrame(fin: false, opcode: .ping, payload: [])]) == 1002)
        #expect(error([WebSocketFrame(opcode: .pong, payload: [UInt8](repeating: 0, count: 126))]) == 1002)
        let deflating = WebSocketMessageAssembler(compression: try PerMessageDeflateCodec(parameters: .init()))
        #expect(error([WebSocketFrame(rsv: 0b010, opcode: .text, payload: [])], deflating) == 1002)
        #expect(error([WebSocketFrame(fin: false, opcode: .text, payload: [0x61]),
                       WebSocketFrame(rsv: 0b100, opcode: .continuation, payload: [])], deflating) == 1002)
    }

    @Test func compressedMessagesAreInflatedAndBounded() throws {
        let sender = try PerMessageDeflateCodec(parameters: .init())
        let text = Array(String(repeating: "héllo ", count: 100).utf8)
        let compressed = try sender.compress(text)
        var a = WebSocketMessageAssembler(maxMessageSize: 1 << 16, compression: try PerMessageDeflateCodec(parameters: .init()))
        let half = compressed.count / 2
        #expect(try a.push(WebSocketFrame(fin: false, rsv: 0b100, opcode: .text, payload: Array(compressed[..<half]))) == nil)
        let ping = try a.push(WebSocketFrame(opcode: .ping, payload: [7]))
        #expect(ping == .ping([7]))
        #expect(try a.push(WebSocketFrame(opcode: .continuation, payload: Array(compressed[half...]))) == .text(text))
        #expect(try a.push(WebSocketFrame(opcode: .binary, payload: [1, 2])) == .binary([1, 2]), "uncompressed message after a compressed one")
        let bomb = try sender.compress([UInt8](repeating: 0x41, count: 1 << 20))
        var small = WebSocketMessageAssembler(maxMessageSize: 4096, compression: try PerMessageDeflateCodec(parameters: .init()))
        #expect(throws: WebSocketProtocolError.tooBig("inflated message exceeds 4096 bytes")) {
            _ = try small.push(WebSocketFrame(rsv: 0b100, opcode: .binary, payload: bomb))
        }
        let badText = try sender.compress([0x61, 0xFF])
        #expect(error([WebSocketFrame(rsv: 0b100, opcode: .text, payload: badText)],
                      WebSocketMessageAssembler(compression: try PerMessageDeflateCodec(parameters: .init()))) == 1007)
    }
}

@Suite struct UTF8StreamValidatorTests {
    /// Every split point of valid and invalid sequences agrees with the one-shot validator.
    @Test func agreesWithOneShotValidationAtEverySplit() {
        let samples: [[UInt8]] = [
            Array("héllo ☃ 𝄞 plain ascii text!".utf8), [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80],
            [0xE0, 0x9F, 0x80], [0xF0, 0x8F, 0x80, 0x80], [0xE2, 0x82], [0x80], [0xF8], Array("abcdefghijk".utf8) + [0xFF],
        ]
        for sample in samples {
            let expected = UTF8Validation.isValid(sample)
            for split in 0...sample.count {
                var v = UTF8StreamValidator()
                let ok = v.feed(Array(sample[..<split])) && v.feed(Array(sample[split...])) && v.isAtBoundary
                #expect(ok == expected, "\(sample) split at \(split)")
            }
        }
    }
}
