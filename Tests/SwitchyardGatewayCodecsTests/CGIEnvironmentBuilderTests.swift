import Testing
@testable import SwitchyardGatewayCodecs

@Suite struct CGIEnvironmentBuilderTests {
    static func sampleInfo() -> CGIRequestInfo {
        CGIRequestInfo(
            serverSoftware: "Switchyard/0.1", serverName: "example.org", serverAddr: "127.0.0.1", serverPort: 8443,
            serverProtocol: "HTTP/1.1", method: "POST", requestURI: "/cgi-bin/app.py/extra/path?a=1&b=2",
            scheme: "https", isTLS: true, scriptName: "/cgi-bin/app.py", scriptFilename: "/srv/www/cgi-bin/app.py",
            pathInfo: "/extra/path", queryString: "a=1&b=2", documentRoot: "/srv/www/",
            remoteAddr: "10.0.0.7", remotePort: 51234, contentLength: 27,
            headers: [("Host", "example.org:8443"), ("Content-Type", "text/plain"), ("Content-Length", "27"),
                      ("User-Agent", "t/1"), ("Accept", "a"), ("accept", "b")])
    }

    @Test func fullVariableSetInOrder() {
        let e = CGIEnvironmentBuilder.build(Self.sampleInfo())
        let expected: [(String, String)] = [
            ("GATEWAY_INTERFACE", "CGI/1.1"), ("SERVER_SOFTWARE", "Switchyard/0.1"), ("SERVER_NAME", "example.org"),
            ("SERVER_ADDR", "127.0.0.1"), ("SERVER_PORT", "8443"), ("SERVER_PROTOCOL", "HTTP/1.1"),
            ("REQUEST_METHOD", "POST"), ("REQUEST_URI", "/cgi-bin/app.py/extra/path?a=1&b=2"),
            ("REQUEST_SCHEME", "https"), ("HTTPS", "on"), ("SCRIPT_NAME", "/cgi-bin/app.py"),
            ("SCRIPT_FILENAME", "/srv/www/cgi-bin/app.py"), ("PATH_INFO", "/extra/path"),
            ("PATH_TRANSLATED", "/srv/www/extra/path"), ("QUERY_STRING", "a=1&b=2"), ("DOCUMENT_ROOT", "/srv/www/"),
            ("CONTENT_LENGTH", "27"), ("CONTENT_TYPE", "text/plain"), ("REMOTE_ADDR", "10.0.0.7"),
            ("REMOTE_PORT", "51234"), ("REDIRECT_STATUS", "200"),
            ("HTTP_HOST", "example.org:8443"), ("HTTP_USER_AGENT", "t/1"), ("HTTP_ACCEPT", "a, b"),
        ]
        #expect(pairsEqual(e.pairs, expected), "\(e.pairs)")
        #expect(e.value("HTTP_CONTENT_TYPE") == nil)
        #expect(e.value("HTTP_CONTENT_LENGTH") == nil)
    }

    @Test func plainHTTPWithoutPathInfoOrBody() {
        var info = Self.sampleInfo()
        info.isTLS = false
        info.scheme = "http"
        info.pathInfo = ""
        info.queryString = ""
        info.contentLength = nil
        info.headers = [("Host", "h")]
        let e = CGIEnvironmentBuilder.build(info)
        #expect(e.value("HTTPS") == nil)
        #expect(e.value("PATH_INFO") == nil)
        #expect(e.value("PATH_TRANSLATED") == nil)
        #expect(e.value("QUERY_STRING") == "")
        #expect(e.value("CONTENT_LENGTH") == nil)
        #expect(e.value("CONTENT_TYPE") == nil)
        #expect(e.value("REQUEST_SCHEME") == "http")
    }

    @Test func pathTranslatedJoinsWithOneSlash() {
        #expect(CGIEnvironmentBuilder.joinPath("/srv", "/x") == "/srv/x")
        #expect(CGIEnvironmentBuilder.joinPath("/srv/", "/x") == "/srv/x")
        #expect(CGIEnvironmentBuilder.joinPath("/srv", "x") == "/srv/x")
        #expect(CGIEnvironmentBuilder.joinPath("", "/x") == "/x")
    }

    @Test func httpoxyProxyHeaderDropped() {
        let info = CGIRequestInfo(headers: [("Proxy", "http://evil:8080"), ("PROXY", "x"), ("Proxy-Foo", "ok")])
        let e = CGIEnvironmentBuilder.build(info)
        #expect(e.value("HTTP_PROXY") == nil)
        #expect(e.value("HTTP_PROXY_FOO") == "ok")
    }

    @Test func duplicatesJoinedCookieWithSemicolon() {
        let info = CGIRequestInfo(headers: [("Cookie", "a=1"), ("X-Dup", "1"), ("cookie", "b=2"), ("x-dup", "2"), ("X-DUP", "3")])
        let e = CGIEnvironmentBuilder.build(info)
        #expect(e.value("HTTP_COOKIE") == "a=1; b=2")
        #expect(e.value("HTTP_X_DUP") == "1, 2, 3")
    }

    @Test(arguments: [false, true])
    func underscoreCannotSpoofDash(underscoreFirst: Bool) {
        let dash = ("X-Forwarded-For", "10.0.0.7")
        let spoof = ("X_Forwarded_For", "1.2.3.4")
        let info = CGIRequestInfo(headers: underscoreFirst ? [spoof, dash] : [dash, spoof])
        let e = CGIEnvironmentBuilder.build(info)
        #expect(e.value("HTTP_X_FORWARDED_FOR") == "10.0.0.7")
        #expect(e.pairs.filter { $0.name == "HTTP_X_FORWARDED_FOR" }.count == 1)
    }

    /// Apache httpd's rule: a name with anything but letters, digits and '-' never reaches a
    /// backend, alone or next to its dashed spelling (a front proxy that strips X-Foo cannot be
    /// bypassed with X_Foo or X.Foo).
    @Test(arguments: ["X_Foo", "X.Foo", "x_foo", "X-Foo_", "X~Foo", "My_Header"])
    func namesOutsideLettersDigitsDashAreDropped(name: String) {
        let alone = CGIEnvironmentBuilder.build(CGIRequestInfo(headers: [(name, "spoof")]))
        #expect(!alone.pairs.contains { $0.name.hasPrefix("HTTP_") }, "\(alone.pairs)")
        let next = CGIEnvironmentBuilder.build(CGIRequestInfo(headers: [(name, "spoof"), ("Other", "o")]))
        #expect(next.pairs.filter { $0.name.hasPrefix("HTTP_") }.map(\.name) == ["HTTP_OTHER"])
        #expect(!CGIEnvironmentBuilder.isForwardedHeaderName(name))
    }

    @Test func mixedSpellingAlsoLoses() {
        let info = CGIRequestInfo(headers: [("X-Forwarded_For", "spoof"), ("x-forwarded-for", "real")])
        #expect(CGIEnvironmentBuilder.build(info).value("HTTP_X_FORWARDED_FOR") == "real")
    }

    @Test func contentHeadersNeverBecomeHTTPVariables() {
        let info = CGIRequestInfo(contentLength: 5, headers: [("Content_Type", "evil"), ("Content-Length", "999"), ("Content_Length", "1")])
        let e = CGIEnvironmentBuilder.build(info)
        #expect(e.value("CONTENT_LENGTH") == "5")
        #expect(e.value("CONTENT_TYPE") == nil)
        #expect(!e.pairs.contains { $0.name.hasPrefix("HTTP_CONTENT") })
    }

    @Test func variableNameMapping() {
        #expect(CGIEnvironmentBuilder.variableName(forHeader: "Sec-WebSocket-Key") == "HTTP_SEC_WEBSOCKET_KEY")
        #expect(CGIEnvironmentBuilder.variableName(forHeader: "x.y~z9") == "HTTP_X_Y_Z9")
    }

    /// The table of common names gives what building the name gives, and names it does not hold
    /// (other case, one byte off) are built.
    @Test func commonVariableNamesAreTheBuiltOnes() {
        var seen = 0
        for row in CGIEnvironmentBuilder.commonVariables {
            for entry in row {
                let name = entry.name.withUTF8Buffer { String(decoding: $0, as: UTF8.self) }
                #expect(CGIEnvironmentBuilder.variableName(forHeader: name) == CGIEnvironmentBuilder.buildVariableName(name))
                #expect(entry.variable.hasPrefix("HTTP_") && entry.variable.utf8.count == name.utf8.count + 5)
                seen += 1
            }
        }
        #expect(seen > 30)
        for name in ["HOST", "Hosts", "Sec-WebSocket-Kez", "X-Forwarded-Fox", "h", ""] {
            #expect(CGIEnvironmentBuilder.variableName(forHeader: name) == CGIEnvironmentBuilder.buildVariableName(name))
        }
        #expect(CGIEnvironmentBuilder.variableName(forHeader: "HOST") == "HTTP_HOST")
    }

    @Test func emptyHeaderValuesSkippedLikeLighttpd() {
        let e = CGIEnvironmentBuilder.build(CGIRequestInfo(headers: [("X-Empty", "")]))
        #expect(e.value("HTTP_X_EMPTY") == nil)
    }

    @Test func extraOverridesAndAppends() {
        let info = CGIRequestInfo(serverSoftware: "S", redirectStatus: 404, extra: [("SERVER_SOFTWARE", "custom"), ("APP_MODE", "prod")])
        let e = CGIEnvironmentBuilder.build(info)
        #expect(e.value("SERVER_SOFTWARE") == "custom")
        #expect(e.pairs[1].name == "SERVER_SOFTWARE")
        #expect(e.pairs.last! == (name: "APP_MODE", value: "prod"))
        #expect(e.value("REDIRECT_STATUS") == "404")
    }

    @Test func environmentSetReplacesInPlaceAndEnvp() {
        var e = CGIEnvironment()
        e.set("A", "1")
        e.set("B", "2")
        e.set("A", "3")
        #expect(e.count == 2)
        #expect(e.envp() == ["A=3", "B=2"])
        #expect(e.remove("A") == "3")
        #expect(e.envp() == ["B=2"])
        e.set("C", "x=y")
        #expect(e.value("C") == "x=y")
        #expect(e["B"] == "2")
        #expect(Array(e.map(\.name)) == ["B", "C"])
    }

    @Test func wsEchoNeedsTheseVariables() {
        let info = CGIRequestInfo(scriptName: "/ws/ws_echo.py",
                                  headers: [("Host", "localhost:8080"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
                                            ("Origin", "http://localhost:8080"), ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                                            ("Sec-WebSocket-Version", "13")])
        let e = CGIEnvironmentBuilder.build(info)
        for name in ["HTTP_ORIGIN", "REQUEST_SCHEME", "HTTP_HOST", "SCRIPT_NAME", "HTTP_SEC_WEBSOCKET_KEY"] {
            #expect(e.value(name) != nil, "\(name)")
        }
        #expect(e.value("HTTP_UPGRADE") == "websocket")
    }
}

@Suite struct CGIEnvironmentIndexTests {
    /// Past the linear-scan limit the environment switches to a dictionary; both must agree
    /// with a plain reference model through sets, replacements and removals.
    @Test func largeEnvironmentMatchesReferenceModel() {
        var e = CGIEnvironment()
        var reference: [(String, String)] = []
        func set(_ n: String, _ v: String) {
            e.set(n, v)
            if let i = reference.firstIndex(where: { $0.0 == n }) { reference[i].1 = v } else { reference.append((n, v)) }
        }
        for i in 0..<150 { set("VAR_\(i)", "v\(i)") }
        for i in stride(from: 0, to: 150, by: 7) { set("VAR_\(i)", "replaced\(i)") }
        for i in stride(from: 3, to: 150, by: 11) {
            #expect(e.remove("VAR_\(i)") == reference.first(where: { $0.0 == "VAR_\(i)" })!.1)
            reference.removeAll { $0.0 == "VAR_\(i)" }
        }
        set("VAR_3", "back")
        #expect(e.remove("MISSING") == nil)
        #expect(pairsEqual(e.pairs, reference))
        for (n, v) in reference { #expect(e.value(n) == v) }
        #expect(!e.contains("VAR_14"))
        #expect(e.value("VAR_3") == "back")
    }

    @Test func sameSpellingsJoinOthersDropped() {
        var info = CGIEnvironmentBuilderTests.sampleInfo()
        info.headers = [("X_A", "1"), ("Host", "h"), ("X-A", "2"), ("x_a", "3"), ("x-a", "4")]
        let e = CGIEnvironmentBuilder.build(info)
        #expect(e.value("HTTP_X_A") == "2, 4")
        #expect(e.pairs.filter { $0.name == "HTTP_X_A" }.count == 1)
    }

    /// Many distinct headers take the dictionary path; the result is the same set.
    @Test func manyHeadersStillMapOnceEach() {
        var info = CGIEnvironmentBuilderTests.sampleInfo()
        info.headers = (0..<200).map { ("X-H\($0)", "\($0)") } + [("x-h7", "again")]
        let e = CGIEnvironmentBuilder.build(info)
        #expect(e.value("HTTP_X_H7") == "7, again")
        #expect(e.value("HTTP_X_H199") == "199")
        #expect(e.pairs.filter { $0.name.hasPrefix("HTTP_X_H") }.count == 200)
    }
}
