/// Sans-I/O RFC 6455 frame encoder that appends to a caller-owned buffer.
///
/// Appending into an `inout [UInt8]` lets the hot path reuse one output buffer for many frames
/// (clear it with `removeAll(keepingCapacity: true)`) and batch several frames into one write.
public enum WebSocketFrameEncoder {
    /// Largest header: 2 bytes + 8-byte length + 4-byte mask key.
    public static let maxHeaderLength = 14

    /// Appends one frame. With a `maskKey` (big-endian, as `WebSocketFrame.maskKey`) the mask bit is
    /// set and the payload is masked; clients must mask, servers must not.
    /// The caller is responsible for RFC rules on what it sends (control frames <= 125 bytes, unfragmented).
    @inlinable
    public static func encode(opcode: WebSocketOpcode, payload: UnsafeRawBufferPointer, fin: Bool = true,
                              maskKey: UInt32? = nil, into buffer: inout [UInt8]) {
        let count = payload.count
        let needed = buffer.count + maxHeaderLength + count
        if buffer.capacity < needed {
            // Grow geometrically: exact reservations would make a loop of small appends quadratic.
            buffer.reserveCapacity(Swift.max(needed, buffer.capacity * 2))
        }
        buffer.append((fin ? 0x80 : 0) | opcode.rawValue)
        let maskBit: UInt8 = maskKey == nil ? 0 : 0x80
        if count <= 125 {
            buffer.append(maskBit | UInt8(truncatingIfNeeded: count))
        } else if count <= 0xFFFF {
            buffer.append(maskBit | 126)
            buffer.append(UInt8(truncatingIfNeeded: count >> 8))
            buffer.append(UInt8(truncatingIfNeeded: count))
        } else {
            buffer.append(maskBit | 127)
            let length = UInt64(count)
            var shift: UInt64 = 56
            while true {
                buffer.append(UInt8(truncatingIfNeeded: length >> shift))
                if shift == 0 { break }
                shift -= 8
            }
        }
        if let key = maskKey {
            buffer.append(UInt8(truncatingIfNeeded: key >> 24))
            buffer.append(UInt8(truncatingIfNeeded: key >> 16))
            buffer.append(UInt8(truncatingIfNeeded: key >> 8))
            buffer.append(UInt8(truncatingIfNeeded: key))
        }
        guard count > 0 else { return }
        let start = buffer.count
        payload.withMemoryRebound(to: UInt8.self) { buffer.append(contentsOf: $0) }
        if let key = maskKey {
            buffer.withUnsafeMutableBytes { raw in
                let p = raw.baseAddress! + start
                WebSocketMasking.apply(key: key, phase: 0, from: UnsafeRawPointer(p), to: p, count: count)
            }
        }
    }

    /// Appends one frame; see the raw-buffer variant.
    @inlinable
    public static func encode(opcode: WebSocketOpcode, payload: [UInt8], fin: Bool = true,
                              maskKey: UInt32? = nil, into buffer: inout [UInt8]) {
        payload.withUnsafeBytes { encode(opcode: opcode, payload: $0, fin: fin, maskKey: maskKey, into: &buffer) }
    }

    /// Appends `frame` (its `fin`, `rsv`, `opcode`, `maskKey` and unmasked payload).
    public static func encode(_ frame: WebSocketFrame, into buffer: inout [UInt8]) {
        let start = buffer.count
        encode(opcode: frame.opcode, payload: frame.payload, fin: frame.fin, maskKey: frame.maskKey, into: &buffer)
        buffer[start] |= (frame.rsv & 0x7) << 4
    }

    /// A CLOSE payload: the code in network order followed by the UTF-8 reason, truncated (at a
    /// character boundary) so the payload fits the 125-byte control-frame limit.
    public static func closePayload(code: UInt16, reason: String) -> [UInt8] {
        var bytes: [UInt8] = [UInt8(truncatingIfNeeded: code >> 8), UInt8(truncatingIfNeeded: code)]
        var utf8 = Array(reason.utf8)
        if utf8.count > 123 {
            var end = 123
            while end > 0 && utf8[end] & 0xC0 == 0x80 { end -= 1 }   // do not split a scalar
            utf8.removeSubrange(end...)
        }
        bytes.append(contentsOf: utf8)
        return bytes
    }
}
