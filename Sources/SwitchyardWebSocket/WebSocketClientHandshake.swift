/// Sans-I/O client side of the opening handshake: request bytes out, response parsed and checked.
///
/// The blocking `WebSocketClient` and the epoll benchmark share it so both send the same request
/// and apply the same acceptance rules.
public struct WebSocketClientHandshake: Sendable {
    /// Outcome of `parseResponse`.
    public enum ParseResult: Sendable, Equatable {
        /// The blank line that ends the head has not arrived yet.
        case needMore
        /// The head is complete; `consumed` bytes belong to it, anything after is frame data.
        case done(WebSocketHandshakeResponse, consumed: Int)
        /// Not an HTTP/1.x response head (or longer than the limit).
        case invalid(String)
    }

    /// The `Host` header value, e.g. "127.0.0.1:8080" or "[::1]:8080".
    public var host: String
    /// Request target, e.g. "/ws?x=1".
    public var path: String
    public var origin: String?
    /// The `Sec-WebSocket-Key`.
    public var key: String
    /// Sent after the standard headers, in order.
    public var extraHeaders: [(String, String)]
    /// Offered in `Sec-WebSocket-Protocol` when not empty.
    public var subprotocols: [String]

    public init(host: String, path: String, origin: String? = nil, key: String = WebSocketHandshake.generateKey(),
                extraHeaders: [(String, String)] = [], subprotocols: [String] = []) {
        self.host = host
        self.path = path.isEmpty ? "/" : path
        self.origin = origin
        self.key = key
        self.extraHeaders = extraHeaders
        self.subprotocols = subprotocols
    }

    /// The `Sec-WebSocket-Accept` a correct server returns for `key`.
    public var expectedAccept: String { WebSocketHandshake.acceptValue(forKey: key) }

    /// The GET request with Upgrade, Connection, Sec-WebSocket-Key/-Version, Origin, protocols and extras.
    public func requestBytes() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(160 + path.utf8.count + host.utf8.count + (origin?.utf8.count ?? 0))
        func add(_ parts: String...) { for p in parts { out.append(contentsOf: p.utf8) } }
        add("GET ", path, " HTTP/1.1\r\nHost: ", host, "\r\n")
        add("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ", key, "\r\n")
        add("Sec-WebSocket-Version: 13\r\n")
        if let origin { add("Origin: ", origin, "\r\n") }
        if !subprotocols.isEmpty { add("Sec-WebSocket-Protocol: ", subprotocols.joined(separator: ", "), "\r\n") }
        for (name, value) in extraHeaders { add(name, ": ", value, "\r\n") }
        add("\r\n")
        return out
    }

    /// Parses a response head from the start of `input`. Lines may end in CRLF or bare LF.
    public static func parseResponse(_ input: UnsafeRawBufferPointer, maxHeadLength: Int = 65536) -> ParseResult {
        let lf = UInt8(ascii: "\n"), cr = UInt8(ascii: "\r")
        var lines: [Range<Int>] = []
        var lineStart = 0
        var end: Int? = nil
        var i = 0
        let limit = min(input.count, maxHeadLength)
        while i < limit {
            if input[i] == lf {
                var lineEnd = i
                if lineEnd > lineStart && input[lineEnd - 1] == cr { lineEnd -= 1 }
                if lineEnd == lineStart {
                    if lines.isEmpty { return .invalid("empty status line") }
                    end = i + 1
                    break
                }
                lines.append(lineStart..<lineEnd)
                lineStart = i + 1
            }
            i += 1
        }
        guard let headEnd = end else {
            if input.count >= maxHeadLength { return .invalid("response head longer than \(maxHeadLength) bytes") }
            if input.count >= 5 && !input[0..<5].elementsEqual("HTTP/".utf8) { return .invalid("not an HTTP response") }
            return .needMore
        }
        func text(_ r: Range<Int>) -> String { String(decoding: UnsafeRawBufferPointer(rebasing: input[r]), as: UTF8.self) }

        // "HTTP/1.x SP 3DIGIT [SP reason]", checked as bytes.
        let statusLine = text(lines[0])
        let sl = lines[0]
        func digit(_ i: Int) -> Int? {
            let b = input[i]
            return b >= 0x30 && b <= 0x39 ? Int(b - 0x30) : nil
        }
        var status = 0
        let wellFormed: Bool = {
            guard sl.count >= 12, input[sl.lowerBound..<(sl.lowerBound + 7)].elementsEqual("HTTP/1.".utf8) else { return false }
            var p = sl.lowerBound + 7
            while p < sl.upperBound && input[p] != 0x20 { p += 1 }
            guard p + 4 <= sl.upperBound, let d0 = digit(p + 1), let d1 = digit(p + 2), let d2 = digit(p + 3),
                  p + 4 == sl.upperBound || input[p + 4] == 0x20 else { return false }
            status = d0 * 100 + d1 * 10 + d2
            return true
        }()
        guard wellFormed else { return .invalid("malformed status line: \(statusLine)") }
        // Header lines are scanned as bytes (the benchmark parses one head per upgrade).
        let sp = UInt8(ascii: " "), tab = UInt8(ascii: "\t"), colonByte = UInt8(ascii: ":")
        var headers: [(String, String)] = []
        headers.reserveCapacity(lines.count - 1)
        for r in lines.dropFirst() {
            var a = r.lowerBound, b = r.upperBound
            if input[a] == sp || input[a] == tab {
                // Obsolete line folding: append to the previous value.
                guard !headers.isEmpty else { return .invalid("continuation line before any header") }
                while a < b && (input[a] == sp || input[a] == tab) { a += 1 }
                while b > a && (input[b - 1] == sp || input[b - 1] == tab) { b -= 1 }
                headers[headers.count - 1].1 += " " + text(a..<b)
                continue
            }
            var colon = a
            while colon < b && input[colon] != colonByte { colon += 1 }
            guard colon < b else { return .invalid("header line without a colon: \(text(r))") }
            if colon == a || input[a..<colon].contains(where: { $0 == sp || $0 == tab }) {
                return .invalid("malformed header name: \(text(a..<colon))")
            }
            var v = colon + 1
            while v < b && (input[v] == sp || input[v] == tab) { v += 1 }
            while b > v && (input[b - 1] == sp || input[b - 1] == tab) { b -= 1 }
            headers.append((text(a..<colon), text(v..<b)))
        }
        let response = WebSocketHandshakeResponse(statusLine: statusLine, status: status, headers: headers,
                                                  rawHead: text(0..<headEnd))
        return .done(response, consumed: headEnd)
    }

    /// Parses a response head from the start of `bytes`.
    public static func parseResponse(_ bytes: [UInt8], maxHeadLength: Int = 65536) -> ParseResult {
        bytes.withUnsafeBytes { parseResponse($0, maxHeadLength: maxHeadLength) }
    }

    /// nil if `response` completes this handshake: status 101, `Upgrade: websocket` and a
    /// `Connection` containing `upgrade` (both case-insensitive), the right accept value (unless
    /// `checkAccept` is false), no unrequested extension, and a protocol only if one was offered.
    /// Otherwise a sentence saying what is wrong.
    public func validate(_ response: WebSocketHandshakeResponse, checkAccept: Bool = true) -> String? {
        guard response.status == 101 else { return "status \(response.status), expected 101" }
        guard let upgrade = response.header("Upgrade") else { return "no Upgrade header" }
        guard asciiEqualsIgnoringCase(upgrade, "websocket") else { return "Upgrade is \"\(upgrade)\", expected websocket" }
        let hasUpgradeToken = response.headers(named: "Connection").contains { value in
            value.split(separator: ",").contains { asciiEqualsIgnoringCase(trim($0), "upgrade") }
        }
        guard hasUpgradeToken else { return "Connection header does not contain upgrade" }
        if checkAccept {
            let got = response.header("Sec-WebSocket-Accept")
            if got != expectedAccept { return "Sec-WebSocket-Accept is \(got.map { "\"\($0)\"" } ?? "missing"), expected \"\(expectedAccept)\"" }
        }
        if let ext = response.header("Sec-WebSocket-Extensions"), !ext.isEmpty {
            return "server selected extensions that were not offered: \(ext)"
        }
        if let proto = response.header("Sec-WebSocket-Protocol") {
            if !subprotocols.contains(proto) { return "server selected protocol \"\(proto)\" that was not offered" }
        }
        return nil
    }
}

private func trim(_ s: Substring) -> String {
    var t = s
    while let f = t.first, f == " " || f == "\t" { t.removeFirst() }
    while let l = t.last, l == " " || l == "\t" { t.removeLast() }
    return String(t)
}
