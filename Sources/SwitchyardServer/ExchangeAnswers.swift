import SwitchyardHTTP

/// What an HTTP/1.1 exchange and an HTTP/2 stream answer alike, written once so the two protocols
/// cannot drift apart: the error page, and the request a `cgi.local-redir` turns into.
enum ExchangeAnswers {
    /// A complete error response: its head and a small HTML body.
    static func errorPage(_ status: Int, extraHeaders: [(String, String)]) -> (head: HTTPResponseHead, body: [UInt8]) {
        var head = HTTPResponseHead(status: status)
        let reason = HTTPStatus.reasonPhrase(status)
        let body = Array("<!DOCTYPE html>\n<html><head><title>\(status) \(reason)</title></head><body><h1>\(status) \(reason)</h1></body></html>\n".utf8)
        head.headers.add(name: "Content-Type", value: "text/html; charset=utf-8")
        for (n, v) in extraHeaders { head.headers.add(name: n, value: v) }
        return (head, body)
    }

    /// cgi.local-redir: the CGI answered `Location: /path` without a status; the request becomes a
    /// fresh GET of that path (query included) without a body.
    static func locallyRedirected(_ request: HTTPRequestHead, to location: String) -> HTTPRequestHead {
        var head = request
        let q = location.firstIndex(of: "?")
        head.method = "GET"
        head.target = location
        head.path = q.map { String(location[..<$0]) } ?? location
        head.query = q.map { String(location[location.index(after: $0)...]) }
        head.contentLength = nil
        head.isChunked = false
        head.headers.remove(name: "Content-Length")
        head.headers.remove(name: "Content-Type")
        head.headers.remove(name: "Transfer-Encoding")
        return head
    }
}
