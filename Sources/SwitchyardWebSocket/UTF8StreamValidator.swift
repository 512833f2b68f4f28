/// UTF-8 validation across fragment boundaries (RFC 3629, same rules as `UTF8Validation`).
///
/// A text message arrives in fragments (and, compressed, in pieces of inflated output) whose
/// boundaries may split a code point. Checking each piece as it arrives lets the endpoint fail
/// with 1007 at the first invalid byte ("fail fast", RFC 6455 8.1) instead of buffering a whole
/// message first, and costs nothing per byte beyond the check itself.
public struct UTF8StreamValidator: Sendable, Equatable {
    /// Continuation bytes still expected for the current code point.
    private var pending: UInt8 = 0
    /// Allowed range of the next continuation byte (narrower right after E0, ED, F0, F4).
    private var lower: UInt8 = 0x80
    private var upper: UInt8 = 0xBF

    public init() {}

    /// True when no code point is left incomplete (a message may end here).
    public var isAtBoundary: Bool { pending == 0 }

    /// Checks the next bytes; false at the first byte that cannot continue valid UTF-8.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        let n = bytes.count
        var i = 0
        while i < n {
            if pending > 0 {
                let b = bytes[i]
                if b < lower || b > upper { return false }
                lower = 0x80
                upper = 0xBF
                pending -= 1
                i += 1
                continue
            }
            while i + 8 <= n && base.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                i += 8
            }
            guard i < n else { break }
            let b0 = bytes[i]
            i += 1
            switch b0 {
            case 0x00...0x7F: continue
            case 0xC2...0xDF: pending = 1
            case 0xE0: pending = 2; lower = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: pending = 2
            case 0xED: pending = 2; upper = 0x9F
            case 0xF0: pending = 3; lower = 0x90
            case 0xF1...0xF3: pending = 3
            case 0xF4: pending = 3; upper = 0x8F
            default: return false
            }
        }
        return true
    }

    public mutating func feed(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { feed($0) }
    }
}
