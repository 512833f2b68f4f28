/// What the server session reports after `receive`: the integration turns these into exchanges.
public enum HTTP2Event: Equatable, Sendable {
    /// A new request (validated, RFC 9113 §8.3.1; RFC 8441 for extended CONNECT).
    case request(streamID: UInt32, head: HTTP2RequestHead, endStream: Bool)
    /// Trailers: they end the request body.
    case trailers(streamID: UInt32, fields: [HPACKHeaderField])
    /// Request body bytes, at `payload` in the `payloads` buffer the caller gave `receive` (the
    /// session appends them there; the caller owns the buffer and empties it when it is done with
    /// the events). The consumer calls `consumed(streamID:count:)` once it has taken them; only
    /// then does the peer get window back.
    ///
    /// A range, not an array of its own: an array per DATA frame was an allocation, a copy and a
    /// release through the enum's value witnesses for every relayed WebSocket message (~600 of its
    /// instructions, callgrind), where appending to a buffer the caller keeps costs a `memcpy`.
    case data(streamID: UInt32, payload: Range<Int>, endStream: Bool)
    /// The stream ended abnormally: reset by the peer (`byPeer`) or by the session after a stream
    /// error (the RST_STREAM is already in the output). The exchange must stop.
    case streamReset(streamID: UInt32, code: HTTP2ErrorCode, byPeer: Bool)
    /// Send window grew: stream 0 = the connection window (every stream may try again).
    case windowOpened(streamID: UInt32)
    /// The peer's SETTINGS, already applied (and acknowledged).
    case settings([HTTP2Setting])
    /// The peer answered our PING.
    case pingAcknowledged(opaque: UInt64)
    /// The peer is going away: streams above `lastStreamID` were not processed by it (none, for a
    /// client), no new streams will come.
    case goAway(lastStreamID: UInt32, code: HTTP2ErrorCode, debugData: [UInt8])
    /// Connection error: GOAWAY is in the output; flush it, then close the connection.
    case connectionError(HTTP2Error)
}
