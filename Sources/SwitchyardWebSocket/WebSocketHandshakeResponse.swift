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
        let wanted = name.lowercased()
        return headers.first { $0.0.lowercased() == wanted }?.1
    }

    /// All values of header `name` (case-insensitive), in order.
    public func headers(named name: String) -> [String] {
        let wanted = name.lowercased()
        return headers.filter { $0.0.lowercased() == wanted }.map { $0.1 }
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.statusLine == rhs.statusLine && lhs.status == rhs.status && lhs.rawHead == rhs.rawHead
            && lhs.headers.count == rhs.headers.count
            && zip(lhs.headers, rhs.headers).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    }
}
