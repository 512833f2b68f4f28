import SwitchyardOS
import SwitchyardWebSocket

/// Appends masked client frames straight into a connection's output `ByteBuffer`: the header is
/// written in place and the payload is masked while it is copied from the pattern, one pass and
/// no allocation (`WebSocketFrameEncoder` appends to an `[UInt8]` and masks in a second pass).
public enum ClientFrameWriter {
    @inline(__always)
    public static func append(opcode: WebSocketOpcode, payload: UnsafeRawPointer?, count: Int, maskKey: UInt32,
                       to buffer: ByteBuffer) {
        buffer.reserve(WebSocketFrameEncoder.maxHeaderLength + count)
        let p = buffer.writePointer
        p.storeBytes(of: 0x80 | opcode.rawValue, toByteOffset: 0, as: UInt8.self)
        var h: Int
        if count <= 125 {
            p.storeBytes(of: 0x80 | UInt8(truncatingIfNeeded: count), toByteOffset: 1, as: UInt8.self)
            h = 2
        } else if count <= 0xFFFF {
            p.storeBytes(of: 0x80 | 126, toByteOffset: 1, as: UInt8.self)
            p.storeBytes(of: UInt16(truncatingIfNeeded: count).bigEndian, toByteOffset: 2, as: UInt16.self)
            h = 4
        } else {
            p.storeBytes(of: 0x80 | 127, toByteOffset: 1, as: UInt8.self)
            p.storeBytes(of: UInt64(count).bigEndian, toByteOffset: 2, as: UInt64.self)
            h = 10
        }
        p.storeBytes(of: maskKey.bigEndian, toByteOffset: h, as: UInt32.self)
        h += 4
        if count > 0, let payload {
            WebSocketMasking.apply(key: maskKey, phase: 0, from: payload, to: p + h, count: count)
        }
        buffer.commit(h + count)
    }
}
