/// Sans-I/O reassembly of frames into messages, with the RFC 6455 checks that span frames.
///
/// Kept apart from the frame decoder so a relay that forwards frames unchanged pays nothing for
/// it, while endpoints (the tunnel, the test client) get fragment sequencing, RSV bits, message
/// size, UTF-8 and close payload checks in one place. Text is validated fragment by fragment
/// (a message fails with 1007 at its first invalid fragment, not after the last one). With a
/// negotiated permessage-deflate `compression`, RSV1 marks a compressed message on its first
/// frame; fragments are inflated as they arrive and the inflated size is what `maxMessageSize`
/// bounds (1009), so a decompression bomb stops at the limit.
public struct WebSocketMessageAssembler: Sendable {
    /// Largest reassembled data message; larger fails with 1009.
    public var maxMessageSize: Int
    /// Reject text messages and close reasons that are not UTF-8 (1007).
    public var validateUTF8: Bool
    /// Reject close payloads of one byte and close codes RFC 6455 7.4 forbids on the wire (1002).
    /// Off for the seed `ws_echo.py`, whose CLOSE payload "1000" reads as code 12592.
    public var validateCloseCodes: Bool
    /// The connection's permessage-deflate state when the extension was negotiated.
    public var compression: PerMessageDeflateCodec?

    private var kind: WebSocketOpcode? = nil
    private var compressed = false
    private var buffer: [UInt8] = []
    private var received = 0
    private var utf8 = UTF8StreamValidator()

    public init(maxMessageSize: Int = 64 << 20, validateUTF8: Bool = true, validateCloseCodes: Bool = true,
                compression: PerMessageDeflateCodec? = nil) {
        self.maxMessageSize = maxMessageSize
        self.validateUTF8 = validateUTF8
        self.validateCloseCodes = validateCloseCodes
        self.compression = compression
    }

    /// True while a fragmented message is incomplete.
    public var isAssembling: Bool { kind != nil }

    /// Feeds one frame; returns a message when one is complete. Control frames are returned at once,
    /// even in the middle of a fragmented message.
    public mutating func push(_ frame: WebSocketFrame) throws(WebSocketProtocolError) -> WebSocketMessage? {
        if frame.opcode.isControl {
            if frame.rsv != 0 { throw .protocolError("RSV bits set on a control frame") }
            if !frame.fin || frame.payload.count > 125 { throw .protocolError("control frame fragmented or longer than 125 bytes") }
        }
        switch frame.opcode {
        case .ping: return .ping(frame.payload)
        case .pong: return .pong(frame.payload)
        case .close: return try Self.closeMessage(frame.payload, validateCodes: validateCloseCodes, validateUTF8: validateUTF8)
        case .text, .binary:
            if kind != nil { throw .protocolError("new data frame while a fragmented message is incomplete") }
            let allowed: UInt8 = compression != nil ? 0b100 : 0
            if frame.rsv & ~allowed != 0 { throw .protocolError("RSV bits set without a negotiated extension") }
            kind = frame.opcode
            compressed = frame.rsv & 0b100 != 0
            return try append(frame)
        case .continuation:
            guard kind != nil else { throw .protocolError("continuation frame without a message to continue") }
            if frame.rsv != 0 { throw .protocolError("RSV bits set on a continuation frame") }
            return try append(frame)
        }
    }

    /// Adds one data frame's payload (inflated when the message is compressed) and checks it.
    private mutating func append(_ frame: WebSocketFrame) throws(WebSocketProtocolError) -> WebSocketMessage? {
        received += frame.payload.count
        if received > maxMessageSize { throw .tooBig("message exceeds \(maxMessageSize) bytes") }
        let start = buffer.count
        if compressed, let codec = compression {
            try codec.decompress(frame.payload, isFinal: frame.fin, limit: maxMessageSize, into: &buffer)
        } else {
            buffer.append(contentsOf: frame.payload)
        }
        if buffer.count > maxMessageSize { throw .tooBig("message exceeds \(maxMessageSize) bytes") }
        if kind == .text && validateUTF8 {
            let ok = buffer.withUnsafeBytes { utf8.feed(UnsafeRawBufferPointer(rebasing: $0[start...])) }
            if !ok || (frame.fin && !utf8.isAtBoundary) { throw .invalidPayload("text message is not valid UTF-8") }
        }
        guard frame.fin, let opcode = kind else { return nil }
        let payload = buffer
        buffer = []
        kind = nil
        received = 0
        utf8 = UTF8StreamValidator()
        return opcode == .text ? .text(payload) : .binary(payload)
    }

    /// Splits a CLOSE payload into code and reason, checking them as configured.
    public static func closeMessage(_ payload: [UInt8], validateCodes: Bool = true, validateUTF8: Bool = true) throws(WebSocketProtocolError) -> WebSocketMessage {
        if payload.isEmpty { return .close(code: nil, reason: []) }
        if payload.count == 1 {
            if validateCodes { throw .protocolError("close payload of one byte") }
            // Without code checks the byte is passed on as the reason, so it gets the reason's UTF-8 check.
            if validateUTF8 && !UTF8Validation.isValid(payload) { throw .invalidPayload("close reason is not valid UTF-8") }
            return .close(code: nil, reason: payload)
        }
        let code = UInt16(payload[0]) << 8 | UInt16(payload[1])
        let reason = Array(payload[2...])
        if validateCodes && !isValidCloseCode(code) { throw .protocolError("invalid close code \(code)") }
        if validateUTF8 && !UTF8Validation.isValid(reason) { throw .invalidPayload("close reason is not valid UTF-8") }
        return .close(code: code, reason: reason)
    }

    /// Codes allowed in a CLOSE frame on the wire (RFC 6455 7.4.1/7.4.2 and the IANA registry).
    public static func isValidCloseCode(_ code: UInt16) -> Bool {
        switch code {
        case 1000...1003, 1007...1014: return true
        case 3000...4999: return true
        default: return false
        }
    }
}
