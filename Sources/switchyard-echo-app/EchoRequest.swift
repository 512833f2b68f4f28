import SwitchyardGatewayCodecs
import SwitchyardWebSocket

/// What a request asks for, decided from its CGI environment alone, and the CGI header block
/// that answers it.
enum EchoRequest {
    /// `Upgrade: websocket` (any case) with a `Sec-WebSocket-Key`: answer 101, then echo frames.
    case webSocket(key: String)
    /// Anything else: 200 text/plain "echo-app ok METHOD URI\n", then the request body echoed.
    /// `contentLength` is nil when the gateway did not say (the response then has no length).
    case plain(method: String, uri: String, contentLength: Int?)
    /// A request the app will not serve (a CONTENT_LENGTH that is not a decimal number, or one so
    /// large that the response length would not fit): answered with `status` and `reason` as its
    /// text body, its body is not read, and `reason` goes to the log.
    case rejected(status: String, reason: String)

    /// Largest CONTENT_LENGTH echoed (1 TiB): far beyond any real echo, far below where the
    /// response's Content-Length (greeting + body) could overflow.
    static let maxContentLength = 1 << 40

    init(_ env: CGIEnvironment) {
        if let upgrade = env["HTTP_UPGRADE"], upgrade.lowercased() == "websocket",
           let key = env["HTTP_SEC_WEBSOCKET_KEY"], !key.isEmpty {
            self = .webSocket(key: key)
            return
        }
        let method = env["REQUEST_METHOD"] ?? "GET"
        let uri = env["REQUEST_URI"] ?? ((env["SCRIPT_NAME"] ?? "") + (env["PATH_INFO"] ?? ""))
        // FastCGI gateways leave CONTENT_LENGTH out of body-less requests; a GET/HEAD without it
        // has no body, anything else may be streaming one of unknown length.
        var length: Int? = nil
        if let text = env["CONTENT_LENGTH"], !text.isEmpty {
            switch Self.parseLength(text) {
            case .value(let n): length = n
            case .invalid:
                self = .rejected(status: "400 Bad Request", reason: "CONTENT_LENGTH \(Self.shown(text)) is not a decimal number")
                return
            case .tooLarge:
                self = .rejected(status: "413 Content Too Large",
                                 reason: "CONTENT_LENGTH \(Self.shown(text)) exceeds \(Self.maxContentLength) bytes")
                return
            }
        }
        if length == nil && (method == "GET" || method == "HEAD") { length = 0 }
        self = .plain(method: method, uri: uri, contentLength: length)
    }

    private enum ParsedLength { case value(Int), invalid, tooLarge }

    /// Digits only (no sign, no spaces: `Int(String)` would take "+5"); never overflows, whatever
    /// the number of digits.
    private static func parseLength(_ text: String) -> ParsedLength {
        var n = 0
        var tooLarge = false
        for c in text.utf8 {
            guard c >= 0x30 && c <= 0x39 else { return .invalid }
            if !tooLarge {
                n = n * 10 + Int(c - 0x30)
                tooLarge = n > maxContentLength
            }
        }
        return tooLarge ? .tooLarge : .value(n)
    }

    /// A hostile value for the log: printable ASCII only (no forged log lines), cut short, quoted.
    private static func shown(_ text: String) -> String {
        let printable = text.utf8.prefix(40).map { $0 >= 0x20 && $0 < 0x7F ? $0 : 0x3F }
        return "\"" + String(decoding: printable, as: UTF8.self) + (text.utf8.count > 40 ? "...\"" : "\"")
    }

    /// Declared request body bytes (0 when not declared).
    var declaredBodyLength: Int {
        if case .plain(_, _, let n?) = self { return max(n, 0) }
        return 0
    }

    /// The CGI response header block (and, for a plain or rejected request, the start of the body).
    func responseHead() -> [UInt8] {
        switch self {
        case .webSocket(let key):
            return Array(("Status: 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          + "Sec-WebSocket-Accept: \(WebSocketHandshake.acceptValue(forKey: key))\r\n\r\n").utf8)
        case .plain(let method, let uri, let contentLength):
            let greeting = "echo-app ok \(method) \(uri)\n"
            var head = "Status: 200 OK\r\nContent-Type: text/plain\r\n"
            if let contentLength, contentLength >= 0 {
                head += "Content-Length: \(greeting.utf8.count + contentLength)\r\n"
            }
            return Array((head + "\r\n" + greeting).utf8)
        case .rejected(let status, let reason):
            let text = "echo-app: \(reason)\n"
            return Array(("Status: \(status)\r\nContent-Type: text/plain\r\nContent-Length: \(text.utf8.count)\r\n\r\n" + text).utf8)
        }
    }
}
