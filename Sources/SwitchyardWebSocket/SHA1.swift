/// SHA-1 (FIPS 180-4), only for the `Sec-WebSocket-Accept` computation.
///
/// Linux has no CommonCrypto and the package takes no dependencies; SHA-1 is not used for any
/// security property here (RFC 6455 only uses it to prove the server understood the handshake).
public enum SHA1 {
    /// The 20-byte digest of `bytes`.
    public static func hash(_ bytes: [UInt8]) -> [UInt8] {
        var h: (UInt32, UInt32, UInt32, UInt32, UInt32) = (0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0)
        var w = [UInt32](repeating: 0, count: 80)
        let bitLength = UInt64(bytes.count) &* 8

        // Message plus padding: 0x80, zeros, 64-bit big-endian bit length, to a multiple of 64.
        let fullBlocks = bytes.count / 64
        var tail = Array(bytes[(fullBlocks * 64)...])
        tail.append(0x80)
        while tail.count % 64 != 56 { tail.append(0) }
        for shift in stride(from: 56, through: 0, by: -8) { tail.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift))) }

        bytes.withUnsafeBytes { raw in
            for block in 0..<fullBlocks { compress(raw.baseAddress! + block * 64, &h, &w) }
        }
        tail.withUnsafeBytes { raw in
            for block in 0..<(tail.count / 64) { compress(raw.baseAddress! + block * 64, &h, &w) }
        }

        var digest: [UInt8] = []
        digest.reserveCapacity(20)
        for word in [h.0, h.1, h.2, h.3, h.4] {
            digest.append(UInt8(truncatingIfNeeded: word >> 24))
            digest.append(UInt8(truncatingIfNeeded: word >> 16))
            digest.append(UInt8(truncatingIfNeeded: word >> 8))
            digest.append(UInt8(truncatingIfNeeded: word))
        }
        return digest
    }

    private static func compress(_ block: UnsafeRawPointer,
                                 _ h: inout (UInt32, UInt32, UInt32, UInt32, UInt32),
                                 _ w: inout [UInt32]) {
        for t in 0..<16 {
            w[t] = UInt32(bigEndian: block.loadUnaligned(fromByteOffset: t * 4, as: UInt32.self))
        }
        for t in 16..<80 {
            w[t] = rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1)
        }
        var (a, b, c, d, e) = h
        for t in 0..<80 {
            let f: UInt32
            let k: UInt32
            switch t {
            case 0..<20: f = (b & c) | (~b & d); k = 0x5A82_7999
            case 20..<40: f = b ^ c ^ d; k = 0x6ED9_EBA1
            case 40..<60: f = (b & c) | (b & d) | (c & d); k = 0x8F1B_BCDC
            default: f = b ^ c ^ d; k = 0xCA62_C1D6
            }
            let temp = rotl(a, 5) &+ f &+ e &+ k &+ w[t]
            e = d
            d = c
            c = rotl(b, 30)
            b = a
            a = temp
        }
        h.0 &+= a
        h.1 &+= b
        h.2 &+= c
        h.3 &+= d
        h.4 &+= e
    }

    @inline(__always)
    private static func rotl(_ x: UInt32, _ n: UInt32) -> UInt32 { (x << n) | (x >> (32 - n)) }
}
