import SwitchyardOS

/// Where an accepted connection becomes HTTP/2: before its first request, when TLS negotiated
/// ALPN `h2` (`server.h2proto`) or a plain connection opens with the client connection preface
/// (h2c with prior knowledge, `server.h2c`). The stream, with whatever it already read, moves to
/// an `HTTP2Connection`; the HTTP/1.1 connection steps aside without closing anything.
extension HTTP1Connection {
    enum HTTP2Choice { case http1, wait, http2 }

    /// RFC 9113 §3.4: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".
    static let http2Preface: [UInt8] = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    func http2Choice() -> HTTP2Choice {
        if let tls = peer.tls {
            return worker.server.h2proto && tls.negotiatedALPN == "h2" ? .http2 : .http1
        }
        // As in lighttpd, server.h2proto is the switch for HTTP/2 as a whole; server.h2c adds cleartext.
        guard worker.server.h2proto && worker.server.h2c else { return .http1 }
        let readable = input.readable
        let n = min(readable.count, HTTP1Connection.http2Preface.count)
        for i in 0..<n where readable[i] != HTTP1Connection.http2Preface[i] { return .http1 }
        return n < HTTP1Connection.http2Preface.count ? .wait : .http2
    }

    /// Hands the stream (and the bytes already read) to a new `HTTP2Connection`.
    func switchToHTTP2() {
        state = .closed
        let h2 = HTTP2Connection(stream: stream, worker: worker, peer: peer, routing: routing)
        worker.connectionSwitchedToHTTP2(self, h2)
        h2.begin()
    }
}
