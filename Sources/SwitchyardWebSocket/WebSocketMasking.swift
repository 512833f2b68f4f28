/// The RFC 6455 section 5.3 masking transform (XOR with a repeating 4-byte key).
///
/// Separate from the codec so a relay can unmask in place inside its own buffers; the loop XORs
/// eight bytes at a time with unaligned loads and never allocates.
public enum WebSocketMasking {
    /// XORs `count` bytes from `source` into `destination` (the two may be the same address).
    ///
    /// - Parameters:
    ///   - key: the big-endian masking key (`WebSocketFrame.maskKey`).
    ///   - phase: index into the key of the first byte (0 at the start of a payload); lets a caller
    ///     unmask a payload that arrives in pieces.
    /// - Returns: the phase for the byte after the last one processed.
    @inlinable
    @discardableResult
    public static func apply(key: UInt32, phase: Int = 0,
                             from source: UnsafeRawPointer, to destination: UnsafeMutableRawPointer,
                             count: Int) -> Int {
        let p = phase & 3
        let rotated: UInt32 = p == 0 ? key : (key << UInt32(8 * p)) | (key >> UInt32(32 - 8 * p))
        // In memory, `rotated.bigEndian` holds the key bytes in wire order starting at `phase`.
        let m32 = rotated.bigEndian
        let m64 = UInt64(m32) | (UInt64(m32) << 32)
        var i = 0
        while i &+ 8 <= count {
            let w = source.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            destination.storeBytes(of: w ^ m64, toByteOffset: i, as: UInt64.self)
            i &+= 8
        }
        // i is a multiple of 8, so the tail starts again at key byte `p`.
        while i < count {
            let shift = UInt32(24 - 8 * (i & 3))
            let k = UInt8(truncatingIfNeeded: rotated >> shift)
            let b = source.load(fromByteOffset: i, as: UInt8.self)
            destination.storeBytes(of: b ^ k, toByteOffset: i, as: UInt8.self)
            i &+= 1
        }
        return (p &+ count) & 3
    }

    /// Masks or unmasks `buffer` in place; returns the next phase.
    @inlinable
    @discardableResult
    public static func apply(key: UInt32, phase: Int = 0, inPlace buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return phase & 3 }
        return apply(key: key, phase: phase, from: UnsafeRawPointer(base), to: base, count: buffer.count)
    }

    /// Masks or unmasks `bytes` in place; returns the next phase.
    @inlinable
    @discardableResult
    public static func apply(key: UInt32, phase: Int = 0, inPlace bytes: inout [UInt8]) -> Int {
        bytes.withUnsafeMutableBytes { apply(key: key, phase: phase, inPlace: $0) }
    }
}
