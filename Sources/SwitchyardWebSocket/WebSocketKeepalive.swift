/// The server's PING schedule and dead-peer detection (`wstunnel.ping-interval`), as a state machine
/// the connection drives with the current time: it says when to send a PING and when a peer that did
/// not answer within `pongTimeout` is to be dropped (lighttpd sends PINGs but never checks for the
/// PONG, so a dead peer holds its connection until a TCP timeout). Times are monotonic nanoseconds
/// from the caller's clock; nothing here reads a clock or a socket.
public struct WebSocketKeepalive: Sendable, Equatable {
    public enum Action: Sendable, Equatable {
        /// Nothing to do before `deadline`.
        case wait(until: UInt64)
        /// Send a PING with this payload now (the matching PONG proves the peer is alive).
        case sendPing([UInt8])
        /// No PONG within the timeout: close the connection.
        case peerUnresponsive
    }

    public let interval: UInt64
    public let pongTimeout: UInt64
    private var nextPing: UInt64
    private var awaiting: (payload: UInt64, sentAt: UInt64)?
    private var counter: UInt64 = 0
    /// Added to the counter to make each PING's payload: a relay that swallows the PONG answering
    /// its own PING seeds it at random, so a backend's PING is never mistaken for the gateway's.
    private let tokenSeed: UInt64

    /// `interval` 0 disables pings (`next` then always waits forever).
    public init(interval: UInt64, pongTimeout: UInt64, now: UInt64, tokenSeed: UInt64 = 0) {
        self.interval = interval
        self.pongTimeout = pongTimeout
        self.nextPing = interval == 0 ? .max : now &+ interval
        self.tokenSeed = tokenSeed
    }

    /// The payload of the PING still waiting for its PONG, if one is.
    public var outstandingPayload: [UInt8]? { awaiting.map { Self.payload($0.payload) } }

    /// A PING is due at `now` (none outstanding, the interval over): `next` would send it.
    public func pingDue(now: UInt64) -> Bool { awaiting == nil && interval > 0 && now >= nextPing }

    public static func == (a: Self, b: Self) -> Bool {
        a.interval == b.interval && a.pongTimeout == b.pongTimeout && a.nextPing == b.nextPing
            && a.awaiting?.payload == b.awaiting?.payload && a.awaiting?.sentAt == b.awaiting?.sentAt && a.counter == b.counter
            && a.tokenSeed == b.tokenSeed
    }

    /// What to do at `now`. After `.sendPing` the connection sends it (at a frame boundary).
    public mutating func next(now: UInt64) -> Action {
        if let awaiting {
            if now >= awaiting.sentAt &+ pongTimeout { return .peerUnresponsive }
            return .wait(until: min(awaiting.sentAt &+ pongTimeout, nextPing))
        }
        guard interval > 0, now >= nextPing else { return .wait(until: nextPing) }
        counter &+= 1
        awaiting = (tokenSeed &+ counter, now)
        nextPing = now &+ interval
        return .sendPing(Self.payload(tokenSeed &+ counter))
    }

    /// A PONG arrived. Only the answer to the outstanding PING counts (RFC 6455 5.5.3 allows
    /// unsolicited PONGs, which prove nothing about our PING).
    public mutating func pongReceived(_ payload: [UInt8], now: UInt64) {
        guard let awaiting, payload == Self.payload(awaiting.payload) else { return }
        self.awaiting = nil
    }

    /// Any frame from the peer shows it is alive; the next PING is due `interval` after it.
    public mutating func peerActive(now: UInt64) {
        if interval > 0 && awaiting == nil { nextPing = now &+ interval }
    }

    static func payload(_ n: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: n >> (56 - 8 * UInt64($0))) }
    }
}
