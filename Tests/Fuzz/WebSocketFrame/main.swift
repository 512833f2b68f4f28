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
// are UTF-8, close codes are valid when checked. WebSocketPongFilter over the raw stream (any bytes):
// whole input and byte-by-byte agree, and the output is the input with at most one PONG frame
// carrying the token taken out (`checkPongFilter`).
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
    checkPongFilter(stream)
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

/// The relay's PONG filter on hostile bytes: never loses, adds or reorders a byte; takes out at most
/// one frame, and only a FIN PONG whose payload is the token; feeding byte by byte changes nothing.
func checkPongFilter(_ stream: UnsafeRawBufferPointer) {
    let token: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 1]
    func run(_ step: Int) -> (out: [UInt8], matched: Bool) {
        var filter = WebSocketPongFilter()
        var out: [UInt8] = []
        var matched = false
        var i = 0
        while i < stream.count {
            let end = min(i + step, stream.count)
            if filter.filter(slice(stream, i..<end), token: matched ? nil : token, emit: { out.append(contentsOf: $0) }) {
                fuzzCheck(!matched, "a second PONG taken out")
                matched = true
            }
            i = end
        }
        filter.finish { out.append(contentsOf: $0) }
        return (out, matched)
    }
    let whole = run(max(stream.count, 1)), single = run(1)
    fuzzCheck(whole.out == single.out && whole.matched == single.matched, "whole input and byte-by-byte disagree")
    let input = Array(stream)
    guard whole.matched else {
        fuzzCheck(whole.out == input, "bytes changed though no PONG was taken out")
        return
    }
    let removed = input.count - whole.out.count
    fuzzCheck(removed >= 2 + token.count && removed <= WebSocketPongFilter.maxHeldBytes, "took out \(removed) bytes")
    var p = 0
    while p < whole.out.count && whole.out[p] == input[p] { p += 1 }
    // The frame taken out starts at or before the first difference (after it when bytes repeat).
    let found = (max(0, p - removed)...p).contains { q in
        Array(input[..<q]) + Array(input[(q + removed)...]) == whole.out && isTokenPong(Array(input[q..<(q + removed)]), token)
    }
    fuzzCheck(found, "what was taken out is not one PONG frame carrying the token")
}

func isTokenPong(_ frame: [UInt8], _ token: [UInt8]) -> Bool {
    guard frame.count >= 2, frame[0] == 0x8A, Int(frame[1] & 0x7F) == token.count else { return false }
    let masked = frame[1] & 0x80 != 0
    let start = masked ? 6 : 2
    guard frame.count == start + token.count else { return false }
    return token.indices.allSatisfy { frame[start + $0] ^ (masked ? frame[2 + $0 % 4] : 0) == token[$0] }
}
