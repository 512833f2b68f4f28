/// The fixed part of a frame: everything before the payload.
///
/// Exposed separately from `WebSocketFrame` so a relay or a benchmark can learn a frame's size and
/// mask without copying its payload (then skip it, or unmask it in place with `WebSocketMasking`).
public struct WebSocketFrameHeader: Sendable, Equatable {
    public var fin: Bool
    public var rsv: UInt8
    public var opcode: WebSocketOpcode
    /// Big-endian masking key as on the wire; nil when the mask bit is clear.
    public var maskKey: UInt32?
    /// Payload length in bytes.
    public var payloadLength: Int
    /// Bytes taken by the header itself (2 to 14).
    public var headerLength: Int

    public init(fin: Bool, rsv: UInt8 = 0, opcode: WebSocketOpcode, maskKey: UInt32?, payloadLength: Int, headerLength: Int) {
        self.fin = fin
        self.rsv = rsv
        self.opcode = opcode
        self.maskKey = maskKey
        self.payloadLength = payloadLength
        self.headerLength = headerLength
    }

    /// Header plus payload.
    @inlinable
    public var frameLength: Int { headerLength + payloadLength }
}
