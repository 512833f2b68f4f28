/// Sans-I/O reassembly of frames into messages, with the RFC 6455 checks that span frames.
///
/// Kept apart from the frame decoder so a relay that forwards frames unchanged pays nothing for
/// it, while endpoints (the test client) get fragment sequencing, message-size, UTF-8 and close
/// payload checks in one place.
public struct WebSocketMessageAssembler: Sendable {
    /// Largest reassembled data message; larger fails with 1009.
    public var maxMessageSize: Int
    /// Reject text messages and close reasons that are not UTF-8 (1007).
    public var validateUTF8: Bool
    /// Reject close payloads of one byte and close codes RFC 6455 7.4 forbids on the wire (1002).
    /// Off for the seed `ws_echo.py`, whose CLOSE payload "1000" reads as code 12592.
    public var validateCloseCodes: Bool

    private var kind: WebSocketOpcode? = nil
    private var buffer: [UInt8] = []

    public init(maxMessageSize: Int = 64 << 20, validateUTF8: Bool = true, validateCloseCodes: Bool = true) {
        self.maxMessageSize = maxMessageSize
        self.validateUTF8 = validateUTF8
        self.validateCloseCodes = validateCloseCodes
    }

    /// True while a fragmented message is incomplete.
    public var isAssembling: Bool { kind != nil }

    /// Feeds one frame; returns a message when one is complete. Control frames are returned at once,
    /// even in the middle of a fragmented message.
    public mutating func push(_ frame: WebSocketFrame) throws(WebSocketProtocolError) -> WebSocketMessage? {
        switch frame.opcode {
        case .ping: return .ping(frame.payload)
        case .pong: return .pong(frame.payload)
        case .close: return try Self.closeMessage(frame.payload, validateCodes: validateCloseCodes, validateUTF8: validateUTF8)
        case .text, .binary:
            if kind != nil { throw .protocolError("new data frame while a fragmented message is incomplete") }
            if frame.payload.count > maxMessageSize { throw .tooBig("message exceeds \(maxMessageSize) bytes") }
            if frame.fin { return try finish(frame.opcode, frame.payload) }
            kind = frame.opcode
            buffer = frame.payload
            return nil
        case .continuation:
            guard let opcode = kind else { throw .protocolError("continuation frame without a message to continue") }
            if buffer.count + frame.payload.count > maxMessageSize {
                throw .tooBig("message exceeds \(maxMessageSize) bytes")
            }
            buffer.append(contentsOf: frame.payload)
            guard frame.fin else { return nil }
            let payload = buffer
            buffer = []
            kind = nil
            return try finish(opcode, payload)
        }
    }

    private func finish(_ opcode: WebSocketOpcode, _ payload: [UInt8]) throws(WebSocketProtocolError) -> WebSocketMessage {
        if opcode == .text {
            if validateUTF8 && !UTF8Validation.isValid(payload) { throw .invalidPayload("text message is not valid UTF-8") }
            return .text(payload)
        }
        return .binary(payload)
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
