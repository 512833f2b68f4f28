import Glibc

/// Matches client addresses against `$HTTP["remote-ip"] == "10.0.0.0/8"` style patterns by address bytes,
/// not by string, so `::ffff:10.1.2.3` (an IPv4 client on a dual-stack listener) still falls in `10.0.0.0/8`.
public struct IPAddressMatcher: Sendable, Equatable {
    /// Network address, 4 or 16 bytes.
    let network: [UInt8]
    /// Prefix length in bits.
    let prefixLength: Int

    /// Parses `addr` or `addr/bits`; `nil` if `pattern` is not an IP address (then string comparison applies).
    public init?(pattern: String) {
        var address = Substring(pattern)
        var bits: Int?
        if let slash = pattern.firstIndex(of: "/") {
            address = pattern[..<slash]
            guard let b = Int(pattern[pattern.index(after: slash)...]), b >= 0 else { return nil }
            bits = b
        }
        guard let bytes = IPAddressMatcher.parse(String(address)) else { return nil }
        let maximum = bytes.count * 8
        let length = bits ?? maximum
        guard length <= maximum else { return nil }
        network = bytes
        prefixLength = length
    }

    /// Whether `address` (textual, optionally `[bracketed]` or with a `%zone`) lies in the network.
    public func contains(_ address: String) -> Bool {
        guard var bytes = IPAddressMatcher.parse(address) else { return false }
        if network.count == 4, bytes.count == 16 {
            guard let v4 = IPAddressMatcher.unmapped(bytes) else { return false }
            bytes = v4
        } else if network.count == 16, bytes.count == 4 {
            bytes = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] + bytes
        }
        var remaining = prefixLength
        var index = 0
        while remaining > 0 {
            let mask: UInt8 = remaining >= 8 ? 0xff : UInt8(truncatingIfNeeded: 0xff << (8 - remaining))
            if bytes[index] & mask != network[index] & mask { return false }
            remaining -= 8
            index += 1
        }
        return true
    }

    /// The IPv4 address inside an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`).
    private static func unmapped(_ bytes: [UInt8]) -> [UInt8]? {
        guard bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xff, bytes[11] == 0xff else { return nil }
        return Array(bytes[12..<16])
    }

    /// 4 or 16 address bytes via `inet_pton`.
    static func parse(_ text: String) -> [UInt8]? {
        var s = Substring(text)
        if s.hasPrefix("["), s.hasSuffix("]") { s = s.dropFirst().dropLast() }
        if let percent = s.firstIndex(of: "%") { s = s[..<percent] }
        let candidate = String(s)
        var v4 = in_addr()
        if inet_pton(AF_INET, candidate, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, candidate, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }
}
