import SwitchyardOS
import SwitchyardHTTP
import SwitchyardWebSocket

/// The echo application as a plain HTTP/1.1 server: what a reverse proxy (mod_proxy) forwards
/// to, and what a load client reaches directly for the "no gateway" baseline. A GET with
/// `Upgrade: websocket`, a `Sec-WebSocket-Key` and version 13 is answered 101 and the socket then
/// carries the echoed WebSocket stream, exactly as on the SCGI path. Any other request gets 200
/// "echo-app ok METHOD URI" and its body echoed, on a kept-alive connection (HTTP/1.1 without
/// `Connection: close`); a request the parser refuses gets its status and the connection closes.
final class HTTPEchoConnection: EchoConnection {
    private enum Phase {
        case request
        /// Echoing a plain request's body; `chunked`: the response is chunked (the request's
        /// length was unknown).
        case body(chunked: Bool, keepAlive: Bool)
        case webSocket
        case done
    }

    private var phase = Phase.request
    private var parser = HTTPRequestParser()

    override func inputReceived() {
        while !closed {
            switch phase {
            case .webSocket:
                if echoRawFrames() { finish() }
                return
            case .done:
                inBuffer.clear()
                return
            case .request, .body:
                if !parseStep() { return }
            }
        }
    }

    /// One parser event; false when more input is needed (or the connection ended).
    private func parseStep() -> Bool {
        let input = UnsafeRawBufferPointer(start: inBuffer.readPointer, count: inBuffer.readableBytes)
        switch parser.parseStep(input) {
        case .failure(let error):
            log.error("malformed HTTP request, answering \(error.status): \(error)")
            respond(status: "\(error.status) Bad Request", body: "echo-app: \(error)\n", keepAlive: false)
            finish()
            return false
        case .needMoreData(let consumed):
            inBuffer.consume(consumed)
            return false
        case .head(let head, let consumed):
            inBuffer.consume(consumed)
            begin(head)
            return true
        case .body(let range, let consumed):
            if case .body(let chunked, _) = phase {
                let bytes = UnsafeRawBufferPointer(rebasing: input[range])
                if chunked { outBuffer.append(Array((String(bytes.count, radix: 16) + "\r\n").utf8)) }
                outBuffer.append(bytes)
                if chunked { outBuffer.append(Array("\r\n".utf8)) }
            }
            inBuffer.consume(consumed)
            return true
        case .end(let consumed):
            inBuffer.consume(consumed)
            if case .body(let chunked, let keepAlive) = phase {
                if chunked { outBuffer.append(Array("0\r\n\r\n".utf8)) }
                if keepAlive { phase = .request } else { finish() }
            }
            return true
        }
    }

    private func begin(_ head: HTTPRequestHead) {
        if head.method == "GET", head.upgradeOffers("websocket"), let key = head.headers.first("Sec-WebSocket-Key"), !key.isEmpty {
            guard head.headers.first("Sec-WebSocket-Version") == "13" else {
                respond(status: "426 Upgrade Required", body: "echo-app: only WebSocket version 13\n", keepAlive: false,
                        extra: "Sec-WebSocket-Version: 13\r\n")
                finish()
                return
            }
            outBuffer.append(Array(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                    + "Sec-WebSocket-Accept: \(WebSocketHandshake.acceptValue(forKey: key))\r\n\r\n").utf8))
            phase = .webSocket
            return
        }
        let keepAlive = head.keepAlive
        let greeting = "echo-app ok \(head.method) \(head.target)\n"
        if head.isChunked {
            outBuffer.append(Array(("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"
                                    + (keepAlive ? "" : "Connection: close\r\n") + "\r\n").utf8))
            outBuffer.append(Array((String(greeting.utf8.count, radix: 16) + "\r\n" + greeting + "\r\n").utf8))
            phase = .body(chunked: true, keepAlive: keepAlive)
        } else {
            // The answer is the greeting and then the body: a body too long for that sum (an absurd
            // Content-Length a client may send through any proxy) is refused, not a trap.
            let (length, overflow) = greeting.utf8.count.addingReportingOverflow(head.contentLength ?? 0)
            if overflow {
                respond(status: "413 Content Too Large", body: "Content-Length too large\n", keepAlive: false)
                finish()
                return
            }
            outBuffer.append(Array(("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: \(length)\r\n"
                                    + (keepAlive ? "" : "Connection: close\r\n") + "\r\n" + greeting).utf8))
            phase = .body(chunked: false, keepAlive: keepAlive)
        }
    }

    private func respond(status: String, body: String, keepAlive: Bool, extra: String = "") {
        outBuffer.append(Array(("HTTP/1.1 \(status)\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\n"
                                + extra + (keepAlive ? "" : "Connection: close\r\n") + "\r\n" + body).utf8))
    }

    private func finish() {
        phase = .done
        closeAfterFlush()
    }

    override func inputEnded() { finish() }
}
