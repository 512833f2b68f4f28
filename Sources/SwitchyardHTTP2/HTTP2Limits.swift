/// Every bound the server session enforces, with safe defaults. The server sets the first few from
/// its configuration (`server.h2-*` keys, `ServerSettings.http2Limits`); the attack budgets stay fixed.
///
/// The attack each one answers is named beside it; each has a unit test in HTTP2AttackLimitTests.
public struct HTTP2Limits: Sendable, Equatable {
    /// SETTINGS_MAX_CONCURRENT_STREAMS: streams past it are refused (REFUSED_STREAM). Every stream
    /// may hold a file descriptor or a backend, so this bounds what one connection costs.
    public var maxConcurrentStreams = 32
    /// SETTINGS_INITIAL_WINDOW_SIZE: what one stream may send before its consumer reads.
    public var initialStreamWindow = 65_535
    /// The connection receive window, raised by a WINDOW_UPDATE right after our SETTINGS. nil =
    /// streams × stream window, so streams whose consumers are slow can never use up the connection
    /// window the others need (memory bound: the same as the sum of the stream windows).
    public var connectionWindow: Int? = nil
    /// SETTINGS_MAX_FRAME_SIZE we accept.
    public var maxFrameSize = HTTP2Protocol.defaultMaxFrameSize
    /// SETTINGS_HEADER_TABLE_SIZE for the HPACK decoder (and the cap of our encoder's table).
    public var headerTableSize = 4096
    /// SETTINGS_MAX_HEADER_LIST_SIZE: larger requests get 431 (HPACK bomb bound).
    public var maxHeaderListSize = 64 << 10
    /// CONTINUATION flood: compressed bytes of one header block (HEADERS + CONTINUATION)…
    public var maxHeaderBlockSize = 128 << 10
    /// …and CONTINUATION frames per block. Past either: GOAWAY ENHANCE_YOUR_CALM.
    public var maxContinuationFrames = 32
    /// Rapid reset (CVE-2023-44487): streams reset by the peer (or refused by us) per window;
    /// past it: GOAWAY ENHANCE_YOUR_CALM.
    public var maxResetsPerWindow = 200
    public var resetWindowMilliseconds: UInt64 = 10_000
    /// SETTINGS / PING floods: acknowledgements (and RST_STREAMs) waiting in the output buffer
    /// because the peer does not read; past it: GOAWAY ENHANCE_YOUR_CALM.
    public var maxQueuedControlFrames = 1000
    /// Empty DATA frames without END_STREAM (cost CPU, carry nothing) per window.
    public var maxEmptyDataFramesPerWindow = 1000
    public var emptyDataWindowMilliseconds: UInt64 = 10_000
    /// Streams over the connection's lifetime; 0 = unlimited. When reached the session starts a
    /// graceful GOAWAY, so a client rotates connections before stream ids run out.
    public var maxStreamsPerConnection = 0
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441): accept extended CONNECT (WebSockets over HTTP/2).
    public var enableConnectProtocol = true

    public init() {}

    /// The limits brought into the ranges the protocol allows (RFC 9113 §6.5.2) and that keep the
    /// session working: a configuration value out of range is clamped, never trusted.
    public var normalized: HTTP2Limits {
        var limits = self
        limits.maxConcurrentStreams = min(max(limits.maxConcurrentStreams, 1), 1 << 20)
        limits.initialStreamWindow = min(max(limits.initialStreamWindow, 1024), HTTP2Protocol.maxWindowSize)
        limits.maxFrameSize = min(max(limits.maxFrameSize, HTTP2Protocol.defaultMaxFrameSize), HTTP2Protocol.maxAllowedFrameSize)
        limits.headerTableSize = min(max(limits.headerTableSize, 0), 1 << 20)
        limits.maxHeaderListSize = min(max(limits.maxHeaderListSize, 1024), 1 << 24)
        limits.maxHeaderBlockSize = min(max(limits.maxHeaderBlockSize, 1024), 1 << 24)
        limits.maxContinuationFrames = max(limits.maxContinuationFrames, 0)
        limits.maxResetsPerWindow = max(limits.maxResetsPerWindow, 1)
        limits.resetWindowMilliseconds = max(limits.resetWindowMilliseconds, 1)
        limits.maxQueuedControlFrames = max(limits.maxQueuedControlFrames, 16)
        limits.maxEmptyDataFramesPerWindow = max(limits.maxEmptyDataFramesPerWindow, 1)
        limits.emptyDataWindowMilliseconds = max(limits.emptyDataWindowMilliseconds, 1)
        limits.maxStreamsPerConnection = max(limits.maxStreamsPerConnection, 0)
        return limits
    }

    /// The connection window actually advertised.
    public var effectiveConnectionWindow: Int {
        let wanted = connectionWindow ?? maxConcurrentStreams.multipliedReportingOverflow(by: initialStreamWindow).partialValue
        return min(max(wanted, HTTP2Protocol.defaultWindowSize), HTTP2Protocol.maxWindowSize)
    }
}
