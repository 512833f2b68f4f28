import Foundation
import Testing
@testable import SwitchyardConfig

/// Values, expressions and assignment operators.
struct ConfigParserTests {
    @Test func scalarsAndStrings() throws {
        let doc = try parse(#"""
        a = "plain"  # comment
        b = 42
        c = "q\"b\\s\nt\tr\r-\.php$"
        d = "enable"
        e = ""
        f = "multi
        line"
        """#)
        #expect(doc.global["a"]?.value == .string("plain"))
        #expect(doc.global["b"]?.value == .integer(42))
        #expect(doc.global["c"]?.value == .string("q\"b\\s\nt\tr\r-\\.php$"))
        #expect(doc.global["d"]?.value.boolValue == true)
        #expect(doc.global["e"]?.value == .string(""))
        #expect(doc.global["f"]?.value == .string("multi\nline"))
        #expect(doc.global["b"]?.location == ConfigSourceLocation(file: "t.conf", line: 2, column: 1))
        #expect(doc.warnings.isEmpty)
        #expect(doc.files == ["t.conf"])
    }

    @Test func arrays() throws {
        let doc = try parse("""
        a = ( "x", "y", )
        b = ( "k" => ( "n" => ( ( "deep" => 1 ) ) ), "plain", )
        c = ()
        d = ( "one"
              "two" )
        """)
        #expect(doc.global["a"]?.value.stringList == ["x", "y"])
        #expect(doc.global["b"]?.value["k"]?["n"]?.arrayElements?.first?.value["deep"] == .integer(1))
        #expect(doc.global["b"]?.value.arrayElements?.last == ConfigArrayElement(value: .string("plain")))
        #expect(doc.global["c"]?.value == .array([]))
        #expect(doc.global["d"]?.value.stringList == ["one", "two"])
        #expect(doc.warnings.count == 1)
        #expect(doc.warnings.first?.location == ConfigSourceLocation(file: "t.conf", line: 4, column: 12))
    }

    @Test func variablesEnvironmentAndConcatenation() throws {
        let doc = try parse("""
        var.base = "/srv"
        var.port = 80
        server.document-root = var.base + "/www"
        server.port = var.port + 8000
        server.name = "h" + server.port
        x = server.document-root + "/cgi-bin" + "/"
        home = env.HOME + "/x"
        list = ("a") + ("b", "c")
        mixed = 1 + "s"
        """, environment: ["HOME": "/home/me"])
        #expect(doc.global["server.document-root"]?.value == .string("/srv/www"))
        #expect(doc.global["server.port"]?.value == .integer(8080))
        #expect(doc.global["server.name"]?.value == .string("h8080"))
        #expect(doc.global["x"]?.value == .string("/srv/www/cgi-bin/"))
        #expect(doc.global["home"]?.value == .string("/home/me/x"))
        #expect(doc.global["list"]?.value.stringList == ["a", "b", "c"])
        #expect(doc.global["mixed"]?.value == .string("1s"))
        #expect(doc.global["var.base"]?.value == .string("/srv"))
    }

    @Test func appendAndForce() throws {
        let doc = try parse("""
        server.modules = ("mod_a")
        server.modules += ("mod_b")
        created += ("x")
        s = "ab"
        s += "cd"
        n = 1
        n += 2
        $HTTP["url"] =^ "/x" {
          server.modules += ("mod_c")
          s += "!"
          fresh += ("y")
        }
        server.modules += ("mod_d")
        k = 1
        k := 2
        k = 3
        """)
        #expect(doc.global["server.modules"]?.value.stringList == ["mod_a", "mod_b", "mod_d"])
        #expect(doc.global["created"]?.value.stringList == ["x"])
        #expect(doc.global["s"]?.value == .string("abcd"))
        #expect(doc.global["n"]?.value == .integer(3))
        #expect(doc.global["k"]?.value == .integer(3))
        let block = doc.contexts[0].settings
        #expect(block["server.modules"]?.value.stringList == ["mod_a", "mod_b", "mod_c"])
        #expect(block["s"]?.value == .string("abcd!"))
        #expect(block["fresh"]?.value.stringList == ["y"])
        #expect(doc.global["fresh"] == nil)
        // `k := 2` is silent, the second plain `=` warns.
        #expect(doc.warnings.count == 1)
        #expect(doc.warnings.first?.location.line == 16)
        #expect(doc.warnings.first?.message.hasPrefix("duplicate config variable 'k'") == true)
        // Keyed duplicates across += are errors, as in lighttpd.
        #expect(parseError("a = (\"k\" => 1)\na += (\"k\" => 2)")?.description.hasPrefix("t.conf:2:3: cannot '+=' to 'a'") == true)
    }

    @Test func nestedAppendSeesEnclosingScope() throws {
        let doc = try parse("""
        a = ("g")
        $HTTP["host"] == "h" {
          a += ("h")
          $HTTP["url"] =^ "/u" {
            a += ("u")
            b = a
          }
        }
        """)
        #expect(doc.contexts[0].settings["a"]?.value.stringList == ["g", "h"])
        #expect(doc.contexts[1].settings["a"]?.value.stringList == ["g", "h", "u"])
        #expect(doc.contexts[1].settings["b"]?.value.stringList == ["g", "h", "u"])
        let both = doc.matchingContexts(ConditionInput(url: "/u/1", host: "h"))
        #expect(both == [0, 1])
        #expect(doc.value("a", matching: both)?.value.stringList == ["g", "h", "u"])
        #expect(doc.value("a", matching: [])?.value.stringList == ["g"])
        #expect(doc.settings(matching: both)["b"] != nil)
    }

    @Test func includesRelativeGlobAndShell() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try write("""
        server.modules = ("mod_a")
        include "conf.d/*.conf"
        include "sub/one.conf"
        $HTTP["url"] =^ "/in" {
          include "sub/block.conf"
        }
        include_shell "echo 'shell.key = 5'"
        include "conf.d/none-*.conf"
        """, to: dir + "/main.conf")
        try write("server.modules += (\"mod_b\")\n", to: dir + "/conf.d/10-b.conf")
        try write("server.modules += (\"mod_c\")\n", to: dir + "/conf.d/20-c.conf")
        try write("include \"two.conf\"\n", to: dir + "/sub/one.conf")
        try write("two = \"yes\"\n", to: dir + "/sub/two.conf")
        try write("inner = two\n", to: dir + "/sub/block.conf")

        let doc = try ConfigParser.parse(file: dir + "/main.conf", environment: [:])
        #expect(doc.global["server.modules"]?.value.stringList == ["mod_a", "mod_b", "mod_c"])
        #expect(doc.global["two"]?.value == .string("yes"))
        #expect(doc.global["two"]?.location.file == dir + "/sub/two.conf")
        #expect(doc.contexts[0].settings["inner"]?.value == .string("yes"))
        #expect(doc.global["shell.key"]?.value == .integer(5))
        #expect(doc.files.map { ($0 as NSString).lastPathComponent }
            == ["main.conf", "10-b.conf", "20-c.conf", "one.conf", "two.conf", "block.conf"])

        // Syntax errors inside an included file name that file.
        try write("bad = (\n", to: dir + "/sub/two.conf")
        do {
            _ = try ConfigParser.parse(file: dir + "/main.conf", environment: [:])
            Issue.record("expected an error")
        } catch {
            #expect(error.location.file == dir + "/sub/two.conf")
            #expect(error.location.line == 2)
        }
        // include_shell failure.
        #expect(parseError("include_shell \"exit 3\"")?.message == "include_shell \"exit 3\" failed: exited with status 3")
    }

    @Test func includeCycle() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try write("a = 1\ninclude \"b.conf\"\n", to: dir + "/a.conf")
        try write("b = 1\n  include \"a.conf\"\n", to: dir + "/b.conf")
        do {
            _ = try ConfigParser.parse(file: dir + "/a.conf", environment: [:])
            Issue.record("expected an include cycle error")
        } catch {
            #expect(error.location == ConfigSourceLocation(file: dir + "/b.conf", line: 2, column: 3))
            #expect(error.message == "include cycle: \(dir)/a.conf -> \(dir)/b.conf -> \(dir)/a.conf")
        }
        // Including the same file twice without a cycle is fine.
        try write("x += (\"y\")\n", to: dir + "/c.conf")
        try write("include \"c.conf\"\ninclude \"c.conf\"\n", to: dir + "/d.conf")
        let doc = try ConfigParser.parse(file: dir + "/d.conf", environment: [:])
        #expect(doc.global["x"]?.value.stringList == ["y", "y"])
    }

    @Test func unknownKeyWarnings() throws {
        var doc = try parse("""
        server.port = 80
        var.x = 1
        cgi.assign = ("" => "")
        bogus.key = 1
        $HTTP["url"] =^ "/" {
          server.tpyo = 1
        }
        """)
        doc.warnUnknownKeys(known: ["server.port", "cgi."])
        #expect(doc.warnings.map(\.description) == [
            "t.conf:4:1: warning: unknown config key 'bogus.key' (ignored)",
            "t.conf:6:3: warning: unknown config key 'server.tpyo' (ignored)",
        ])
        #expect(doc.allKeys().map(\.key) == ["server.port", "var.x", "cgi.assign", "bogus.key", "server.tpyo"])
    }

    @Test func accessors() {
        #expect(ConfigValue.string("8081").intValue == 8081)
        #expect(ConfigValue.string("80x").intValue == nil)
        #expect(ConfigValue.integer(7).stringValue == "7")
        #expect(ConfigValue.string("Disable").boolValue == false)
        #expect(ConfigValue.string("true").boolValue == true)
        #expect(ConfigValue.string("0").boolValue == false)
        #expect(ConfigValue.integer(0).boolValue == false)
        #expect(ConfigValue.string("maybe").boolValue == nil)
        #expect(ConfigValue.string("index.html").stringList == ["index.html"])
        let nested = ConfigValue.array([ConfigArrayElement(value: .array([]))])
        #expect(nested.stringList == nil)
        #expect(nested["x"] == nil)
        #expect(ConfigValue.string("x")["x"] == nil)
        #expect(ConfigValue.array([]).arrayElements == [])
    }
}
