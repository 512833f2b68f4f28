import SwitchyardWebSocket

/// The deterministic payloads: message `n` of connection `c` is `size` bytes of one precomputed
/// pseudo-random sequence starting at an offset derived from (c, n). Nothing is generated per
/// message: the sender masks straight from the pattern into its output buffer and the receiver
/// compares the echo against the same bytes with `memcmp`.
///
/// Consecutive messages start one byte apart in a random sequence, so a dropped, duplicated or
/// reordered echo differs at almost every byte. Text patterns use printable 7-bit ASCII only
/// (0x20...0x7E), which every echo, including the seed `ws_echo.py`, returns intact.
/// `@unchecked Sendable`: the bytes behind `storage` are written once in `init` and only read
/// afterwards, by every load thread.
public final class PayloadPattern: @unchecked Sendable {
    /// Number of distinct start offsets (prime, so connection and message strides do not align).
    public static let period = 4093

    public let size: Int
    public let binary: Bool
    public let storage: UnsafeMutableRawPointer
    public let length: Int

    public init(size: Int, binary: Bool, seed: UInt64 = 0x5357_4954_4348_5944) {
        self.size = size
        self.binary = binary
        length = size + PayloadPattern.period
        storage = UnsafeMutableRawPointer.allocate(byteCount: length, alignment: 16)
        var random = FastRandom(seed: seed)
        var i = 0
        while i < length {
            var word = random.next()
            for _ in 0..<8 where i < length {
                let byte = UInt8(truncatingIfNeeded: word)
                storage.storeBytes(of: binary ? byte : 0x20 + byte % 95, toByteOffset: i, as: UInt8.self)
                word >>= 8
                i += 1
            }
        }
    }

    deinit { storage.deallocate() }

    @inline(__always)
    public func offset(connection: Int, message: UInt64) -> Int {
        Int(truncatingIfNeeded: (message &+ UInt64(truncatingIfNeeded: connection) &* 7919) % UInt64(PayloadPattern.period))
    }

    /// The first byte of message `message` of connection `connection`; `size` bytes are readable.
    @inline(__always)
    public func payload(connection: Int, message: UInt64) -> UnsafeRawPointer {
        UnsafeRawPointer(storage + offset(connection: connection, message: message))
    }
}
