import SwitchyardOS
import SwitchyardHTTP
import SwitchyardHTTP2

/// Where an accepted connection becomes HTTP/2: before its first request, when TLS negotiated
/// ALPN `h2` (`server.h2proto`) or a plain connection opens with the client connection preface
/// (h2c with prior knowledge, `server.h2c`). The stream, with whatever it already read, moves to
/// an `HTTP2Connection`; the HTTP/1.1 connection steps aside without closing anything.
///
/// HTTP/1.1 `Upgrade: h2c` (RFC 7540 §3.2, dropped by RFC 9113 but still sent by curl `--http2`
/// on http:// URLs) is taken under the same keys, as lighttpd does: on a plain connection, for an
/// HTTP/1.1 request without a body, with exactly one valid HTTP2-Settings named in Connection. A
/// request that also asks for a WebSocket, or has a body, stays HTTP/1.1 (lighttpd and nginx too).
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

    /// The HTTP2-Settings value when `head` may upgrade to h2c (the keys aside); nil otherwise.
    static func h2cUpgradeSettings(_ head: HTTPRequestHead, hasBody: Bool) -> String? {
        guard !hasBody, head.version == .http1_1, head.method != "CONNECT",
              head.upgradeOffers("h2c"), !head.upgradeOffers("websocket"),
              head.hasConnectionToken("upgrade"), head.hasConnectionToken("http2-settings") else { return nil }
        let settings = head.headers.values("HTTP2-Settings")
        return settings.count == 1 ? settings[0] : nil
    }

    /// The request as stream 1 sees it: without the fields that only concerned the upgrade.
    static func h2cStreamHead(_ head: HTTPRequestHead) -> HTTPRequestHead {
        var h = head
        for name in ["Upgrade", "HTTP2-Settings", "Connection", "Keep-Alive"] { h.headers.remove(name: name) }
        h.upgrade = nil
        h.connectionTokens = []
        return h
    }

    /// Takes `Upgrade: h2c` when enabled and valid: 101, then the connection is HTTP/2 and the
    /// request is its stream 1. False: serve the request over HTTP/1.1 as if no upgrade was asked
    /// (an HTTP2-Settings that does not decode is ignored, as lighttpd does).
    func upgradeToH2C(_ head: HTTPRequestHead, hasBody: Bool) -> Bool {
        guard peer.tls == nil, worker.server.h2proto && worker.server.h2c,
              let settings = Self.h2cUpgradeSettings(head, hasBody: hasBody),
              let session = try? HTTP2ServerSession(limits: HTTP2Connection.limits(worker), upgradeSettings: settings) else { return false }
        output.bytes.append("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
        state = .closed
        let h2 = HTTP2Connection(stream: stream, worker: worker, peer: peer, routing: routing, session: session)
        worker.connectionSwitchedToHTTP2(self, h2)
        h2.beginUpgraded(Self.h2cStreamHead(head))
        return true
    }
}
