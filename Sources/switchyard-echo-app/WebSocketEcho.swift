import SwitchyardWebSocket

/// The echo logic of `cgi-bin/ws_echo_fast.c` as a sans-I/O step over buffered bytes.
///
/// Every complete frame at the start of the input is handled in order: its payload is unmasked
/// in place and a reply handed to the sink (data and continuation frames echoed unmasked with the
/// same FIN/opcode, PING -> PONG with the same payload, PONG ignored, CLOSE -> CLOSE echoing the
/// code, then the stream ends). Text payloads are not validated. A protocol error (unmasked frame,
/// reserved opcode or RSV bits, bad control frame, payload over 16 MiB) is answered with a CLOSE
/// carrying the decoder's code (1002/1009) and ends the stream. Nothing is allocated unless a
/// CLOSE for an error is built.
struct WebSocketEcho: Sendable {
    let decoder = WebSocketFrameDecoder(role: .server)

    /// What `process` did with the input.
    struct Result {
        /// Bytes of complete frames handled; the rest (a partial frame) must be kept for later.
        var consumed: Int
        /// A CLOSE was answered (or a protocol error reported): send nothing more, end the stream.
        var ended: Bool
    }

    func process<Sink: WebSocketReplySink>(_ input: UnsafeMutableRawBufferPointer, into sink: inout Sink) -> Result {
        guard let base = input.baseAddress else { return Result(consumed: 0, ended: false) }
        let count = input.count
        var offset = 0
        while offset < count {
            let rest = UnsafeRawBufferPointer(start: base + offset, count: count - offset)
            let parsed: WebSocketFrameHeader?
            do {
                parsed = try decoder.decodeHeader(rest)
            } catch {
                let payload = WebSocketFrameEncoder.closePayload(code: error.closeCode, reason: error.reason)
                payload.withUnsafeBytes { sink.sendFrame(fin: true, opcode: .close, payload: $0) }
                return Result(consumed: count, ended: true)
            }
            guard let header = parsed, rest.count >= header.frameLength else { break }
            let payloadStart = base + offset + header.headerLength
            let length = header.payloadLength
            if let key = header.maskKey {
                WebSocketMasking.apply(key: key, phase: 0, from: UnsafeRawPointer(payloadStart), to: payloadStart, count: length)
            }
            offset += header.frameLength
            let payload = UnsafeRawBufferPointer(start: payloadStart, count: length)
            switch header.opcode {
            case .close:
                if length == 1 {
                    let bad = WebSocketFrameEncoder.closePayload(code: 1002, reason: "bad close payload")
                    bad.withUnsafeBytes { sink.sendFrame(fin: true, opcode: .close, payload: $0) }
                } else {
                    sink.sendFrame(fin: true, opcode: .close,
                                   payload: UnsafeRawBufferPointer(start: payloadStart, count: min(length, 2)))
                }
                return Result(consumed: count, ended: true)
            case .ping:
                sink.sendFrame(fin: true, opcode: .pong, payload: payload)
            case .pong:
                break
            case .text, .binary, .continuation:
                sink.sendFrame(fin: header.fin, opcode: header.opcode, payload: payload)
            }
        }
        return Result(consumed: offset, ended: false)
    }
}
