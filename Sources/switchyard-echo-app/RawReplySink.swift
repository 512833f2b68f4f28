import SwitchyardOS
import SwitchyardWebSocket

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
