/// A violation of RFC 6455 found while decoding, with the close code the endpoint should send.
///
/// Carrying the close code (1002 protocol error, 1007 invalid payload data, 1009 message too big)
/// lets the connection logic fail the connection correctly without re-classifying the error.
public struct WebSocketProtocolError: Error, Sendable, Equatable, CustomStringConvertible {
    public var closeCode: UInt16
    public var reason: String

    public init(closeCode: UInt16, reason: String) {
        self.closeCode = closeCode
        self.reason = reason
    }

    /// Close code 1002.
    public static func protocolError(_ reason: String) -> WebSocketProtocolError {
        WebSocketProtocolError(closeCode: 1002, reason: reason)
    }

    /// Close code 1007 (e.g. a text message that is not UTF-8).
    public static func invalidPayload(_ reason: String) -> WebSocketProtocolError {
        WebSocketProtocolError(closeCode: 1007, reason: reason)
    }

    /// Close code 1009.
    public static func tooBig(_ reason: String) -> WebSocketProtocolError {
        WebSocketProtocolError(closeCode: 1009, reason: reason)
    }

    /// Close code 1011: the endpoint itself failed (e.g. zlib could not be set up).
    public static func internalError(_ reason: String) -> WebSocketProtocolError {
        WebSocketProtocolError(closeCode: 1011, reason: reason)
    }

    public var description: String { "WebSocket protocol error \(closeCode): \(reason)" }
}
