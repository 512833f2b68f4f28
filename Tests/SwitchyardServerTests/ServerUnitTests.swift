import Foundation
import Testing
@testable import SwitchyardServer
import SwitchyardConfig

@Suite("MIME types")
struct MimeTypesTests {
    @Test func builtinTableAndFallback() {
        let m = MimeTypes.builtin
        #expect(m.type(for: "/a/index.html") == "text/html; charset=utf-8")
        #expect(m.type(for: "/x.tar.unknown") == "application/octet-stream")
        #expect(m.type(for: "/noext") == "application/octet-stream")
    }

    @Test func longestSuffixAndEmptyKeyFallback() {
        let m = MimeTypes([(".gz", "application/gzip"), (".tar.gz", "application/x-tgz"), ("", "text/plain"), ("README", "text/x-readme")])
        #expect(m.type(for: "/a.tar.gz") == "application/x-tgz")
        #expect(m.type(for: "/a.gz") == "application/gzip")
        #expect(m.type(for: "/docs/README") == "text/x-readme")
        #expect(m.type(for: "/other.bin") == "text/plain")
    }
}

@Suite("response header names")
struct HeaderNameTests {
    @Test func classification() {
        #expect(HeaderName.classify("content-LENGTH") == .contentLength)
        #expect(HeaderName.classify("Transfer-Encoding") == .transferEncoding)
        #expect(HeaderName.classify("DATE") == .date)
        #expect(HeaderName.classify("Connection") == .connection)
        #expect(HeaderName.classify("Server") == .server)
        #expect(HeaderName.classify("X-Content-Length") == .other)
        #expect(HeaderName.classify("Datum") == .other)
    }

    @Test func fieldsAreSanitisedAndDecimalsWritten() {
        let buffer = SwitchyardOSBuffer.make()
        HeaderName.appendField("X-Test", "a\r\nInjected: yes", to: buffer)
        HeaderName.appendDecimal(0, to: buffer)
        HeaderName.appendDecimal(1234567, to: buffer)
        let text = String(decoding: buffer.readable, as: UTF8.self)
        #expect(text == "X-Test: a  Injected: yes\r\n01234567")
    }
}

@Suite("gateway route tables")
struct GatewayRouteTableTests {
    func table(_ text: String) throws -> GatewayRouteTable {
        let doc = try ConfigParser.parse(text: text, fileName: "t.conf", baseDirectory: "/tmp", environment: [:])
        return try GatewayRouteTable.parse(doc.global["fastcgi.server"]!, key: "fastcgi.server", wireProtocol: .fastcgi,
                                           balance: .fair, debug: 0, mapExtensions: [(".phtml", ".php")])
    }

    @Test func prefixAndExtensionRoutes() throws {
        let t = try table("""
        fastcgi.server = ( "/app/" => (( "host" => "127.0.0.1", "port" => 9000 )),
                           ".php" => (( "socket" => "/tmp/php.sock", "check-local" => "disable" )) )
        """)
        #expect(t.route(forPath: "/app/x")?.route.match == "/app/")
        #expect(t.route(forPath: "/app/x")?.prefixLength == 5)
        #expect(t.route(forPath: "/index.php")?.route.match == ".php")
        #expect(t.route(forPath: "/index.php")?.scriptEnd == nil)
        #expect(t.route(forPath: "/index.phtml")?.route.match == ".php", "fastcgi.map-extensions")
        #expect(t.route(forPath: "/static.html") == nil)
        // PATH_INFO after an extension: the first segment ending with it is the script.
        #expect(t.route(forPath: "/index.php/users/7")?.scriptEnd == 10)
        #expect(t.route(forPath: "/a.php/b.php/c")?.scriptEnd == 6)
        #expect(t.route(forPath: "/index.phtml/x")?.scriptEnd == 12, "mapped extension with PATH_INFO")
        #expect(t.route(forPath: "/x.phpx/y") == nil, "the extension must end a segment")
        #expect(t.routes[1].hosts[0].checkLocal == false)
        #expect(t.routes[0].hosts[0].port == 9000)
    }

    @Test func seedStyleHostWithBinPath() throws {
        let t = try table("""
        fastcgi.server = ("/ws/" =>
        ((
        "socket" => "/tmp/fcgi-ws.sock",
        "bin-path" => "/usr/local/bin/fcgi-cgi"
        "check-local" => "disable",
        "min-procs" => 1,
        "max-procs" => 1,
        "upgrade" => 1
        ))
        )
        """)
        let h = try #require(t.routes.first?.hosts.first)
        #expect(h.binPath == "/usr/local/bin/fcgi-cgi")
        #expect(h.socket == "/tmp/fcgi-ws.sock")
        #expect(h.upgrade)
        #expect(!h.checkLocal)
    }

    @Test func errorsNameTheHostAndOption() throws {
        #expect {
            _ = try table(#"fastcgi.server = ( "/x/" => (( "host" => "127.0.0.1", "prot" => 1 )) )"#)
        } throws: { error in
            "\(error)".contains("unknown option \"prot\"") && "\(error)".contains("t.conf:1")
        }
        #expect {
            _ = try table(#"fastcgi.server = ( "/x/" => (( "bin-path" => "/bin/true" )) )"#)
        } throws: { error in "\(error)".contains("needs \"socket\" or \"host\" + \"port\"") }
    }
}

@Suite("CGI script lookup")
struct CGIRouteTests {
    @Test func splitsPathInfoLikeLighttpd() throws {
        let root = NSTemporaryDirectory() + "sy-cgiroute-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root + "/cgi", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: root + "/cgi/app.py", contents: Data("x".utf8))
        defer { try? FileManager.default.removeItem(atPath: root) }
        let hit = try #require(CGIRoute.locateScript(root: root, path: "/cgi/app.py/extra/path"))
        #expect(hit.scriptURL == "/cgi/app.py")
        #expect(hit.scriptFile == root + "/cgi/app.py")
        #expect(hit.pathInfo == "/extra/path")
        #expect(CGIRoute.locateScript(root: root, path: "/cgi/") == nil, "a directory is not a script")
        #expect(CGIRoute.locateScript(root: root, path: "/missing/x") == nil)
    }

    @Test func assignRules() {
        let cgi = CGISettings(assign: [(".pl", "/usr/bin/perl"), ("", "")])
        #expect(cgi.interpreter(for: "/a/b.pl") == "/usr/bin/perl")
        #expect(cgi.interpreter(for: "/a/b.py") == "")
        let none = CGISettings(assign: [(".pl", "/usr/bin/perl")])
        #expect(none.interpreter(for: "/a/b.py") == nil)
    }

    @Test func hostWithoutPort() {
        #expect(Router.stripPort("example.org:8080") == "example.org")
        #expect(Router.stripPort("[::1]:8080") == "[::1]")
        #expect(Router.stripPort("example.org") == "example.org")
    }
}

import SwitchyardOS
enum SwitchyardOSBuffer { static func make() -> ByteBuffer { ByteBuffer(capacity: 64) } }

@Suite("Socket address text")
struct SocketAddressTextTests {
    @Test(arguments: ["0.0.0.0", "127.0.0.1", "10.20.30.40", "255.255.255.255", "192.168.0.9", "1.100.10.0"])
    func ipv4HostMatchesInput(text: String) throws {
        let a = try SocketAddress.parse("\(text):80")
        #expect(a.host == text)
        #expect(a.description == "\(text):80")
    }
}

@Suite("Byte buffer sizing")
struct ByteBufferSizingTests {
    /// An idle connection's buffer shrinks to almost nothing and regrows in one step, keeping
    /// what it holds.
    @Test func shrunkBufferRegrowsKeepingBytes() {
        let b = ByteBuffer(capacity: 64 * 1024)
        b.append(Array("abc".utf8))
        b.shrinkIfIdle(to: 64)
        #expect(b.capacity == 64 * 1024, "a buffer holding bytes is not shrunk")
        b.consume(3)
        b.shrinkIfIdle(to: 64)
        #expect(b.capacity == 64)
        b.append(Array("xy".utf8))
        b.reserve(2000)
        #expect(b.capacity == 2048)
        #expect(Array(UnsafeRawBufferPointer(start: b.readPointer, count: b.readableBytes)) == Array("xy".utf8))
    }

    /// An idle WebSocket's buffers hold no heap block (shrunk to 0) and regrow to what a small
    /// message needs, not a KiB each. Buffers shrunk to nothing share one empty storage: freeing
    /// them must not free it (two of them dropped would be a double free).
    @Test func bufferShrunkToNothingRegrowsToWhatIsNeeded() {
        for _ in 0..<2 {
            let b = ByteBuffer(capacity: 4096)
            b.append(Array("abc".utf8))
            #expect(b.shrinkIfIdle(to: 0) == 0, "a buffer holding bytes is not shrunk")
            b.consume(3)
            #expect(b.shrinkIfIdle(to: 0) == 4096)
            #expect(b.capacity == 0 && b.isEmpty)
            #expect(b.shrinkIfIdle(to: 0) == 0)
            let message = [UInt8](repeating: 7, count: 70)
            b.append(message)
            #expect(b.capacity == ByteBuffer.smallestGrowth)
            #expect(Array(b.readable) == message)
            b.consume(70)
            #expect(b.shrinkIfIdle(to: 0) == ByteBuffer.smallestGrowth)
        }
    }

    /// A buffer made with capacity 0 (a FastCGI stream's parked bytes) holds no heap block until
    /// bytes come, grows to what they need, and can be dropped unused (the shared empty storage
    /// must not be freed).
    @Test func bufferMadeEmptyAllocatesOnlyForBytes() {
        for _ in 0..<2 { _ = ByteBuffer(capacity: 0) }
        let b = ByteBuffer(capacity: 0)
        #expect(b.capacity == 0 && b.isEmpty && b.writableBytes == 0)
        b.append(Array("hello".utf8))
        #expect(b.capacity == ByteBuffer.smallestGrowth)
        #expect(Array(b.readable) == Array("hello".utf8))
        b.consume(5)
        #expect(b.shrinkIfIdle(to: 0) == ByteBuffer.smallestGrowth)
        #expect(ByteBuffer(capacity: 1).capacity == 64, "any other capacity is at least 64")
    }
}

@Suite("URL rules (mod_redirect, mod_rewrite, mod_access)")
struct URLRulesTests {
    @Test func substitutesGroupsAndEscapedDollars() {
        #expect(URLRules.substitute("/new/$1?id=$2", ["/old/a?id=7", "a", "7"]) == "/new/a?id=7")
        #expect(URLRules.substitute("/x/$9", ["/x", "y"]) == "/x/", "a group the regex does not have is empty")
        #expect(URLRules.substitute("/cost\\$1", ["z", "9"]) == "/cost$1")
        #expect(URLRules.substitute("$", ["a"]) == "$")
        #expect(URLRules.substitute("héllo $1", ["x", "wörld"]) == "héllo wörld")
    }

    @Test func percentGroupsAreTheConditionalsCaptures() {
        #expect(URLRules.substitute("https://%2/$1", ["/a", "a"], conditionGroups: ["www.x.org", "www.", "x.org"]) == "https://x.org/a")
        #expect(URLRules.substitute("/%9/%1", ["/"], conditionGroups: ["h", "g"]) == "//g", "a group the conditional does not have is empty")
        #expect(URLRules.substitute("/100\\%1%", ["/"], conditionGroups: ["h", "g"]) == "/100%1%")
        #expect(URLRules.hasPercentGroup("/%1") && !URLRules.hasPercentGroup("/100%") && !URLRules.hasPercentGroup("/\\%1"))
    }

    @Test func percentGroupsNameTheEnclosingRegexBlock() throws {
        let text = """
            server.modules = ("mod_redirect", "mod_rewrite")
            $HTTP["host"] =~ "^(www\\.)?(.*)$" {
                url.redirect = ("^/old/(.*)" => "https://%2/new/$1")
                $HTTP["url"] == "/inner" {
                    url.rewrite-once = ("^/(.*)" => "/%2/$1")
                }
            }
            else $HTTP["host"] == "plain" {
                url.redirect = ("^/(.*)" => "/%1")
            }
            """
        let doc = try ConfigParser.parse(text: text, fileName: "t.conf", baseDirectory: "/tmp", environment: [:])
        let resolver = SettingsResolver(document: doc, server: try ServerSettings(document: doc))
        #expect(resolver.regexContext(of: "url.redirect", matching: [0]) == 0)
        #expect(resolver.regexContext(of: "url.rewrite-once", matching: [0, 1]) == 0, "a plain block inside: its regex ancestor")
        #expect(resolver.regexContext(of: "url.redirect", matching: [2]) == nil, "an == block has no captures")
        #expect(resolver.regexContext(of: "url.redirect", matching: []) == nil)
        let rules = try resolver.resolve(matching: [0]).urlRules
        let captures = { (i: Int) -> [String] in doc.contexts[i].condition.regex?.captures("www.example.org") ?? [] }
        #expect(rules.redirect("/old/a?b=1", conditionCaptures: captures) == "https://example.org/new/a?b=1")
        var asked = 0
        _ = rules.redirect("/nomatch") { _ in asked += 1; return [] }
        #expect(asked == 0, "captures are computed only for a rule that matched and uses them")
    }

    @Test func onceRulesStopAndIfNotFileAsksOnce() throws {
        var rules = URLRules()
        rules.rewrites = [
            URLRules.Rewrite(rule: .init(regex: try POSIXRegex("^/static/(.*)$"), replacement: "/s/$1"), kind: .once, ifNotFile: true),
            URLRules.Rewrite(rule: .init(regex: try POSIXRegex("^/(.*)$"), replacement: "/index.php/$1"), kind: .once, ifNotFile: true),
        ]
        var asked = 0
        let r = rules.rewrite("/static/a.css", onceApplied: false) { asked += 1; return false }
        #expect(r?.uri == "/s/a.css" && asked == 1)
        asked = 0
        #expect(rules.rewrite("/static/a.css", onceApplied: false) { asked += 1; return true } == nil)
        #expect(asked == 1, "the file is checked once, not per rule")
        #expect(rules.rewrite("/x", onceApplied: true) { false } == nil)
    }

    @Test func accessDenyAndAllow() {
        var rules = URLRules()
        rules.accessDeny = ["~", ".inc"]
        #expect(rules.denies(path: "/a.inc") && rules.denies(path: "/b~") && !rules.denies(path: "/a.html"))
        rules.accessAllow = [".html"]
        #expect(!rules.denies(path: "/a.html") && rules.denies(path: "/a.txt"))
        rules.accessDeny = [""]
        #expect(rules.denies(path: "/a.html"), "\"\" denies everything")
    }
}

@Suite("alias.url")
struct AliasMapTests {
    func map(_ text: String) throws -> AliasMap {
        let doc = try ConfigParser.parse(text: "server.modules = (\"mod_alias\")\n" + text, fileName: "t.conf",
                                         baseDirectory: "/tmp", environment: [:])
        return try AliasMap.parse(modules: ["mod_alias"], entry: { doc.global[$0] })
    }

    @Test func longestPrefixAtASegmentBoundary() throws {
        let m = try map(#"alias.url = ( "/img" => "/srv/img/", "/img/big/" => "/data/big", "/cgi-bin/" => "/usr/lib/cgi-bin/" )"#)
        #expect(m.resolve("/img/a.png")! == ("/srv/img", "/a.png", "/img"))
        #expect(m.resolve("/img/big/b.png")! == ("/data/big", "/b.png", "/img/big"))
        #expect(m.resolve("/img")! == ("/srv/img", "/", "/img"))
        #expect(m.resolve("/img../etc/passwd") == nil)
        #expect(m.resolve("/imgs/x") == nil)
        #expect(m.resolve("/cgi-bin/env.py/x")! == ("/usr/lib/cgi-bin", "/env.py/x", "/cgi-bin"))
    }

    @Test func relativeDirectoriesAndDuplicatesAreErrors() {
        #expect(throws: (any Error).self) { try map(#"alias.url = ( "/a/" => "relative/" )"#) }
        #expect(throws: (any Error).self) { try map(#"alias.url = ( "/a/" => "/x/", "/a" => "/y/" )"#) }
    }
}

@Suite("htpasswd hashes")
struct PasswordHashTests {
    @Test func md5MatchesRFC1321Vectors() {
        func hex(_ s: String) -> String { MD5.hash(Array(s.utf8)).map { String(format: "%02x", $0) }.joined() }
        #expect(hex("") == "d41d8cd98f00b204e9800998ecf8427e")
        #expect(hex("abc") == "900150983cd24fb0d6963f7d28e17f72")
        #expect(hex(String(repeating: "1234567890", count: 8)) == "57edf4a22be3c955ac49da2e2107b67a")
    }

    @Test func md5CryptAgreesWithLibcrypt() {
        // The same algorithm with magic "$1$" is what libcrypt implements: one check of both.
        for (pw, salt) in [("secret", "abcdefgh"), ("", "x"), (String(repeating: "p", count: 40), "12345678")] {
            let ours = PasswordHash.md5Crypt(password: Array(pw.utf8), setting: "$1$" + salt, magic: "$1$")!
            #expect(PasswordHash.verify(password: pw, hash: ours), "libcrypt must accept \(ours)")
            #expect(!PasswordHash.verify(password: pw + "x", hash: ours))
        }
    }

    @Test func knownApacheHashes() {
        // htpasswd -nbm / -nbs output for "password".
        #expect(PasswordHash.verify(password: "password", hash: "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="))
        #expect(!PasswordHash.verify(password: "Password", hash: "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="))
        #expect(PasswordHash.verify(password: "password", hash: "$apr1$5D0.3D4e$q1W/PDv0loxNUfXPj23a50"))
        #expect(!PasswordHash.verify(password: "passwore", hash: "$apr1$5D0.3D4e$q1W/PDv0loxNUfXPj23a50"))
        #expect(!PasswordHash.verify(password: "x", hash: "$apr1$"))
        #expect(!PasswordHash.verify(password: "x", hash: "not-a-hash-at-all"))
    }
}
