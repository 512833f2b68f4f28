import Testing
@testable import SwitchyardGatewayCodecs

@Suite struct ProxyRequestHeadEncoderTests {
    func info(method: String = "GET", uri: String = "/ws/echo?x=1", scheme: String = "http",
              headers: [(name: String, value: String)]) -> CGIRequestInfo {
        CGIRequestInfo(serverAddr: "127.0.0.1", serverPort: 8080, method: method, requestURI: uri, scheme: scheme,
                       remoteAddr: "192.0.2.7", remotePort: 50000, headers: headers)
    }

    func text(_ head: ProxyRequestHead) -> String { String(decoding: head.bytes, as: UTF8.self) }

    func lines(_ head: ProxyRequestHead) -> [String] {
        text(head).split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
    }

    let browserUpgrade: [(name: String, value: String)] = [
        ("Host", "example.org"), ("Connection", "keep-alive, Upgrade"), ("Upgrade", "websocket"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Sec-WebSocket-Version", "13"), ("Keep-Alive", "300"),
        ("Pragma", "no-cache"),
    ]

    @Test func goldenBytesForAnUpgrade() throws {
        let head = try ProxyRequestHeadEncoder.encode(info(headers: browserUpgrade), body: .none, backendAuthority: "127.0.0.1:8081",
                                                      options: ProxyHeaderOptions(upgrade: true))
        #expect(head.isUpgrade && head.backendHost == "example.org" && !head.chunkedBody)
        #expect(text(head) == "GET /ws/echo?x=1 HTTP/1.1\r\nHost: example.org\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                + "Sec-WebSocket-Version: 13\r\nPragma: no-cache\r\nX-Forwarded-For: 192.0.2.7\r\nX-Forwarded-Proto: http\r\n"
                + "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
    }

    @Test func upgradeOnlyWhenEnabledAndOnlyWebSocket() throws {
        let off = try ProxyRequestHeadEncoder.encode(info(headers: browserUpgrade), body: .none, backendAuthority: "b", options: .init())
        #expect(!off.isUpgrade && !text(off).contains("Upgrade:") && !text(off).contains("Connection:"))
        let h2c: [(name: String, value: String)] = [("Host", "a"), ("Connection", "Upgrade, HTTP2-Settings"), ("Upgrade", "h2c"),
                                                    ("HTTP2-Settings", "AAMAAABkAAQCAAAAAAIAAAAA")]
        let smuggle = try ProxyRequestHeadEncoder.encode(info(headers: h2c), body: .none, backendAuthority: "b",
                                                         options: ProxyHeaderOptions(upgrade: true))
        #expect(!smuggle.isUpgrade && !text(smuggle).contains("h2c") && !text(smuggle).contains("HTTP2-Settings"))
        let both: [(name: String, value: String)] = [("Host", "a"), ("Connection", "upgrade"), ("Upgrade", "h2c, WebSocket")]
        let ws = try ProxyRequestHeadEncoder.encode(info(headers: both), body: .none, backendAuthority: "b", options: ProxyHeaderOptions(upgrade: true))
        #expect(ws.isUpgrade && lines(ws).contains("Upgrade: websocket") && !text(ws).contains("h2c"))
        let post = try ProxyRequestHeadEncoder.encode(info(method: "POST", headers: both), body: .length(0), backendAuthority: "b",
                                                      options: ProxyHeaderOptions(upgrade: true))
        #expect(!post.isUpgrade)
    }

    @Test func noFieldCanSplitTheHead() throws {
        let h: [(name: String, value: String)] = [("Host", "a"), ("X-A", "1\r\nX-Injected: 2"), ("X-B\n:C", "v\u{0}w"),
                                                  ("X-Ok", "plain: value")]
        let head = try ProxyRequestHeadEncoder.encode(info(headers: h), body: .none, backendAuthority: "b", options: .init())
        let l = lines(head)
        #expect(l.contains("X-A: 1  X-Injected: 2") && l.contains("X-B  C: v w") && l.contains("X-Ok: plain: value"))
        #expect(!l.contains { $0.hasPrefix("X-Injected") })
    }

    @Test func hopByHopFieldsAndConnectionNamedFieldsAreDropped() throws {
        let h: [(name: String, value: String)] = [("Host", "a"), ("Connection", "close, X-Secret"), ("X-Secret", "1"), ("TE", "trailers"),
                                                  ("Trailer", "X"), ("Transfer-Encoding", "chunked"), ("Proxy-Authorization", "Basic x"),
                                                  ("Proxy-Connection", "keep-alive"), ("Content-Length", "99"), ("Accept", "*/*")]
        let head = try ProxyRequestHeadEncoder.encode(info(method: "POST", headers: h), body: .chunked, backendAuthority: "b", options: .init())
        let t = text(head)
        for gone in ["X-Secret", "TE:", "Trailer", "Proxy-", "Content-Length", "close"] { #expect(!t.contains(gone), "\(gone)") }
        #expect(lines(head).contains("Transfer-Encoding: chunked") && lines(head).contains("Accept: */*") && head.chunkedBody)
        let sized = try ProxyRequestHeadEncoder.encode(info(method: "POST", headers: h), body: .length(5), backendAuthority: "b",
                                                       keepAlive: false, options: .init())
        #expect(lines(sized).contains("Content-Length: 5") && lines(sized).contains("Connection: close"))
    }

    @Test func forwardedQuotesIPv6AndPorts() throws {
        var i = info(headers: [("Host", "example.org:8443"), ("Forwarded", "for=198.51.100.1"), ("X-Forwarded-For", "198.51.100.1")])
        i.remoteAddr = "2001:db8::7"
        i.serverAddr = "::1"
        i.scheme = "https"
        let options = ProxyHeaderOptions(forwarded: [.for, .proto, .host, .by, .remoteUser])
        let head = try ProxyRequestHeadEncoder.encode(i, body: .none, backendAuthority: "b", remoteUser: "jo \"x\"", options: options)
        let l = lines(head)
        #expect(l.contains("Forwarded: for=198.51.100.1, for=\"[2001:db8::7]\";proto=https;host=\"example.org:8443\";by=\"[::1]:8080\";remote_user=\"jo \\\"x\\\"\""))
        #expect(l.contains("X-Forwarded-For: 198.51.100.1, 2001:db8::7"))
        #expect(l.contains("X-Forwarded-Proto: https") && l.contains("X-Forwarded-Host: example.org:8443"))
        #expect(l.filter { $0.hasPrefix("Forwarded:") }.count == 1)
    }

    @Test func hostAndPathMapping() throws {
        let options = ProxyHeaderOptions(mapHostRequest: [("other.test", ""), ("-", "backend.internal")],
                                         mapURLPath: [("/ws/", "/"), ("/ws/admin/", "/private/")], httpsRemap: true)
        let h: [(name: String, value: String)] = [("Host", "example.org"), ("Destination", "https://example.org/ws/admin/x")]
        let head = try ProxyRequestHeadEncoder.encode(info(method: "MOVE", uri: "/ws/admin/a?b", scheme: "https", headers: h),
                                                      body: .none, backendAuthority: "127.0.0.1:9", options: options)
        #expect(lines(head)[0] == "MOVE /private/a?b HTTP/1.1")
        #expect(lines(head).contains("Host: backend.internal") && head.backendHost == "backend.internal")
        #expect(lines(head).contains("Destination: http://backend.internal/private/x"))
        let keep = try ProxyRequestHeadEncoder.encode(info(uri: "/other", headers: [("Host", "other.test")]), body: .none,
                                                      backendAuthority: "b", options: options)
        #expect(lines(keep)[0] == "GET /other HTTP/1.1" && lines(keep).contains("Host: other.test"))
        let replaced = try ProxyRequestHeadEncoder.encode(info(uri: "http://example.org/x", headers: [("Host", "example.org")]), body: .none,
                                                          backendAuthority: "127.0.0.1:8081", options: ProxyHeaderOptions(replaceHTTPHost: true))
        #expect(lines(replaced)[0] == "GET /x HTTP/1.1" && lines(replaced).contains("Host: 127.0.0.1:8081"))
    }

    /// The gateway tunnels a CONNECT itself (lighttpd's mod_proxy): the encoder never forwards one,
    /// whatever the options say.
    @Test(arguments: [false, true]) func connectIsNeverForwarded(_ enabled: Bool) throws {
        #expect(throws: ProxyRequestError(status: 405, reason: "CONNECT is tunnelled by the gateway, never forwarded")) {
            _ = try ProxyRequestHeadEncoder.encode(info(method: "CONNECT", uri: "example.org:443", headers: [("Host", "example.org:443")]),
                                                   body: .none, backendAuthority: "b", options: ProxyHeaderOptions(connectMethod: enabled))
        }
    }

    @Test func injectedLineBreaksCannotSplitTheHead() throws {
        let head = try ProxyRequestHeadEncoder.encode(info(headers: [("Host", "a"), ("X", "1\r\nEvil: 2")]), body: .none,
                                                      backendAuthority: "b", options: .init())
        #expect(!lines(head).contains("Evil: 2") && lines(head).contains("X: 1  Evil: 2"))
    }

    /// Names and values of up to 15 bytes are Swift's small strings (no contiguous storage of their
    /// own): they are sanitized like long ones, and hop-by-hop names match in any case.
    @Test func smallStringsAreSanitizedAndHopByHopMatchesAnyCase() throws {
        let h: [(name: String, value: String)] = [("Host", "a"), ("X:y", "1\r\n2\0"), ("tE", "trailers"), ("PROXY-Auth", "x"),
                                                  ("X-Forwarded-HOST", "spoof"), ("Te2", "kept")]
        let head = try ProxyRequestHeadEncoder.encode(info(headers: h), body: .none, backendAuthority: "b", options: .init())
        let l = lines(head)
        #expect(l.contains("X y: 1  2 ") && l.contains("Te2: kept"))
        #expect(!text(head).contains("trailers") && !text(head).contains("PROXY-Auth"))
        #expect(l.contains("X-Forwarded-Host: spoof"), "the client's X-Forwarded-Host is kept when host is not a forwarded parameter")
        #expect(l.filter { $0.lowercased().hasPrefix("x-forwarded-host:") }.count == 1)
    }

    /// A client's empty `Forwarded` with no parameters of ours adds no empty field; with ours, the
    /// client's (empty) element stays in front, as the joined list always had it.
    @Test func emptyClientForwardedValues() throws {
        let h: [(name: String, value: String)] = [("Host", "a"), ("Forwarded", ""), ("X-Forwarded-For", "")]
        let none = try ProxyRequestHeadEncoder.encode(info(headers: h), body: .none, backendAuthority: "b", options: .init())
        #expect(!lines(none).contains { $0.hasPrefix("Forwarded:") })
        #expect(lines(none).contains("X-Forwarded-For: , 192.0.2.7"))
        let ours = try ProxyRequestHeadEncoder.encode(info(headers: h), body: .none, backendAuthority: "b",
                                                      options: ProxyHeaderOptions(forwarded: [.for]))
        #expect(lines(ours).contains("Forwarded: , for=192.0.2.7"))
    }
}

@Suite struct ProxyResponseHeaderMapperTests {
    let options = ProxyHeaderOptions(mapHostResponse: [("-", "-")], mapURLPath: [("/app/", "/"), ("/app/static/", "/assets/")],
                                     httpsRemap: true)

    @Test func locationAndCookiesAreMappedBack() {
        let m = ProxyResponseHeaderMapper(options: options, clientHost: "example.org", backendHost: "127.0.0.1:8081", clientIsHTTPS: true)
        let out = m.map([("Location", "http://127.0.0.1:8081/login?next=/"), ("Content-Location", "/assets/a.css"),
                         ("Set-Cookie", "sid=1; Path=/; Domain=127.0.0.1:8081; HttpOnly"), ("Set-Cookie", "x=2; path=/assets/img"),
                         ("Location", "https://elsewhere.test/x")], status: 302)
        #expect(out.map(\.value) == ["https://example.org/app/login?next=/", "/app/static/a.css",
                                     "sid=1; Path=/app/; Domain=example.org; HttpOnly", "x=2; path=/app/static/img",
                                     "https://elsewhere.test/x"])
        let plain = ProxyResponseHeaderMapper(options: options, clientHost: "example.org", backendHost: "127.0.0.1:8081", clientIsHTTPS: false)
        #expect(plain.mapURI("http://127.0.0.1:8081/") == "http://example.org/app/")
    }

    @Test func a101IsOnlyAcceptedForOurWebSocketUpgrade() {
        let ws: [(name: String, value: String)] = [("Upgrade", "WebSocket"), ("Connection", "upgrade")]
        #expect(ProxyResponseHeaderMapper.acceptsSwitch(requestIsUpgrade: true, fields: ws))
        #expect(!ProxyResponseHeaderMapper.acceptsSwitch(requestIsUpgrade: false, fields: ws), "101 to a plain request")
        #expect(!ProxyResponseHeaderMapper.acceptsSwitch(requestIsUpgrade: true, fields: [("Upgrade", "h2c"), ("Connection", "Upgrade")]))
        #expect(!ProxyResponseHeaderMapper.acceptsSwitch(requestIsUpgrade: true, fields: [("Upgrade", "websocket")]), "no Connection: upgrade")
    }

    @Test func hopByHopRemovedUpgradeKeptOn101() {
        let m = ProxyResponseHeaderMapper(options: .init(), clientHost: nil, backendHost: nil, clientIsHTTPS: false)
        let fields: [(name: String, value: String)] = [("Connection", "keep-alive, X-Internal"), ("X-Internal", "1"), ("Keep-Alive", "timeout=5"),
                                                       ("Transfer-Encoding", "chunked"), ("Upgrade", "websocket"), ("Date", "x")]
        #expect(m.map(fields, status: 200).map(\.name) == ["Date"])
        #expect(m.map(fields, status: 101).map(\.name) == ["Upgrade", "Date", "Connection"])
        let noMapping = ProxyResponseHeaderMapper(options: .init(), clientHost: "a", backendHost: "b", clientIsHTTPS: true)
        #expect(noMapping.map([("Location", "http://b/x"), ("Set-Cookie", "a=b; Path=/")], status: 302).map(\.value) == ["http://b/x", "a=b; Path=/"])
    }
}
