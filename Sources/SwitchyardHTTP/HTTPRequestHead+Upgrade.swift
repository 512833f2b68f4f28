extension HTTPRequestHead {
    /// True when the `Upgrade` header lists `token` (a lower-case protocol name such as
    /// "websocket"), compared case-insensitively per element of the comma-separated list.
    /// Scans the bytes in place: it runs for every request on an upgrade-enabled route.
    public func upgradeOffers(_ token: StaticString) -> Bool {
        guard var value = upgrade else { return false }
        return value.withUTF8 { bytes in
            var start = 0
            while start <= bytes.count {
                var end = start
                while end < bytes.count && bytes[end] != ASCII.comma { end += 1 }
                var a = start, b = end
                while a < b && ASCII.isWhitespace(bytes[a]) { a += 1 }
                while b > a && ASCII.isWhitespace(bytes[b - 1]) { b -= 1 }
                if ASCII.equalsLowercased(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[a..<b])), token) { return true }
                start = end + 1
            }
            return false
        }
    }
}
