/// An HTTP/2 error code (RFC 9113 §7), as carried by RST_STREAM and GOAWAY.
///
/// A struct rather than an enum: a peer may send any 32-bit code, and unknown codes must be kept
/// (and treated like INTERNAL_ERROR only where a meaning is needed), not rejected.
public struct HTTP2ErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }

    public static let noError = HTTP2ErrorCode(0x0)
    public static let protocolError = HTTP2ErrorCode(0x1)
    public static let internalError = HTTP2ErrorCode(0x2)
    public static let flowControlError = HTTP2ErrorCode(0x3)
    public static let settingsTimeout = HTTP2ErrorCode(0x4)
    public static let streamClosed = HTTP2ErrorCode(0x5)
    public static let frameSizeError = HTTP2ErrorCode(0x6)
    public static let refusedStream = HTTP2ErrorCode(0x7)
    public static let cancel = HTTP2ErrorCode(0x8)
    public static let compressionError = HTTP2ErrorCode(0x9)
    public static let connectError = HTTP2ErrorCode(0xa)
    public static let enhanceYourCalm = HTTP2ErrorCode(0xb)
    public static let inadequateSecurity = HTTP2ErrorCode(0xc)
    public static let http11Required = HTTP2ErrorCode(0xd)

    public var description: String {
        let names = ["NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT",
                     "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL", "COMPRESSION_ERROR",
                     "CONNECT_ERROR", "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED"]
        return rawValue < names.count ? names[Int(rawValue)] : "UNKNOWN_ERROR(0x\(String(rawValue, radix: 16)))"
    }
}

/// A protocol violation found while decoding or processing input (RFC 9113 §5.4).
///
/// A connection error ends the whole connection (GOAWAY with `code`); a stream error ends only
/// `streamID` (RST_STREAM with `code`). `reason` says what was wrong, for logs and GOAWAY debug data.
public struct HTTP2Error: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Scope: Equatable, Sendable {
        case connection
        case stream
    }

    public var scope: Scope
    /// The stream the offending frame was on (0 for connection-level frames).
    public var streamID: UInt32
    public var code: HTTP2ErrorCode
    public var reason: String

    public init(scope: Scope, streamID: UInt32, code: HTTP2ErrorCode, reason: String) {
        self.scope = scope
        self.streamID = streamID
        self.code = code
        self.reason = reason
    }

    public static func connection(_ code: HTTP2ErrorCode, stream: UInt32 = 0, _ reason: String) -> HTTP2Error {
        HTTP2Error(scope: .connection, streamID: stream, code: code, reason: reason)
    }

    public static func stream(_ stream: UInt32, _ code: HTTP2ErrorCode, _ reason: String) -> HTTP2Error {
        HTTP2Error(scope: .stream, streamID: stream, code: code, reason: reason)
    }

    public var isConnectionError: Bool { scope == .connection }

    public var description: String {
        "\(scope == .connection ? "connection" : "stream") error \(code) on stream \(streamID): \(reason)"
    }
}
