import SwitchyardHTTP
import SwitchyardGatewayCodecs

/// Interim heads and the `proxy.debug` lines of an exchange. Debug lines go to the error log at
/// level info, prefixed "proxy debug:", so an operator can follow one request through the gateway
/// (host chosen, request line, connection new or reused, status, upgrade) without a packet capture.
extension GatewayExchange {
    /// A backend's interim head (103 Early Hints, 100 Continue, 102): relayed to the client before
    /// the final head (the client exchange decides whether it may have one: HTTP/1.1 only).
    func relayInterim(_ cgi: CGIResponseHead) {
        if debug > 0 { errorLog.info(label, "proxy debug: interim response \(cgi.status) from the backend") }
        guard let connection else { return }
        var head = HTTPResponseHead(status: cgi.status, reason: cgi.reason)
        for (name, value) in cgi.headers { head.headers.add(name: name, value: value) }
        connection.sendInterim(head)
    }

    func logResponse(_ cgi: CGIResponseHead) {
        let length = cgi.contentLength.map { "Content-Length \($0)" } ?? "length unknown (chunked or until close)"
        errorLog.info(label, "proxy debug: response \(cgi.status) from the backend, \(length)")
    }

    /// The request line as it went to the backend (the first line of the encoded head).
    static func requestLine(_ head: [UInt8]) -> String {
        let end = head.firstIndex(of: 13) ?? head.count
        return String(decoding: head[..<end], as: UTF8.self)
    }
}
