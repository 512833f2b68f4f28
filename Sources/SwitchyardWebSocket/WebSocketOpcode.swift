/// The 4-bit frame opcode of RFC 6455 section 5.2.
///
/// Only the six defined opcodes are representable, so a decoded frame can never carry a reserved
/// opcode: the decoder rejects those with close code 1002 before a frame value exists.
public enum WebSocketOpcode: UInt8, Sendable {
    case continuation = 0
    case text = 1
    case binary = 2
    case close = 8
    case ping = 9
    case pong = 10

    /// Control frames (close, ping, pong) may not be fragmented and carry at most 125 bytes.
    @inlinable
    public var isControl: Bool { rawValue & 0x8 != 0 }
}
