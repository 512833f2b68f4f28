/// Follows the client→server direction of a relayed WebSocket (bytes the gateway does not parse)
/// and takes out the one PONG that answers the gateway's own PING, so the backend never sees a
/// PONG it did not ask for. Everything else passes unchanged, in order, as slices of the input.
///
/// Only a frame that starts with `0x8A` (FIN, no RSV bits, PONG) while a PING is outstanding is
/// held back: a control frame carries at most 125 payload bytes (RFC 6455 5.5), so holding it costs
/// at most 131 bytes (2 header + 4 mask + 125). A held frame whose length byte says more than 125
/// is not a valid PONG: its bytes are released and the frame is followed like any other.
public struct WebSocketPongFilter: Sendable {
    private var tracker = WebSocketFrameBoundaryTracker()
    /// The PONG being held (empty: none).
    private var held: [UInt8] = []
    /// Its total length once the length byte is known (0: not yet).
    private var heldNeeds = 0

    public static let maxHeldBytes = 2 + 4 + 125

    public init() {}

    /// The client stream stopped looking like frames: nothing more is held or taken out.
    public var lost: Bool { tracker.lost }

    /// Filters `input`: `emit` gets what goes to the backend, in order. `token` is the payload of
    /// the gateway's outstanding PING (nil: none, everything passes). Returns true when the PONG
    /// carrying `token` was taken out of the stream (at most once per call).
    public mutating func filter(_ input: UnsafeRawBufferPointer, token: [UInt8]?,
                                emit: (UnsafeRawBufferPointer) -> Void) -> Bool {
        var token = token
        var matched = false
        var i = 0
        var passStart = 0
        let n = input.count
        func pass(upTo end: Int) {
            if end > passStart { emit(UnsafeRawBufferPointer(rebasing: input[passStart..<end])) }
            passStart = end
        }
        while i < n {
            if !held.isEmpty {
                i += hold(input, from: i)
                passStart = i
                if heldNeeds > 0 && held.count == heldNeeds {
                    if let t = token, payloadMatches(t) {
                        matched = true
                        token = nil
                    } else {
                        held.withUnsafeBytes { emit($0) }
                    }
                    held.removeAll(keepingCapacity: false)
                    heldNeeds = 0
                } else if heldNeeds < 0 {
                    release(emit)
                }
                continue
            }
            guard token != nil, !tracker.lost else {
                _ = tracker.advance(UnsafeRawBufferPointer(rebasing: input[i...]))
                break
            }
            if tracker.isAtBoundary && input[i] == 0x8A {
                pass(upTo: i)
                held.reserveCapacity(Self.maxHeldBytes)
                held.append(0x8A)
                i += 1
                passStart = i
                continue
            }
            i += tracker.advanceToNextBoundary(UnsafeRawBufferPointer(rebasing: input[i...]))
        }
        if held.isEmpty { pass(upTo: n) }
        return matched
    }

    /// The client's stream ended: a PONG still held (incomplete, so never the answer) goes on as
    /// it came, so the backend sees every byte the client sent.
    public mutating func finish(emit: (UnsafeRawBufferPointer) -> Void) {
        if !held.isEmpty { release(emit) }
    }

    /// Takes the bytes of the held frame from `input[from...]`; returns how many. Sets `heldNeeds`
    /// once the length byte is there, to -1 when it is not a valid PONG length.
    private mutating func hold(_ input: UnsafeRawBufferPointer, from: Int) -> Int {
        if held.count == 1 {
            let b = input[from]
            held.append(b)
            let length = Int(b & 0x7F)
            heldNeeds = length > 125 ? -1 : 2 + (b & 0x80 != 0 ? 4 : 0) + length
            return 1
        }
        let take = min(heldNeeds - held.count, input.count - from)
        held.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[from..<(from + take)]))
        return take
    }

    /// Not a PONG after all: its bytes go on, and the tracker follows the frame they begin.
    private mutating func release(_ emit: (UnsafeRawBufferPointer) -> Void) {
        held.withUnsafeBytes { emit($0) }
        _ = tracker.advance(held)
        held.removeAll(keepingCapacity: false)
        heldNeeds = 0
    }

    private func payloadMatches(_ token: [UInt8]) -> Bool {
        let masked = held[1] & 0x80 != 0
        let start = masked ? 6 : 2
        guard held.count - start == token.count else { return false }
        for (k, expected) in token.enumerated() {
            let key: UInt8 = masked ? held[2 + k % 4] : 0
            if held[start + k] ^ key != expected { return false }
        }
        return true
    }
}
