/// SHA-1 (FIPS 180-4), only for the `Sec-WebSocket-Accept` computation.
///
/// Linux has no CommonCrypto and the package takes no dependencies; SHA-1 is not used for any
/// security property here (RFC 6455 only uses it to prove the server understood the handshake).
public enum SHA1 {
    /// The 20-byte digest of `bytes`.
    public static func hash(_ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBytes { hash($0) }
    }

    /// The 20-byte digest of `bytes`. The schedule and the padded tail live on the stack:
    /// a benchmark client computes one of these per upgrade.
    public static func hash(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var h: (UInt32, UInt32, UInt32, UInt32, UInt32) = (0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0)
        let bitLength = UInt64(bytes.count) &* 8
        let fullBlocks = bytes.count / 64
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 80) { w in
            for block in 0..<fullBlocks { compress(bytes.baseAddress! + block * 64, &h, w) }
            // Message tail plus padding: 0x80, zeros, 64-bit big-endian bit length (one or two blocks).
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 128) { tail in
                let rest = bytes.count - fullBlocks * 64
                for i in 0..<rest { tail[i] = bytes[fullBlocks * 64 + i] }
                tail[rest] = 0x80
                let tailLength = rest + 1 + 8 <= 64 ? 64 : 128
                for i in (rest + 1)..<(tailLength - 8) { tail[i] = 0 }
                for i in 0..<8 { tail[tailLength - 8 + i] = UInt8(truncatingIfNeeded: bitLength >> UInt64(56 - 8 * i)) }
                let base = UnsafeRawPointer(tail.baseAddress!)
                for block in 0..<(tailLength / 64) { compress(base + block * 64, &h, w) }
            }
        }
        return [UInt8](unsafeUninitializedCapacity: 20) { out, count in
            let raw = UnsafeMutableRawPointer(out.baseAddress!)
            raw.storeBytes(of: h.0.bigEndian, toByteOffset: 0, as: UInt32.self)
            raw.storeBytes(of: h.1.bigEndian, toByteOffset: 4, as: UInt32.self)
            raw.storeBytes(of: h.2.bigEndian, toByteOffset: 8, as: UInt32.self)
            raw.storeBytes(of: h.3.bigEndian, toByteOffset: 12, as: UInt32.self)
            raw.storeBytes(of: h.4.bigEndian, toByteOffset: 16, as: UInt32.self)
            count = 20
        }
    }

    private static func compress(_ block: UnsafeRawPointer,
                                 _ h: inout (UInt32, UInt32, UInt32, UInt32, UInt32),
                                 _ w: UnsafeMutableBufferPointer<UInt32>) {
        for t in 0..<16 {
            w[t] = UInt32(bigEndian: block.loadUnaligned(fromByteOffset: t * 4, as: UInt32.self))
        }
        for t in 16..<80 {
            w[t] = rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1)
        }
        var (a, b, c, d, e) = h
        // The four rounds of 20 steps each in a loop of its own: no per-step choice of function.
        @inline(__always) func step(_ f: UInt32, _ k: UInt32, _ t: Int) {
            let temp = rotl(a, 5) &+ f &+ e &+ k &+ w[t]
            e = d
            d = c
            c = rotl(b, 30)
            b = a
            a = temp
        }
        for t in 0..<20 { step((b & c) | (~b & d), 0x5A82_7999, t) }
        for t in 20..<40 { step(b ^ c ^ d, 0x6ED9_EBA1, t) }
        for t in 40..<60 { step((b & c) | (b & d) | (c & d), 0x8F1B_BCDC, t) }
        for t in 60..<80 { step(b ^ c ^ d, 0xCA62_C1D6, t) }
        h.0 &+= a
        h.1 &+= b
        h.2 &+= c
        h.3 &+= d
        h.4 &+= e
    }

    @inline(__always)
    private static func rotl(_ x: UInt32, _ n: UInt32) -> UInt32 { (x << n) | (x >> (32 - n)) }
}
