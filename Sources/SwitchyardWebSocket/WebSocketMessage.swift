/// A complete message: data frames reassembled from their fragments, or one control frame.
///
/// Payloads stay as bytes (also for text) so a test can see exactly what travelled, e.g. the
/// double-encoded UTF-8 the seed `ws_echo.py` returns.
public enum WebSocketMessage: Sendable, Equatable {
    case text([UInt8])
    case binary([UInt8])
    case ping([UInt8])
    case pong([UInt8])
    /// `code` is nil for an empty CLOSE payload. The seed `ws_echo.py` sends ASCII "1000", which
    /// reads as code 12592 with reason "00".
    case close(code: UInt16?, reason: [UInt8])

    /// A text message from a Swift string.
    public static func text(_ string: String) -> WebSocketMessage { .text(Array(string.utf8)) }

    /// The text payload decoded as UTF-8 (repairing invalid sequences), nil for other kinds.
    public var textString: String? {
        if case .text(let bytes) = self { return String(decoding: bytes, as: UTF8.self) }
        return nil
    }
}
