/// Follows frame boundaries in a WebSocket byte stream that is relayed, not parsed (the
/// server→client direction of an upgraded CGI/SCGI/FastCGI/proxy route), so the gateway can put its
/// own PING between two frames without copying or decoding a payload. Control frames may come
/// between the fragments of a message (RFC 6455 5.4), so every frame boundary is a safe point.
///
/// Only the header is read (2 to 14 bytes, kept across reads in a fixed-size state); payload bytes
/// are skipped by count. A stream that stops looking like frames (a 64-bit length with the top bit
/// set) makes the tracker `lost` for good: no PING is ever injected into it.
public struct WebSocketFrameBoundaryTracker: Sendable, Equatable {
    /// Header bytes seen of the current frame (0 = at a boundary).
    private var headerSeen = 0
    /// Header length once known from byte 1 (2, 4 or 10, plus 4 with a mask).
    private var headerLength = 2
    /// Extended length bytes after byte 1 (0, 2 or 8).
    private var lengthBytes = 0
    private var length: UInt64 = 0
    /// Payload bytes still to skip.
    private var remaining: UInt64 = 0
    public private(set) var lost = false

    public init() {}

    /// True when the bytes seen so far end exactly at a frame boundary (a PING may be sent now).
    public var isAtBoundary: Bool { !lost && headerSeen == 0 && remaining == 0 }

    /// Advances over `input` (bytes about to be relayed). Returns the offset just after the last frame
    /// that ends inside `input` (relay `input[..<offset]`, then a PING, then the rest), or nil.
    @discardableResult
    public mutating func advance(_ input: UnsafeRawBufferPointer) -> Int? {
        var i = 0
        var lastBoundary: Int? = nil
        let n = input.count
        while i < n && !lost {
            if remaining > 0 {
                let skip = Int(min(remaining, UInt64(n - i)))
                remaining -= UInt64(skip)
                i += skip
                if remaining == 0 && headerSeen == 0 { lastBoundary = i }
                continue
            }
            headerByte(input[i])
            i += 1
            if headerSeen == 0 && remaining == 0 { lastBoundary = i }
        }
        return lost ? nil : lastBoundary
    }

    public mutating func advance(_ bytes: [UInt8]) -> Int? {
        bytes.withUnsafeBytes { advance($0) }
    }

    /// Advances over `input` up to the end of the first frame that ends in it, and returns how many
    /// bytes that took (`input.count` when no frame ends inside; then the tracker is mid-frame, or
    /// `lost`). Lets a caller look at the first byte of each frame (`WebSocketPongFilter`).
    public mutating func advanceToNextBoundary(_ input: UnsafeRawBufferPointer) -> Int {
        var i = 0
        let n = input.count
        while i < n && !lost {
            if remaining > 0 {
                let skip = Int(min(remaining, UInt64(n - i)))
                remaining -= UInt64(skip)
                i += skip
                if remaining == 0 && headerSeen == 0 { return i }
                continue
            }
            headerByte(input[i])
            i += 1
            if headerSeen == 0 && remaining == 0 { return i }
        }
        return n
    }

    private mutating func headerByte(_ b: UInt8) {
        switch headerSeen {
        case 0:
            length = 0
        case 1:
            let length7 = b & 0x7F
            lengthBytes = length7 == 126 ? 2 : length7 == 127 ? 8 : 0
            headerLength = 2 + lengthBytes + (b & 0x80 != 0 ? 4 : 0)
            if lengthBytes == 0 { length = UInt64(length7) }
        default:
            if headerSeen < 2 + lengthBytes {
                if headerSeen == 2 && lengthBytes == 8 && b & 0x80 != 0 {
                    lost = true
                    return
                }
                length = length << 8 | UInt64(b)
            }
        }
        headerSeen += 1
        if headerSeen == headerLength {
            headerSeen = 0
            remaining = length
        }
    }
}
