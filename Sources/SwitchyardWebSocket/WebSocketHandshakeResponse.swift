/// The server's answer to an opening handshake, as parsed from the wire.
///
/// Kept verbatim (status line, headers in order, raw head) because tests assert on exact
/// gateway output, including non-RFC headers such as `Sec-WebSocket-Location` from the seed.
public struct WebSocketHandshakeResponse: Sendable, Equatable {
    public var statusLine: String
    public var status: Int
    /// Header fields in order received; names as sent, values trimmed of spaces and tabs.
    public var headers: [(String, String)]
    /// Everything up to and including the blank line.
    public var rawHead: String

    public init(statusLine: String, status: Int, headers: [(String, String)], rawHead: String) {
        self.statusLine = statusLine
        self.status = status
        self.headers = headers
        self.rawHead = rawHead
    }

    /// The first value of header `name` (case-insensitive), nil if absent.
    public func header(_ name: String) -> String? {
        headers.first { asciiEqualsIgnoringCase($0.0, name) }?.1
    }

    /// All values of header `name` (case-insensitive), in order.
    public func headers(named name: String) -> [String] {
        headers.filter { asciiEqualsIgnoringCase($0.0, name) }.map { $0.1 }
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.statusLine == rhs.statusLine && lhs.status == rhs.status && lhs.rawHead == rhs.rawHead
            && lhs.headers.count == rhs.headers.count
            && zip(lhs.headers, rhs.headers).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    }
}

/// ASCII case-insensitive comparison without building lower-cased copies.
func asciiEqualsIgnoringCase(_ a: String, _ b: String) -> Bool {
    guard a.utf8.count == b.utf8.count else { return false }
    for (x, y) in zip(a.utf8, b.utf8) where x != y {
        let lx = x >= 0x41 && x <= 0x5A ? x | 0x20 : x
        let ly = y >= 0x41 && y <= 0x5A ? y | 0x20 : y
        if lx != ly { return false }
    }
    return true
}
