/// The key/accept arithmetic of the RFC 6455 opening handshake (section 4).
///
/// Shared by the gateway (which computes `Sec-WebSocket-Accept`) and the clients (which generate a
/// key and check the server's answer).
public enum WebSocketHandshake {
    public static let magicGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    /// base64(sha1(key + GUID)), the expected `Sec-WebSocket-Accept` for `key`.
    public static func acceptValue(forKey key: String) -> String {
        // key and GUID side by side on the stack (a key is 24 bytes; anything longer goes to the heap).
        var key = key
        return key.withUTF8 { k in
            let guid = magicGUID.utf8
            return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: k.count + guid.count) { joined in
                _ = UnsafeMutableBufferPointer(rebasing: joined[0..<k.count]).initialize(fromContentsOf: k)
                _ = UnsafeMutableBufferPointer(rebasing: joined[k.count...]).initialize(fromContentsOf: guid)
                let digest = SHA1.hash(UnsafeRawBufferPointer(joined))
                return digest.withUnsafeBufferPointer { Base64.encode($0) }
            }
        }
    }

    /// A fresh `Sec-WebSocket-Key`: 16 random bytes, base64 (24 characters).
    public static func generateKey<G: RandomNumberGenerator>(using generator: inout G) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16)
        for _ in 0..<2 {
            let v = generator.next() as UInt64
            for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt64(shift))) }
        }
        return Base64.encode(bytes)
    }

    /// A fresh `Sec-WebSocket-Key` from the system generator.
    public static func generateKey() -> String {
        var generator = SystemRandomNumberGenerator()
        return generateKey(using: &generator)
    }

    /// True if `key` is a valid client key: base64 of exactly 16 bytes (RFC 6455 section 4.1).
    public static func isValidKey(_ key: String) -> Bool {
        Base64.decode(key)?.count == 16
    }
}
