/// One live stream in the server session (RFC 9113 §5.1). Idle and closed streams are not stored:
/// idle ones are the ids above the highest seen, closed ones are gone (a few recently reset ids are
/// remembered so late frames from the peer are ignored, §5.4.2).
struct HTTP2StreamState: Sendable {
    enum Phase: Sendable, Equatable {
        case open
        /// We sent END_STREAM (or our response ended); the peer may still send.
        case halfClosedLocal
        /// The peer sent END_STREAM; we may still send.
        case halfClosedRemote
        /// Both sides ended: the stream is dropped right after.
        case closed

        /// After the peer's END_STREAM.
        var endingRemote: Phase { self == .open ? .halfClosedRemote : .closed }
        /// After our END_STREAM.
        var endingLocal: Phase { self == .open ? .halfClosedLocal : .closed }
    }

    var phase: Phase
    var sendWindow: HTTP2SendWindow
    var receiveWindow: HTTP2ReceiveWindow
    /// content-length the request declared (§8.1.1: DATA must add up to it).
    var declaredLength: Int?
    var receivedLength = 0
    /// When `sendData` last had to leave bytes behind for lack of window (nil: not blocked).
    var blockedSince: UInt64?

    var canReceive: Bool { phase == .open || phase == .halfClosedLocal }
    var canSend: Bool { phase == .open || phase == .halfClosedRemote }

    /// Received bytes the consumer has not reported as consumed.
    var unconsumed: Int { receiveWindow.target - receiveWindow.available - receiveWindow.pendingCredit }

    /// What a DATA frame did to the stream (`receiveData`).
    enum DataCheck { case accepted, beyondWindow, lengthMismatch(declared: Int, received: Int) }

    /// A DATA frame of `length` flow-controlled bytes carrying `count` body bytes: the window
    /// taken, the body counted against content-length, END_STREAM noted. One change of the stream
    /// in place where there were several (the relay's per-message path); on a failure the phase is
    /// left as it was.
    mutating func receiveData(length: Int, count: Int, endStream: Bool) -> DataCheck {
        guard receiveWindow.receive(length) else { return .beyondWindow }
        receivedLength += count
        if let declared = declaredLength, receivedLength > declared || (endStream && receivedLength != declared) {
            return .lengthMismatch(declared: declared, received: receivedLength)
        }
        if endStream { phase = phase.endingRemote }
        return .accepted
    }

    /// `sendData` wrote `count` of the `offered` bytes: the window spent, a stall dated (it runs
    /// from the last bytes that went out while some were left behind, so a slow but steady reader
    /// is never stalled, until all offered went out), our END_STREAM noted.
    mutating func sentData(_ count: Int, of offered: Int, ends: Bool, now: UInt64) {
        sendWindow.spend(count)
        if count == offered {
            blockedSince = nil
        } else if count > 0 || blockedSince == nil {
            blockedSince = now
        }
        if ends { phase = phase.endingLocal }
    }
}

/// The last few stream ids of one kind, in a fixed ring (bounded memory): the streams the session
/// reset, whose late frames are ignored rather than answered (RFC 9113 §5.4.2, §6.4), and the
/// streams that were open and closed, which tell a closed stream (STREAM_CLOSED, §5.1) from an id
/// the client skipped and now reuses out of order (PROTOCOL_ERROR, §5.1.1).
struct HTTP2RecentStreamIDs: Sendable {
    private var ids = [UInt32](repeating: 0, count: 64)
    private var next = 0

    mutating func insert(_ id: UInt32) {
        ids[next] = id
        next = (next + 1) % ids.count
    }

    func contains(_ id: UInt32) -> Bool { id != 0 && ids.contains(id) }
}

/// A header block still waiting for its CONTINUATION frames (RFC 9113 §6.10).
struct HTTP2PendingHeaderBlock: Sendable {
    var streamID: UInt32
    var bytes: [UInt8]
    var endStream: Bool
    var priority: HTTP2Priority?
    var continuationFrames = 0
}

/// The peer's settings as they affect what we send (RFC 9113 §6.5.2).
public struct HTTP2PeerSettings: Sendable, Equatable {
    public var initialWindowSize = HTTP2Protocol.defaultWindowSize
    public var maxFrameSize = HTTP2Protocol.defaultMaxFrameSize
    public var headerTableSize = 4096
    public var maxHeaderListSize: Int?
    public var maxConcurrentStreams: Int?
    public var enableConnectProtocol = false
}

/// Misuse of the send API by the integration (not a protocol error of the peer).
public enum HTTP2SendError: Error, Equatable, Sendable {
    /// The stream is unknown, closed, or already ended in our direction.
    case streamNotWritable(UInt32)
    /// The connection is closed (connection error or GOAWAY with an error).
    case connectionClosed
}
