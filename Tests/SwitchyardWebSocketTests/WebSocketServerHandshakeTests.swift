import Testing
@testable import SwitchyardWebSocket

@Suite struct WebSocketServerHandshakeTests {
    let base: [(name: String, value: String)] = [
        ("Host", "example.org"), ("Upgrade", "websocket"), ("Connection", "keep-alive, Upgrade"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Sec-WebSocket-Version", "13"),
    ]

    func evaluate(_ headers: [(name: String, value: String)], method: String = "GET", http11: Bool = true,
                  options: WebSocketServerHandshake.Options = .init()) -> Result<WebSocketServerHandshake.Acceptance, WebSocketServerHandshake.Rejection> {
        WebSocketServerHandshake.evaluate(method: method, isHTTP11: http11, headers: headers, options: options)
    }

    func replacing(_ name: String, with value: String?) -> [(name: String, value: String)] {
        var h = base.filter { $0.name != name }
        if let value { h.append((name, value)) }
        return h
    }

    @Test func acceptsTheRFCExampleWithBrowserConnectionList() throws {
        let ok = try evaluate(base).get()
        #expect(ok.accept == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        #expect(ok.subprotocol == nil && ok.deflate == nil)
        #expect(ok.responseHeaders.map(\.name) == ["Upgrade", "Connection", "Sec-WebSocket-Accept"])
        let mixedCase = try evaluate(replacing("Upgrade", with: "WebSocket")).get()
        #expect(mixedCase.accept == ok.accept)
    }

    @Test func refusalsAre400() {
        func status(_ r: Result<WebSocketServerHandshake.Acceptance, WebSocketServerHandshake.Rejection>) -> Int? {
            if case .failure(let e) = r { return e.status }
            return nil
        }
        #expect(status(evaluate(base, method: "POST")) == 400)
        #expect(status(evaluate(base, http11: false)) == 400)
        #expect(status(evaluate(replacing("Upgrade", with: "h2c"))) == 400)
        #expect(status(evaluate(replacing("Connection", with: "keep-alive"))) == 400)
        #expect(status(evaluate(replacing("Sec-WebSocket-Key", with: nil))) == 400)
        #expect(status(evaluate(replacing("Sec-WebSocket-Key", with: "c2hvcnQ="))) == 400)
        #expect(status(evaluate(base + [("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")])) == 400)
    }

    @Test func wrongVersionNamesVersion13() {
        for version: String? in [nil, "8", "14", "13, 8", "013"] {
            guard case .failure(let e) = evaluate(replacing("Sec-WebSocket-Version", with: version)) else {
                Issue.record("version \(String(describing: version)) accepted"); continue
            }
            #expect(e.status == 400 && e.headers == ["Sec-WebSocket-Version": "13"])
        }
    }

    @Test func subprotocolOnlyWhenOffered() throws {
        #expect(try evaluate(base + [("Sec-WebSocket-Protocol", "chat, base64")]).get().subprotocol == "base64")
        #expect(try evaluate(base + [("Sec-WebSocket-Protocol", "base64, binary")]).get().subprotocol == "binary")
        let none = try evaluate(base + [("Sec-WebSocket-Protocol", "chat")]).get()
        #expect(none.subprotocol == nil && !none.responseHeaders.contains { $0.name == "Sec-WebSocket-Protocol" })
        let picked = try evaluate(base + [("Sec-WebSocket-Protocol", "binary")]).get()
        #expect(picked.responseHeaders.contains { $0.name == "Sec-WebSocket-Protocol" && $0.value == "binary" })
    }

    @Test func deflateOnlyWhenConfiguredAndOffered() throws {
        let offer = [("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")]
        #expect(try evaluate(base + offer).get().deflate == nil, "not configured")
        let options = WebSocketServerHandshake.Options(deflate: PerMessageDeflateConfig(clientMaxWindowBits: 12))
        let ok = try evaluate(base + offer, options: options).get()
        #expect(ok.deflate?.clientMaxWindowBits == .some(12))
        #expect(ok.responseHeaders.last?.value == "permessage-deflate; client_max_window_bits=12")
        #expect(try evaluate(base, options: options).get().deflate == nil, "not offered")
    }

    /// Field names in any case, tokens spread over repeated fields and padded with tabs, elements
    /// trimmed and empty ones dropped; near-miss names are not the fields they resemble.
    @Test func fieldsAreFoundInAnyCaseAndListsAcrossRepeatedFields() throws {
        let headers: [(name: String, value: String)] = [
            ("HOST", "example.org"), ("uPgRaDe", "h2c"), ("UPGRADE", "\tWebSocket "), ("CONNECTION", "keep-alive"),
            ("connection", " ,Upgrade,"), ("SEC-WEBSOCKET-KEY", " dGhlIHNhbXBsZSBub25jZQ== "), ("sec-websocket-version", "\t13"),
            ("Sec-WebSocket-Protocols", "binary"), ("sec-websocket-protocol", " , chat ,\tBASE64, base64 "),
        ]
        let ok = try evaluate(headers).get()
        #expect(ok.accept == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        #expect(ok.subprotocol == "base64")   // "binary" came in a field with another name
        #expect(WebSocketServerHandshake.listElements(" , chat ,\tBASE64, base64 ") == ["chat", "BASE64", "base64"])
        #expect(WebSocketServerHandshake.trimmed(" \t13\t ") == "13" && WebSocketServerHandshake.trimmed("13") == "13")
        #expect(WebSocketServerHandshake.trimmed(" \t ") == "")
        guard case .failure = evaluate(replacing("Connection", with: "upgrades")) else {
            Issue.record("a token that merely starts with upgrade was taken for it"); return
        }
    }
}

@Suite struct WebSocketOriginPolicyTests {
    @Test func emptyListAdmitsAll() {
        let p = WebSocketOriginPolicy(allowed: [])
        #expect(p.evaluate(origin: nil) == .admit && p.evaluate(origin: "https://evil.test") == .admit)
    }

    @Test func lighttpdSuffixRule() {
        let p = WebSocketOriginPolicy(allowed: ["example.org", "https://app.test:8443"])
        #expect(p.evaluate(origin: nil) == .missingOrigin && p.evaluate(origin: nil).status == 400)
        #expect(p.evaluate(origin: "") == .missingOrigin)
        #expect(p.evaluate(origin: "https://www.example.org") == .admit)
        #expect(p.evaluate(origin: "https://WWW.Example.ORG") == .admit)
        #expect(p.evaluate(origin: "http://example.org") == .admit)
        #expect(p.evaluate(origin: "http://example.org:8080") == .admit)
        #expect(p.evaluate(origin: "https://badexample.org").status == 403)
        #expect(p.evaluate(origin: "https://example.org.evil.test").status == 403)
        #expect(p.evaluate(origin: "https://app.test:8443") == .admit)
        #expect(p.evaluate(origin: "https://app.test").status == 403)
        #expect(p.evaluate(origin: "null").status == 403)
    }
}

@Suite struct Base64StreamTests {
    @Test func encoderMatchesOneShotForEverySplit() {
        let data: [UInt8] = Array(0...255) + [1, 2]
        for split in [1, 2, 3, 4, 5, 7, 64, 300] {
            var enc = Base64StreamEncoder()
            var out: [UInt8] = []
            var i = 0
            while i < data.count {
                enc.encode(Array(data[i..<min(i + split, data.count)]), into: &out)
                i += split
            }
            enc.finish(into: &out)
            #expect(String(decoding: out, as: UTF8.self) == Base64.encode(data), "split \(split)")
        }
        for n in 0..<5 {
            var enc = Base64StreamEncoder()
            var out: [UInt8] = []
            enc.encode(Array(repeating: 0xFB, count: n), into: &out)
            enc.finish(into: &out)
            #expect(String(decoding: out, as: UTF8.self) == Base64.encode(Array(repeating: 0xFB, count: n)))
        }
    }

    @Test func decoderAcrossFragments() throws {
        let data: [UInt8] = Array(0...255)
        let text = Array(Base64.encode(data).utf8)
        for split in [1, 3, 5, 100] {
            var dec = Base64StreamDecoder()
            var out: [UInt8] = []
            var i = 0
            while i < text.count {
                try dec.decode(Array(text[i..<min(i + split, text.count)]), into: &out)
                i += split
            }
            try dec.finish()
            #expect(out == data, "split \(split)")
        }
    }

    @Test func decoderRefusesBadInput() {
        func fails(_ s: String) -> Bool {
            var dec = Base64StreamDecoder()
            var out: [UInt8] = []
            do { try dec.decode(Array(s.utf8), into: &out); try dec.finish(); return false } catch { return true }
        }
        #expect(fails("aGk=aGk="))
        #expect(fails("aGk==="))
        #expect(fails("a"))
        #expect(fails("aGl=")) // non-zero leftover bits
        #expect(fails("aG k="))
        #expect(fails("aGk=="))
        #expect(!fails("aGk="))
        #expect(!fails("aGk"))
        #expect(!fails(""))
    }
}
