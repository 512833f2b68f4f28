/// One receive-side flow-control window (RFC 9113 §5.2, §6.9): what the peer may still send, and
/// credit to return once the consumer has really taken the bytes.
///
/// WINDOW_UPDATE follows consumption, not arrival, so a stream whose reader is slow stops its
/// sender after `target` bytes without holding up anyone else. Credit is returned in batches
/// (half the target) to avoid a WINDOW_UPDATE per small read.
public struct HTTP2ReceiveWindow: Sendable, Equatable {
    /// The window size we advertise and keep restoring.
    public private(set) var target: Int
    /// Bytes the peer may still send.
    public private(set) var available: Int
    /// Consumed bytes not yet returned to the peer.
    public private(set) var pendingCredit = 0

    public init(target: Int, available: Int? = nil) {
        self.target = target
        self.available = available ?? target
    }

    /// Charges `count` received bytes; false when the peer overran the window (FLOW_CONTROL_ERROR).
    public mutating func receive(_ count: Int) -> Bool {
        guard count <= available else { return false }
        available -= count
        return true
    }

    /// The consumer took `count` bytes: returns the WINDOW_UPDATE increment to send now, if any.
    public mutating func consume(_ count: Int) -> Int? {
        pendingCredit += max(count, 0)
        // Never credit more than was charged (a confused consumer must not inflate the window).
        pendingCredit = min(pendingCredit, target - available)
        guard pendingCredit > 0, pendingCredit >= target / 2 || available == 0 else { return nil }
        let increment = pendingCredit
        available += increment
        pendingCredit = 0
        return increment
    }
}

/// One send-side window: the peer's credit for what we send (RFC 9113 §6.9.1). It may go negative
/// after the peer lowers SETTINGS_INITIAL_WINDOW_SIZE (§6.9.2).
public struct HTTP2SendWindow: Sendable, Equatable {
    public private(set) var value: Int

    public init(_ value: Int) { self.value = value }

    /// Applies a WINDOW_UPDATE or a SETTINGS_INITIAL_WINDOW_SIZE delta; false when the window would
    /// exceed 2^31-1 (FLOW_CONTROL_ERROR).
    public mutating func grow(by delta: Int) -> Bool {
        guard value + delta <= HTTP2Protocol.maxWindowSize else { return false }
        value += delta
        return true
    }

    public mutating func spend(_ count: Int) { value -= count }
}

/// A fixed-window event counter for flood limits: `record(now:)` is false once more than `limit`
/// events fell into the current window. The clock is the caller's (milliseconds, monotonic).
public struct HTTP2RateCounter: Sendable, Equatable {
    public let limit: Int
    public let windowMilliseconds: UInt64
    private var windowStart: UInt64 = 0
    private var count = 0

    public init(limit: Int, windowMilliseconds: UInt64) {
        self.limit = limit
        self.windowMilliseconds = windowMilliseconds
    }

    public mutating func record(now: UInt64) -> Bool {
        if now &- windowStart >= windowMilliseconds || now < windowStart {
            windowStart = now
            count = 0
        }
        count += 1
        return count <= limit
    }
}
