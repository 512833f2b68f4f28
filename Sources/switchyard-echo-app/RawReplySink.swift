import SwitchyardOS
import SwitchyardWebSocket

extension EchoConnection {
    /// Echoes the complete WebSocket frames in `inBuffer` straight onto the socket (SCGI and HTTP:
    /// the connection carries the WebSocket stream itself) and consumes them; a partial frame
    /// stays. True when the WebSocket ended (a CLOSE was answered or the peer broke the protocol).
    func echoRawFrames() -> Bool {
        var sink = RawReplySink(out: outBuffer)
        let result = server.echo.process(
            UnsafeMutableRawBufferPointer(start: inBuffer.readPointer, count: inBuffer.readableBytes), into: &sink)
        inBuffer.consume(result.consumed)
        return result.ended
    }
}

/// Frames appended as they go on the wire (SCGI: the socket carries the WebSocket stream itself).
struct RawReplySink: WebSocketReplySink {
    let out: ByteBuffer

    mutating func sendFrame(fin: Bool, opcode: WebSocketOpcode, payload: UnsafeRawBufferPointer) {
        out.reserve(WebSocketReplyHeader.maxLength + payload.count)
        out.commit(WebSocketReplyHeader.write(fin: fin, opcode: opcode, length: payload.count, to: out.writePointer))
        if let source = payload.baseAddress, payload.count > 0 {
            out.writePointer.copyMemory(from: source, byteCount: payload.count)
            out.commit(payload.count)
        }
    }
}
