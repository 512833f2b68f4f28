/// The server side of one HTTP/2 connection (RFC 9113), sans-I/O.
///
/// The I/O layer feeds received bytes to `receive(_:now:)` and gets events back (requests, body
/// data, resets, settings, GOAWAY); it tells the session what to send (`sendHeaders`, `sendData`
/// within the flow-control windows, `resetStream`, `startGracefulShutdown`) and writes whatever
/// `takeOutput()` returns. The session answers SETTINGS and PING itself, returns flow-control credit
/// only for what the consumer reports with `consumed(streamID:count:)`, and enforces `HTTP2Limits`.
/// On a connection error it writes GOAWAY, reports `.connectionError` and ignores further input;
/// `canClose` then says the I/O layer may close once the output is flushed.
public struct HTTP2ServerSession: Sendable {
    public let limits: HTTP2Limits
    /// Bytes waiting to be written to the peer.
    public internal(set) var output: [UInt8] = []
    /// The peer's settings as last received.
    public internal(set) var peerSettings = HTTP2PeerSettings()
    /// Highest stream id the peer opened (the GOAWAY last-stream-id).
    public internal(set) var highestPeerStreamID: UInt32 = 0
    /// Set once a connection error or an error GOAWAY ended the connection.
    public internal(set) var terminalError: HTTP2Error? {
        didSet { isTerminated = terminalError != nil }
    }
    /// `terminalError != nil`, kept as a flag: every frame in and out checks it, and comparing an
    /// optional error with nil copies and destroys it through its value witnesses (~160
    /// instructions each time, callgrind; a tenth of a relayed WebSocket message's Swift cost).
    public private(set) var isTerminated = false
    /// The peer sent GOAWAY.
    public internal(set) var peerWentAway = false

    enum ShutdownState: Sendable, Equatable {
        case running
        /// First GOAWAY (last id 2^31-1) and a PING sent; the final GOAWAY follows the PING's ACK.
        case draining(pingOpaque: UInt64)
        /// Final GOAWAY sent: streams above `lastStreamID` are ignored.
        case goAwaySent(lastStreamID: UInt32)
    }

    var shutdown = ShutdownState.running
    var prefaceMatched = 0
    var receivedPeerSettings = false
    var inbound: [UInt8] = []
    /// The caller's `payloads` buffer while `receive` runs (swapped in and out: empty in between,
    /// so the session itself keeps no body bytes).
    var payloadSink: [UInt8] = []
    var frameDecoder: HTTP2FrameDecoder
    var hpackDecoder: HPACKDecoder
    var hpackEncoder: HPACKEncoder
    var streams = HTTP2StreamTable()
    /// Closed streams whose received bytes the consumer has not all consumed yet (connection credit).
    var closedUnconsumed: [UInt32: Int] = [:]
    var recentlyReset = HTTP2RecentStreamIDs()
    var recentlyClosed = HTTP2RecentStreamIDs()
    var pendingHeaders: HTTP2PendingHeaderBlock?
    var connectionSendWindow = HTTP2SendWindow(HTTP2Protocol.defaultWindowSize)
    var connectionReceiveWindow: HTTP2ReceiveWindow
    var resetCounter: HTTP2RateCounter
    var emptyDataCounter: HTTP2RateCounter
    /// ACKs and RST_STREAMs written in answer to the peer since the output was last taken.
    var queuedControlFrames = 0
    var streamsOpened = 0
    var now: UInt64 = 0

    public init(limits wanted: HTTP2Limits = HTTP2Limits()) {
        let limits = wanted.normalized
        self.limits = limits
        frameDecoder = HTTP2FrameDecoder(maxFrameSize: limits.maxFrameSize)
        hpackDecoder = HPACKDecoder(maxTableSize: limits.headerTableSize, maxHeaderListSize: limits.maxHeaderListSize)
        hpackEncoder = HPACKEncoder(maxTableSize: min(limits.headerTableSize, 4096))
        // The preface's WINDOW_UPDATE raises the peer's view from 65 535 to the target at once.
        connectionReceiveWindow = HTTP2ReceiveWindow(target: limits.effectiveConnectionWindow)
        resetCounter = HTTP2RateCounter(limit: limits.maxResetsPerWindow, windowMilliseconds: limits.resetWindowMilliseconds)
        emptyDataCounter = HTTP2RateCounter(limit: limits.maxEmptyDataFramesPerWindow,
                                            windowMilliseconds: limits.emptyDataWindowMilliseconds)
        writeServerPreface()
    }

    /// The server connection preface (§3.4): our SETTINGS, then the connection window raised.
    private mutating func writeServerPreface() {
        var settings = [HTTP2Setting(HTTP2Setting.maxConcurrentStreams, UInt32(limits.maxConcurrentStreams)),
                        HTTP2Setting(HTTP2Setting.initialWindowSize, UInt32(limits.initialStreamWindow)),
                        HTTP2Setting(HTTP2Setting.maxHeaderListSize, UInt32(limits.maxHeaderListSize)),
                        HTTP2Setting(HTTP2Setting.enablePush, 0)]
        if limits.maxFrameSize != HTTP2Protocol.defaultMaxFrameSize {
            settings.append(HTTP2Setting(HTTP2Setting.maxFrameSize, UInt32(limits.maxFrameSize)))
        }
        if limits.headerTableSize != 4096 {
            settings.append(HTTP2Setting(HTTP2Setting.headerTableSize, UInt32(limits.headerTableSize)))
        }
        if limits.enableConnectProtocol { settings.append(HTTP2Setting(HTTP2Setting.enableConnectProtocol, 1)) }
        write(.settings(ack: false, settings), stream: 0)
        let raise = limits.effectiveConnectionWindow - HTTP2Protocol.defaultWindowSize
        if raise > 0 { write(.windowUpdate(increment: UInt32(raise)), stream: 0) }
    }

    // MARK: Output

    /// Takes everything written so far (the I/O layer writes it, in order).
    public mutating func takeOutput() -> [UInt8] {
        queuedControlFrames = 0
        var taken: [UInt8] = []
        swap(&taken, &output)
        return taken
    }

    /// `mutating get` here and on the other queries the I/O layer asks on every pass: the session
    /// lives in a class's stored property, and a non-mutating call from there copies the whole
    /// session (its stream table, HPACK state and buffers: retains and releases of each) for the
    /// call; an in-place access does not (callgrind: ~2k instructions per relayed h2 WebSocket message).
    public var hasOutput: Bool { mutating get { !output.isEmpty } }
    /// How many bytes wait in the output (`mutating get` for the same reason).
    public var outputByteCount: Int { mutating get { output.count } }

    /// Hands everything written so far to `body` (which copies it out, in order) and empties the
    /// queue but keeps its buffer: `takeOutput` leaves a new array to grow again for every write.
    public mutating func drainOutput(_ body: (UnsafeRawBufferPointer) -> Void) {
        queuedControlFrames = 0
        output.withUnsafeBytes(body)
        output.removeAll(keepingCapacity: output.capacity <= HTTP2ServerSession.keptOutputCapacity)
    }

    /// Trades the queued output for `spare` (empty): the caller sends the bytes from there, no copy
    /// made, and trades the emptied array back (its capacity kept, as `drainOutput` keeps it).
    public mutating func swapOutput(_ spare: inout [UInt8]) {
        precondition(spare.isEmpty, "swapOutput takes an empty array")
        queuedControlFrames = 0
        swap(&spare, &output)
    }

    /// The output buffer kept between writes (a burst beyond it is given back to the allocator).
    public static let keptOutputCapacity = 64 * 1024

    // MARK: State

    /// Our SETTINGS have not been acknowledged yet: the I/O layer may end the connection with
    /// SETTINGS_TIMEOUT (`goAway(code: .settingsTimeout)`) when that lasts too long (RFC 9113 §6.5.3).
    public internal(set) var isAwaitingSettingsAck = true

    /// Received bytes held until their frame is complete (at most one frame).
    public var bufferedInputCount: Int { inbound.count }

    /// Streams open or half-closed.
    public var activeStreamCount: Int { streams.count }

    /// True when the I/O layer may close after flushing: a connection error, or a GOAWAY (either
    /// way) with every stream finished.
    public var canClose: Bool {
        mutating get {
            if isTerminated { return true }
            let goingAway: Bool
            if case .goAwaySent = shutdown { goingAway = true } else { goingAway = peerWentAway }
            return goingAway && streams.isEmpty
        }
    }

    /// Whether `streamID` is open for sending (a response may still be written).
    public mutating func isWritable(streamID: UInt32) -> Bool {
        !isTerminated && streams[streamID]?.canSend == true
    }

    /// How many DATA bytes `sendData` would accept on `streamID` now.
    public mutating func sendWindow(streamID: UInt32) -> Int {
        guard let stream = streams[streamID], stream.canSend, !isTerminated else { return 0 }
        return max(0, min(connectionSendWindow.value, stream.sendWindow.value))
    }

    // MARK: Writing frames

    mutating func write(_ payload: HTTP2Frame.Payload, stream: UInt32) {
        HTTP2FrameEncoder.encode(HTTP2Frame(streamID: stream, payload: payload), into: &output)
    }

    /// Writes a frame that answers the peer (ACK, RST_STREAM); too many unread ones is a flood.
    mutating func writeControlAnswer(_ payload: HTTP2Frame.Payload, stream: UInt32) throws(HTTP2Error) {
        queuedControlFrames += 1
        guard queuedControlFrames <= limits.maxQueuedControlFrames else {
            throw .connection(.enhanceYourCalm, "\(queuedControlFrames) control frames queued for a peer that does not read")
        }
        write(payload, stream: stream)
    }
}
