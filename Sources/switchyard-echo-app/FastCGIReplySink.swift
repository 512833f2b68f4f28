import SwitchyardOS
import SwitchyardGatewayCodecs
import SwitchyardWebSocket

/// Frames appended as FCGI_STDOUT content of one request: the frame header and payload share
/// records (at most 65535 content bytes each), no intermediate copy.
struct FastCGIReplySink: WebSocketReplySink {
    let out: ByteBuffer
    let requestId: UInt16

    mutating func sendFrame(fin: Bool, opcode: WebSocketOpcode, payload: UnsafeRawBufferPointer) {
        withUnsafeTemporaryAllocation(byteCount: WebSocketReplyHeader.maxLength, alignment: 8) { scratch in
            let n = WebSocketReplyHeader.write(fin: fin, opcode: opcode, length: payload.count, to: scratch.baseAddress!)
            let head = UnsafeRawBufferPointer(start: scratch.baseAddress, count: n)
            out.append(writing: FastCGIRecordEncoder.streamLength(contentLength: n + payload.count)) {
                FastCGIRecordEncoder.stream(.stdout, requestId: requestId, head: head, body: payload, into: $0)
            }
        }
    }
}
