/// One decoded HTTP/2 frame (RFC 9113 §4.1, §6).
///
/// Padding is already removed; `flowControlledLength` of DATA keeps the length on the wire
/// (padding included), which is what flow control counts (§6.1).
public struct HTTP2Frame: Equatable, Sendable {
    public var streamID: UInt32
    public var payload: Payload

    public init(streamID: UInt32, payload: Payload) {
        self.streamID = streamID
        self.payload = payload
    }

    public enum Payload: Equatable, Sendable {
        case data(HTTP2DataPayload)
        case headers(HTTP2HeadersPayload)
        case priority(HTTP2Priority)
        case rstStream(HTTP2ErrorCode)
        case settings(ack: Bool, [HTTP2Setting])
        case pushPromise(promisedStreamID: UInt32, fragment: [UInt8], endHeaders: Bool)
        case ping(ack: Bool, opaque: UInt64)
        case goAway(lastStreamID: UInt32, code: HTTP2ErrorCode, debugData: [UInt8])
        case windowUpdate(increment: UInt32)
        case continuation(fragment: [UInt8], endHeaders: Bool)
        /// A frame of a type this codec does not know: must be ignored (§4.1, §5.5).
        case unknown(type: UInt8, flags: UInt8, payload: [UInt8])
    }
}

public struct HTTP2DataPayload: Equatable, Sendable {
    public var bytes: [UInt8]
    public var endStream: Bool
    /// Payload length on the wire, padding included: what the flow-control windows are charged.
    public var flowControlledLength: Int

    public init(bytes: [UInt8], endStream: Bool, flowControlledLength: Int? = nil) {
        self.bytes = bytes
        self.endStream = endStream
        self.flowControlledLength = flowControlledLength ?? bytes.count
    }
}

public struct HTTP2HeadersPayload: Equatable, Sendable {
    /// A header block fragment (HPACK bytes); the rest may follow in CONTINUATION frames.
    public var fragment: [UInt8]
    public var endStream: Bool
    public var endHeaders: Bool
    public var priority: HTTP2Priority?

    public init(fragment: [UInt8], endStream: Bool, endHeaders: Bool, priority: HTTP2Priority? = nil) {
        self.fragment = fragment
        self.endStream = endStream
        self.endHeaders = endHeaders
        self.priority = priority
    }
}

/// RFC 9113 §5.3.2 priority signal: parsed so it can be validated, then ignored (RFC 9113
/// deprecates the scheme; a server that ignores it is conformant).
public struct HTTP2Priority: Equatable, Sendable {
    public var exclusive: Bool
    public var dependency: UInt32
    public var weight: UInt8

    public init(exclusive: Bool, dependency: UInt32, weight: UInt8) {
        self.exclusive = exclusive
        self.dependency = dependency
        self.weight = weight
    }
}

/// One SETTINGS parameter (§6.5.1); unknown identifiers are kept and must be ignored.
public struct HTTP2Setting: Equatable, Sendable {
    public var identifier: UInt16
    public var value: UInt32

    public init(_ identifier: UInt16, _ value: UInt32) {
        self.identifier = identifier
        self.value = value
    }

    public static let headerTableSize: UInt16 = 0x1
    public static let enablePush: UInt16 = 0x2
    public static let maxConcurrentStreams: UInt16 = 0x3
    public static let initialWindowSize: UInt16 = 0x4
    public static let maxFrameSize: UInt16 = 0x5
    public static let maxHeaderListSize: UInt16 = 0x6
    /// RFC 8441 §3: the peer may use extended CONNECT (`:protocol`).
    public static let enableConnectProtocol: UInt16 = 0x8
}

/// Frame type codes (§6) and flag bits.
public enum HTTP2FrameType {
    public static let data: UInt8 = 0x0
    public static let headers: UInt8 = 0x1
    public static let priority: UInt8 = 0x2
    public static let rstStream: UInt8 = 0x3
    public static let settings: UInt8 = 0x4
    public static let pushPromise: UInt8 = 0x5
    public static let ping: UInt8 = 0x6
    public static let goAway: UInt8 = 0x7
    public static let windowUpdate: UInt8 = 0x8
    public static let continuation: UInt8 = 0x9
}

public enum HTTP2Flags {
    public static let endStream: UInt8 = 0x1
    public static let ack: UInt8 = 0x1
    public static let endHeaders: UInt8 = 0x4
    public static let padded: UInt8 = 0x8
    public static let priority: UInt8 = 0x20
}

/// Protocol-wide constants.
public enum HTTP2Protocol {
    /// The client connection preface (§3.4).
    public static let clientPreface: [UInt8] = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    public static let frameHeaderLength = 9
    public static let defaultMaxFrameSize = 16_384
    public static let maxAllowedFrameSize = 16_777_215
    public static let defaultWindowSize = 65_535
    public static let maxWindowSize = 2_147_483_647
    public static let maxStreamID: UInt32 = 0x7fff_ffff
}
