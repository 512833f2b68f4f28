/// HTTP/1.1 `Upgrade: h2c` (RFC 7540 §3.2; dropped from RFC 9113 but still offered by lighttpd's
/// `server.h2c`, so only when configured): the request that carried the upgrade becomes stream 1.
extension HTTP2ServerSession {
    /// A session after `101 Switching Protocols`: `http2Settings` is the request's HTTP2-Settings
    /// field (base64url SETTINGS payload), applied as the peer's settings without an ACK (§3.2.1).
    /// Stream 1 is the upgraded request, half-closed from the client (its body, if any, came over
    /// HTTP/1.1): the response goes out with `sendHeaders`/`sendData` on stream 1. The I/O layer
    /// writes the 101, then `takeOutput()` (our preface); the client's preface follows.
    public init(limits: HTTP2Limits = HTTP2Limits(), upgradeSettings http2Settings: String) throws(HTTP2Error) {
        self.init(limits: limits)
        guard let payload = Self.base64URLDecode(http2Settings), payload.count % 6 == 0 else {
            throw .connection(.protocolError, "HTTP2-Settings is not a base64url SETTINGS payload")
        }
        var settings: [HTTP2Setting] = []
        var offset = 0
        while offset < payload.count {
            let value = UInt32(payload[offset + 2]) << 24 | UInt32(payload[offset + 3]) << 16
                | UInt32(payload[offset + 4]) << 8 | UInt32(payload[offset + 5])
            let setting = HTTP2Setting(UInt16(payload[offset]) << 8 | UInt16(payload[offset + 1]), value)
            try HTTP2FrameDecoder.validate(setting)
            settings.append(setting)
            offset += 6
        }
        var events: [HTTP2Event] = []
        try applySettings(settings, &events, acknowledge: false)
        highestPeerStreamID = 1
        streamsOpened = 1
        streams[1] = HTTP2StreamState(phase: .halfClosedRemote, sendWindow: HTTP2SendWindow(peerSettings.initialWindowSize),
                                      receiveWindow: HTTP2ReceiveWindow(target: self.limits.initialStreamWindow))
    }

    /// RFC 4648 §5 base64url, padding optional; nil on any other character.
    static func base64URLDecode(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for byte in text.utf8 {
            let value: UInt8
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = byte - UInt8(ascii: "A")
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = byte - UInt8(ascii: "a") + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = byte - UInt8(ascii: "0") + 52
            case UInt8(ascii: "-"): value = 62
            case UInt8(ascii: "_"): value = 63
            case UInt8(ascii: "="): continue
            default: return nil
            }
            buffer = buffer << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            }
        }
        return out
    }
}
