/// Turns an arbitrary byte stream (what a tunnel backend writes) into pieces that are valid UTF-8,
/// so each piece can go out as a complete text frame.
///
/// A plain socket program writes whatever it likes, split wherever its writes and the kernel split
/// it: a multi-byte character may straddle two reads, and some bytes may not be UTF-8 at all.
/// lighttpd's mod_wstunnel sends such bytes in text frames anyway, and a conforming client then
/// fails the connection with 1007. Here:
/// - an incomplete sequence at the end of a chunk (at most 3 bytes) is held back and completed by
///   the next chunk, so a character split between reads arrives intact;
/// - a byte that cannot start or continue valid UTF-8 is replaced by U+FFFD (EF BF BD), the
///   WHATWG decoder's rule, so the connection survives and the client still gets a valid frame.
///   The replacement count is reported so the gateway can log it: binary data belongs on
///   `wstunnel.frame-type = "binary"` (or the `binary` subprotocol), which carries bytes unchanged.
public struct UTF8TextChunker: Sendable, Equatable {
    /// Bytes of an incomplete sequence carried to the next call (0...3 of them).
    public private(set) var carry: [UInt8] = []

    public init() {}

    private static let replacement: [UInt8] = [0xEF, 0xBF, 0xBD]

    /// Appends the valid UTF-8 of `carry + bytes` to `out`; returns how many invalid sequences
    /// were replaced by U+FFFD.
    @discardableResult
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) -> Int {
        guard !carry.isEmpty else { return scan(bytes, into: &out) }
        // Rare: a character split between two backend reads. Only then are the bytes copied.
        var input = carry
        input.append(contentsOf: bytes)
        carry.removeAll(keepingCapacity: true)
        return input.withUnsafeBytes { scan($0, into: &out) }
    }

    /// Copies runs of valid UTF-8 to `out` whole (the tunnel's per-message path: no per-byte
    /// appends), replacing what is invalid and keeping an incomplete tail in `carry`.
    private mutating func scan(_ input: UnsafeRawBufferPointer, into out: inout [UInt8]) -> Int {
        var replaced = 0
        var i = 0
        var runStart = 0
        let n = input.count
        out.reserveCapacity(out.count + n)
        func flushRun(to end: Int, _ out: inout [UInt8]) {
            if end > runStart { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[runStart..<end])) }
        }
        while i < n {
            // ASCII eight bytes at a time.
            while i + 8 <= n && input.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 { i += 8 }
            guard i < n else { break }
            let b0 = input[i]
            if b0 < 0x80 { i += 1; continue }
            guard let (length, lower, upper) = Self.leadInfo(b0) else {
                flushRun(to: i, &out)
                out.append(contentsOf: Self.replacement); replaced += 1; i += 1; runStart = i; continue
            }
            // Check the continuation bytes present; the first one has the narrowed range.
            var j = 1
            var valid = true
            while j < length && i + j < n {
                let b = input[i + j]
                let lo: UInt8 = j == 1 ? lower : 0x80
                let hi: UInt8 = j == 1 ? upper : 0xBF
                if b < lo || b > hi { valid = false; break }
                j += 1
            }
            if !valid {
                // Maximal subpart replaced by one U+FFFD, then resume at the offending byte.
                flushRun(to: i, &out)
                out.append(contentsOf: Self.replacement); replaced += 1; i += j; runStart = i; continue
            }
            if j < length {
                flushRun(to: i, &out)
                carry.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[i..<n]))   // incomplete: wait for more
                return replaced
            }
            i += length
        }
        flushRun(to: n, &out)
        return replaced
    }

    @discardableResult
    public mutating func feed(_ bytes: [UInt8], into out: inout [UInt8]) -> Int {
        bytes.withUnsafeBytes { feed($0, into: &out) }
    }

    /// End of stream: a held-back incomplete sequence becomes one U+FFFD. Returns replacements.
    @discardableResult
    public mutating func finish(into out: inout [UInt8]) -> Int {
        guard !carry.isEmpty else { return 0 }
        carry.removeAll()
        out.append(contentsOf: Self.replacement)
        return 1
    }

    /// Sequence length and the allowed range of the first continuation byte (RFC 3629 table).
    private static func leadInfo(_ b0: UInt8) -> (Int, UInt8, UInt8)? {
        switch b0 {
        case 0xC2...0xDF: return (2, 0x80, 0xBF)
        case 0xE0: return (3, 0xA0, 0xBF)
        case 0xE1...0xEC, 0xEE...0xEF: return (3, 0x80, 0xBF)
        case 0xED: return (3, 0x80, 0x9F)
        case 0xF0: return (4, 0x90, 0xBF)
        case 0xF1...0xF3: return (4, 0x80, 0xBF)
        case 0xF4: return (4, 0x80, 0x8F)
        default: return nil
        }
    }
}
