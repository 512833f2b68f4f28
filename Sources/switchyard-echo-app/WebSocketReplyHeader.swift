import SwitchyardWebSocket

/// The header of an unmasked (server-to-client) frame, written into caller memory.
enum WebSocketReplyHeader {
    /// 2 bytes + 8-byte extended length (no mask key).
    static let maxLength = 10

    /// Writes the header for a payload of `length` bytes; returns its size (2, 4 or 10).
    @inline(__always)
    static func write(fin: Bool, opcode: WebSocketOpcode, length: Int, to p: UnsafeMutableRawPointer) -> Int {
        p.storeBytes(of: (fin ? 0x80 : 0) | opcode.rawValue, as: UInt8.self)
        if length <= 125 {
            p.storeBytes(of: UInt8(truncatingIfNeeded: length), toByteOffset: 1, as: UInt8.self)
            return 2
        }
        if length <= 0xFFFF {
            p.storeBytes(of: 126, toByteOffset: 1, as: UInt8.self)
            p.storeBytes(of: UInt16(truncatingIfNeeded: length).bigEndian, toByteOffset: 2, as: UInt16.self)
            return 4
        }
        p.storeBytes(of: 127, toByteOffset: 1, as: UInt8.self)
        p.storeBytes(of: UInt64(length).bigEndian, toByteOffset: 2, as: UInt64.self)
        return 10
    }
}
