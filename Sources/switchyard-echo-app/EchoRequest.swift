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
        var length = env["CONTENT_LENGTH"].flatMap { Int($0) }
        if length == nil && (method == "GET" || method == "HEAD") { length = 0 }
        self = .plain(method: method, uri: uri, contentLength: length)
    }

    /// Declared request body bytes (0 when not declared).
    var declaredBodyLength: Int {
        if case .plain(_, _, let n?) = self { return max(n, 0) }
        return 0
    }

    /// The CGI response header block (and, for a plain request, the start of the body).
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
        }
    }
}
