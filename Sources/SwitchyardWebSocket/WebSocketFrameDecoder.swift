/// Sans-I/O RFC 6455 frame decoder: bytes in, one frame (or "need more") out.
///
/// It never touches a socket and keeps no buffer of its own, so the same value serves the gateway,
/// the blocking test client and the epoll benchmark. Header errors are reported as soon as the
/// offending byte is present, so feeding a stream byte by byte fails at the same frame as feeding
/// it whole. Per-frame only: fragment sequencing, UTF-8 and close codes are checked by
/// `WebSocketMessageAssembler`.
public struct WebSocketFrameDecoder: Sendable {
    /// Which side of the connection this decoder sits on.
    public enum Role: Sendable {
        /// Decodes client-to-server frames, which must be masked.
        case server
        /// Decodes server-to-client frames, which must not be masked.
        case client
    }

    public var role: Role
    /// Largest accepted payload of a single frame; larger ones fail with 1009.
    public var maxPayload: Int
    /// Accept masked frames from a server (the seed `ws_echo.py` echoes with the client's key) and
    /// unmasked frames from a client.
    public var lenient: Bool
    /// RSV bits a negotiated extension permits (RSV1 = 0b100). 0 = none, the default.
    public var allowedReservedBits: UInt8 = 0

    public init(role: Role, maxPayload: Int = 16 << 20 + 1024, lenient: Bool = false) {
        self.role = role
        self.maxPayload = maxPayload
        self.lenient = lenient
    }

    /// Decodes one frame from the start of `input`; returns nil when more bytes are needed.
    ///
    /// Throws on protocol errors: reserved opcode, control frame > 125 bytes or fragmented, mask bit
    /// wrong for the role (unless lenient), RSV bits without an extension, 64-bit length with the
    /// most significant bit set (1002), payload > `maxPayload` (1009).
    /// Allocates only the returned payload; masked payloads are unmasked while being copied.
    @inlinable
    public mutating func decode(_ input: UnsafeRawBufferPointer) throws(WebSocketProtocolError) -> (frame: WebSocketFrame, consumed: Int)? {
        guard let header = try decodeHeader(input) else { return nil }
        let total = header.frameLength
        guard input.count >= total else { return nil }
        let length = header.payloadLength
        var payload: [UInt8] = []
        if length > 0, let base = input.baseAddress {
            let source = base + header.headerLength
            payload = [UInt8](unsafeUninitializedCapacity: length) { buffer, initialized in
                let destination = UnsafeMutableRawPointer(buffer.baseAddress!)
                if let key = header.maskKey {
                    WebSocketMasking.apply(key: key, phase: 0, from: source, to: destination, count: length)
                } else {
                    destination.copyMemory(from: source, byteCount: length)
                }
                initialized = length
            }
        }
        let frame = WebSocketFrame(fin: header.fin, rsv: header.rsv, opcode: header.opcode,
                                   maskKey: header.maskKey, payload: payload)
        return (frame, total)
    }

    /// Decodes one frame from the start of `bytes`; convenience for tests and small tools.
    public mutating func decode(_ bytes: [UInt8]) throws(WebSocketProtocolError) -> (frame: WebSocketFrame, consumed: Int)? {
        let result: Result<(frame: WebSocketFrame, consumed: Int)?, WebSocketProtocolError> = bytes.withUnsafeBytes { raw in
            do throws(WebSocketProtocolError) { return .success(try decode(raw)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Parses only the frame header at the start of `input`; nil when the header is incomplete.
    ///
    /// Applies every check `decode` does, so a caller may use it to size a buffer or to forward a
    /// payload without copying it.
    @inlinable
    public func decodeHeader(_ input: UnsafeRawBufferPointer) throws(WebSocketProtocolError) -> WebSocketFrameHeader? {
        let available = input.count
        guard available >= 1 else { return nil }
        let b0 = input[0]
        let fin = b0 & 0x80 != 0
        let rsv = (b0 >> 4) & 0x7
        if rsv & ~allowedReservedBits != 0 {
            throw .protocolError("RSV bits set without a negotiated extension")
        }
        guard let opcode = WebSocketOpcode(rawValue: b0 & 0x0F) else {
            throw .protocolError("reserved opcode \(b0 & 0x0F)")
        }
        if opcode.isControl && !fin {
            throw .protocolError("fragmented control frame")
        }
        guard available >= 2 else { return nil }
        let b1 = input[1]
        let masked = b1 & 0x80 != 0
        let length7 = Int(b1 & 0x7F)
        if opcode.isControl && length7 > 125 {
            throw .protocolError("control frame payload longer than 125 bytes")
        }
        if !lenient {
            switch role {
            case .server where !masked: throw .protocolError("client frame is not masked")
            case .client where masked: throw .protocolError("server frame is masked")
            default: break
            }
        }
        var offset = 2
        let length: Int
        switch length7 {
        case 126:
            guard available >= 4 else { return nil }
            length = Int(input[2]) << 8 | Int(input[3])
            offset = 4
        case 127:
            guard available >= 10 else { return nil }
            var value: UInt64 = 0
            for i in 2..<10 { value = value << 8 | UInt64(input[i]) }
            if value >> 63 != 0 {
                throw .protocolError("64-bit payload length with the most significant bit set")
            }
            if value > UInt64(max(maxPayload, 0)) {
                throw .tooBig("frame payload of \(value) bytes exceeds \(maxPayload)")
            }
            length = Int(value)
            offset = 10
        default:
            length = length7
        }
        if length > maxPayload {
            throw .tooBig("frame payload of \(length) bytes exceeds \(maxPayload)")
        }
        var maskKey: UInt32? = nil
        if masked {
            guard available >= offset + 4 else { return nil }
            maskKey = UInt32(input[offset]) << 24 | UInt32(input[offset + 1]) << 16
                | UInt32(input[offset + 2]) << 8 | UInt32(input[offset + 3])
            offset += 4
        }
        return WebSocketFrameHeader(fin: fin, rsv: rsv, opcode: opcode, maskKey: maskKey,
                                    payloadLength: length, headerLength: offset)
    }
}
