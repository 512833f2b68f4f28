/// One decoded (or to-be-encoded) WebSocket frame.
///
/// The payload is always stored unmasked; `maskKey` only records what was on the wire so that
/// tests can check whether a peer masked its frames (the seed `ws_echo.py` masks its replies).
public struct WebSocketFrame: Sendable, Equatable {
    public var fin: Bool
    /// The three RSV bits, right-aligned (RSV1 = 0b100). Always 0 unless an extension allowed them.
    public var rsv: UInt8
    public var opcode: WebSocketOpcode
    /// The masking key as received, big-endian (wire bytes 37 fa 21 3d -> 0x37fa213d); nil = unmasked.
    public var maskKey: UInt32?
    /// The application data, already unmasked.
    public var payload: [UInt8]

    public init(fin: Bool = true, rsv: UInt8 = 0, opcode: WebSocketOpcode, maskKey: UInt32? = nil, payload: [UInt8]) {
        self.fin = fin
        self.rsv = rsv
        self.opcode = opcode
        self.maskKey = maskKey
        self.payload = payload
    }
}
