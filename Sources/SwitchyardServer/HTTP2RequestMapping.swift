import SwitchyardHTTP
import SwitchyardHTTP2
import SwitchyardWebSocket

/// The HTTP/1.1 view of an HTTP/2 request, which routes and backends already understand.
///
/// The head is written out as HTTP/1.1 text and run through the same `HTTPRequestParser` every
/// HTTP/1.1 request goes through, so Host rules, Connection tokens, Upgrade, the size limits and
/// every check of the parser apply unchanged (a `:path` with a space becomes a 400, as its
/// HTTP/1.1 form would). The cost is one small copy per request, far below routing's.
///
/// - A body of unknown length (no `content-length`, HEADERS without END_STREAM) is announced as
///   `transfer-encoding: chunked`, exactly what an HTTP/1.1 body of unknown length looks like to
///   the routes (CGI streams it; SCGI and uwsgi, which need the length up front, answer 411).
/// - RFC 8441 extended CONNECT with `:protocol websocket` becomes the RFC 6455 upgrade request:
///   `GET`, `Upgrade: websocket`, `Connection: upgrade`, a fresh `Sec-WebSocket-Key` and
///   `Sec-WebSocket-Version: 13` (a client's own key or version fields are replaced).
enum HTTP2RequestMapping {
    struct Mapped {
        var head: HTTPRequestHead
        /// The stream is an RFC 8441 tunnel (or a plain CONNECT): DATA is the byte stream.
        var isTunnel: Bool
        /// DATA frames carry a request body.
        var hasBody: Bool
    }

    static func http1Head(_ request: HTTP2RequestHead, endStream: Bool, limits: HTTPParserLimits,
                          random: inout FastRandom) -> Result<Mapped, HTTPParseError> {
        var text: [UInt8] = []
        text.reserveCapacity(256)
        let isTunnel = request.method == "CONNECT"
        var skip: Set<[UInt8]> = []
        if let proto = request.connectProtocol {
            text += Array("GET \(request.path ?? "/") HTTP/1.1\r\n".utf8)
            if proto.lowercased() == "websocket" {
                skip = [Array("sec-websocket-key".utf8), Array("sec-websocket-version".utf8)]
                var key: [UInt8] = []
                for _ in 0..<2 { withUnsafeBytes(of: random.next()) { key += $0 } }
                text += Array("upgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-key: \(Base64.encode(key))\r\nsec-websocket-version: 13\r\n".utf8)
            } else {
                text += Array("upgrade: \(proto)\r\nconnection: upgrade\r\n".utf8)
            }
        } else if isTunnel {
            text += Array("CONNECT \(request.authority ?? "") HTTP/1.1\r\n".utf8)
        } else {
            text += Array("\(request.method) \(request.path ?? "/") HTTP/1.1\r\n".utf8)
        }
        let hasBody = !endStream && !isTunnel
        // No body on the stream: a content-length a client put on it anyway says nothing.
        skip.insert(Array("content-length".utf8))
        if hasBody {
            if let length = request.contentLength { text += Array("content-length: \(length)\r\n".utf8) }
            else { text += Array("transfer-encoding: chunked\r\n".utf8) }
        }
        for field in request.http1Fields() where !skip.contains(field.name) {
            text += field.name
            text += [UInt8(ascii: ":"), UInt8(ascii: " ")]
            text += field.value
            text += [13, 10]
        }
        text += [13, 10]
        var parser = HTTPRequestParser(limits: limits)
        let step = text.withUnsafeBytes { parser.parseStep($0) }
        switch step {
        case .head(let head, _):
            return .success(Mapped(head: head, isTunnel: isTunnel, hasBody: hasBody))
        case .failure(let error):
            return .failure(error)
        case .needMoreData, .body, .end:
            return .failure(HTTPParseError(status: 400, reason: "HTTP/2 request head does not map to HTTP/1.1"))
        }
    }
}
