/// Server PINGs on a WebSocket the gateway relays without parsing (an upgraded CGI, SCGI, uwsgi,
/// FastCGI or proxied stream, `websocket.ping-interval`), as a state machine without I/O:
///
/// - backend→client: `WebSocketFrameBoundaryTracker` follows the frames, so the gateway's PING
///   (unmasked, as from a server) goes only between two frames, never inside one;
/// - client→backend: `WebSocketPongFilter` takes out the PONG answering that PING (same payload),
///   so the backend never sees a PONG it did not ask for; every other byte passes unchanged;
/// - `WebSocketKeepalive` keeps the schedule: a PING every `interval`, whatever the traffic
///   (lighttpd's `wstunnel.ping-interval` rule), and no PONG within `interval` of a PING means the
///   peer is gone.
///
/// A PING that falls due while the backend is inside a frame waits for that frame's end. A stream
/// that stops looking like frames (`lost`) gets no more PINGs. Memory: fixed, plus one held PONG.
public struct WebSocketRelayKeepalive: Sendable {
    public enum TickAction: Sendable, Equatable {
        case none
        /// Send this PING frame to the client now (the backend stream is between frames).
        case sendPing([UInt8])
        /// No PONG within the interval after a PING: close the connection.
        case peerUnresponsive
        /// The backend's bytes stopped parsing as frames (said once): no more PINGs.
        case lostFraming
    }

    private var keepalive: WebSocketKeepalive
    private var toClient = WebSocketFrameBoundaryTracker()
    private var fromClient = WebSocketPongFilter()
    /// A PING fell due inside a backend frame: it goes out at the next frame end.
    private var pingPending = false
    private var lostReported = false

    public init(interval: UInt64, now: UInt64, tokenSeed: UInt64) {
        keepalive = WebSocketKeepalive(interval: interval, pongTimeout: interval, now: now, tokenSeed: tokenSeed)
    }

    /// Backend bytes about to go to the client. Returns where a due PING goes (send
    /// `input[..<offset]`, then `ping`, then the rest), or nil: send `input` as it is.
    public mutating func backendBytes(_ input: UnsafeRawBufferPointer, now: UInt64) -> (offset: Int, ping: [UInt8])? {
        let boundary = toClient.advance(input)
        guard pingPending, let boundary, case .sendPing(let payload) = keepalive.next(now: now) else { return nil }
        pingPending = false
        return (boundary, Self.pingFrame(payload))
    }

    /// Client bytes about to go to the backend: `emit` gets all of them, in order, except the PONG
    /// answering the outstanding PING.
    public mutating func clientBytes(_ input: UnsafeRawBufferPointer, now: UInt64, emit: (UnsafeRawBufferPointer) -> Void) {
        let token = keepalive.outstandingPayload
        if fromClient.filter(input, token: token, emit: emit), let token {
            keepalive.pongReceived(token, now: now)
        }
    }

    /// The client's stream ended (FIN): `emit` gets the bytes of a PONG still held back, if any.
    public mutating func clientEnded(emit: (UnsafeRawBufferPointer) -> Void) {
        fromClient.finish(emit: emit)
    }

    /// The once-a-second check.
    public mutating func tick(now: UInt64) -> TickAction {
        if toClient.lost && !lostReported {
            lostReported = true
            pingPending = false
            return .lostFraming
        }
        if keepalive.outstandingPayload != nil || !keepalive.pingDue(now: now) {
            return keepalive.next(now: now) == .peerUnresponsive ? .peerUnresponsive : .none
        }
        guard !toClient.lost else { return .none }
        guard toClient.isAtBoundary else {
            pingPending = true
            return .none
        }
        guard case .sendPing(let payload) = keepalive.next(now: now) else { return .none }
        return .sendPing(Self.pingFrame(payload))
    }

    /// An unmasked PING (server to client) with `payload` (8 bytes).
    static func pingFrame(_ payload: [UInt8]) -> [UInt8] {
        var frame: [UInt8] = []
        WebSocketFrameEncoder.encode(opcode: .ping, payload: payload, into: &frame)
        return frame
    }
}
