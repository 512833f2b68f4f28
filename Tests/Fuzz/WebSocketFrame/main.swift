// fuzz-websocket-frame: WebSocketFrameDecoder and WebSocketMessageAssembler.
// Input: [options: bit 0 = client role, bit 1 = lenient masking, bit 2 = RSV1 allowed (permessage-deflate
// negotiated: the assembler inflates), bit 3 = 200-byte payload limit, bit 4 = 300-byte message limit,
// bit 5 = no UTF-8 check, bit 6 = no close-code check, bit 7 = no context takeover]
// [frame stream].
// Checks per frame: consumed = header + payload length, within the input and the payload limit;
// payload length matches the header; every shorter prefix is "need more" or, for a frame that fails,
// the same error (errors are reported as soon as the offending byte is there); re-encoding the frame
// decodes to the same frame; WebSocketFrameBoundaryTracker ends the frame at the same byte. Frames
// then go through the assembler: messages respect the size limit, validated text and close reasons
// are UTF-8, close codes are valid when checked.
import FuzzSupport
import SwitchyardWebSocket

func decodeOne(_ decoder: inout WebSocketFrameDecoder, _ bytes: UnsafeRawBufferPointer)
    -> Result<(frame: WebSocketFrame, consumed: Int)?, WebSocketProtocolError> {
    do throws(WebSocketProtocolError) { return .success(try decoder.decode(bytes)) } catch { return .failure(error) }
}

func checkPrefixes(_ decoder: inout WebSocketFrameDecoder, _ rest: UnsafeRawBufferPointer, upTo length: Int,
                   failure: WebSocketProtocolError?) {
    // Headers are at most 14 bytes; past them a prefix can only be "need more".
    for k in Set([0, 1, 2, 3, 4, 5, 9, 10, 13, 14, length - 1]) where k >= 0 && k < length {
        switch decodeOne(&decoder, slice(rest, 0..<k)) {
        case .success(nil): break
        case .success(.some): fuzzCheck(false, "a \(k)-byte prefix decoded a frame")
        case .failure(let e): fuzzCheck(e == failure, "a \(k)-byte prefix failed with \(e), the whole with \(String(describing: failure))")
        }
    }
}

runFuzzer { data in
    var input = FuzzInput(data)
    let options = input.byte()
    var decoder = WebSocketFrameDecoder(role: options & 1 != 0 ? .client : .server,
                                        maxPayload: options & 8 != 0 ? 200 : 1 << 20, lenient: options & 2 != 0)
    decoder.allowedReservedBits = options & 4 != 0 ? 0b100 : 0
    var assembler = WebSocketMessageAssembler(maxMessageSize: options & 16 != 0 ? 300 : 1 << 20,
                                              validateUTF8: options & 32 == 0, validateCloseCodes: options & 64 == 0)
    // RSV1 allowed = permessage-deflate negotiated: compressed messages are inflated (bit 7: no context takeover).
    if options & 4 != 0 {
        assembler.compression = try? PerMessageDeflateCodec(parameters: .init(clientNoContextTakeover: options & 128 != 0))
    }
    let stream = input.rest
    var offset = 0
    var tracker = WebSocketFrameBoundaryTracker()
    while offset < stream.count {
        let rest = slice(stream, offset..<stream.count)
        switch decodeOne(&decoder, rest) {
        case .failure(let error):
            fuzzCheck([1002, 1009].contains(error.closeCode), "close code \(error.closeCode) from the frame decoder")
            checkPrefixes(&decoder, rest, upTo: rest.count, failure: error)
            return
        case .success(nil):
            checkPrefixes(&decoder, rest, upTo: rest.count, failure: nil)
            return
        case .success(let (frame, consumed)?):
            guard let header = try? decoder.decodeHeader(rest) else {
                fuzzCheck(false, "decode succeeded but decodeHeader did not")
                return
            }
            fuzzCheck(consumed == header.frameLength && consumed <= rest.count, "consumed \(consumed), frame \(header.frameLength)")
            fuzzCheck(frame.payload.count == header.payloadLength && header.payloadLength <= decoder.maxPayload,
                      "payload \(frame.payload.count) bytes, header says \(header.payloadLength)")
            fuzzCheck(!frame.opcode.isControl || (frame.fin && frame.payload.count <= 125), "invalid control frame accepted")
            checkPrefixes(&decoder, rest, upTo: consumed, failure: nil)
            var encoded: [UInt8] = []
            WebSocketFrameEncoder.encode(frame, into: &encoded)
            let again = encoded.withUnsafeBytes { decodeOne(&decoder, $0) }
            if case .success(let (copy, used)?) = again {
                fuzzCheck(copy == frame && used == encoded.count, "re-encoded frame decodes differently")
            } else {
                fuzzCheck(false, "re-encoded frame does not decode: \(again)")
            }
            // The relay-side tracker must find the same frame end without decoding anything.
            fuzzCheck(tracker.advance(slice(rest, 0..<consumed)) == consumed && tracker.isAtBoundary,
                      "boundary tracker disagrees with the decoder on a \(consumed)-byte frame")
            offset += consumed
            do throws(WebSocketProtocolError) {
                guard let message = try assembler.push(frame) else { continue }
                checkMessage(message, assembler)
            } catch {
                fuzzCheck([1002, 1007, 1009].contains(error.closeCode), "close code \(error.closeCode) from the assembler")
                return
            }
        }
    }
}

func checkMessage(_ message: WebSocketMessage, _ assembler: WebSocketMessageAssembler) {
    switch message {
    case .text(let bytes):
        fuzzCheck(bytes.count <= assembler.maxMessageSize, "text message over the limit")
        if assembler.validateUTF8 { fuzzCheck(String(validating: bytes, as: UTF8.self) != nil, "invalid UTF-8 text accepted") }
    case .binary(let bytes):
        fuzzCheck(bytes.count <= assembler.maxMessageSize, "binary message over the limit")
    case .close(let code, let reason):
        if assembler.validateCloseCodes, let code { fuzzCheck(WebSocketMessageAssembler.isValidCloseCode(code), "close code \(code)") }
        if assembler.validateUTF8 { fuzzCheck(String(validating: reason, as: UTF8.self) != nil, "invalid UTF-8 close reason") }
    case .ping(let bytes), .pong(let bytes):
        fuzzCheck(bytes.count <= 125, "control payload over 125 bytes")
    }
}
