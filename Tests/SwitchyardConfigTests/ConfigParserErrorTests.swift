import Testing
@testable import SwitchyardConfig

/// Malformed input fails with a typed error naming file:line:column and what was expected.
struct ConfigParserErrorTests {
    @Test func unterminatedString() throws {
        let error = try #require(parseError("a = 1\nb = \"abc\n"))
        #expect(error.location == ConfigSourceLocation(file: "t.conf", line: 2, column: 5))
        #expect(error.message.contains("unterminated string"))
        #expect(error.description.hasPrefix("t.conf:2:5: unterminated string"))
    }

    @Test func unexpectedTokenInArray() throws {
        let error = try #require(parseError("server.modules += (\"mod_cgi\")\n# comment\ncgi.assign = (\"\"{\n", file: "cgi.conf"))
        #expect(error.description == "cgi.conf:3:17: expected '=>' or ',' or ')' but found '{'")
    }

    @Test func missingClosingParenthesis() throws {
        let error = try #require(parseError("a = (\"x\", \"y\"\n"))
        #expect(error.location.line == 2 && error.location.column == 1)
        #expect(error.message == "expected '=>' or ',' or ')' but found end of file")

        let keyed = try #require(parseError("a = (\"k\" => \"v\" ]"))
        #expect(keyed.description == "t.conf:1:17: expected ',' or ')' but found ']'")

        let empty = try #require(parseError("a = (\n"))
        #expect(empty.message.hasPrefix("expected a value or ')' to close the array opened at t.conf:1:5"))
    }

    @Test func badOperator() throws {
        let error = try #require(parseError("$HTTP[\"url\"] =* \"x\" { }"))
        #expect(error.location.line == 1 && error.location.column == 14)
        #expect(error.message.hasPrefix("expected a comparison operator"))
        #expect(error.message.hasSuffix("but found '='"))

        let assignment = try #require(parseError("a == 1"))
        #expect(assignment.description == "t.conf:1:3: expected '=', '+=' or ':=' after 'a' but found '=='")

        let bang = try #require(parseError("a = 1\n  !"))
        #expect(bang.description == "t.conf:2:3: unexpected character '!'")
    }

    @Test func unknownCondition() throws {
        let error = try #require(parseError("a = 1\n  $FOO[\"x\"] == \"y\" { }"))
        #expect(error.location.line == 2 && error.location.column == 3)
        #expect(error.message.hasPrefix("unknown condition '$FOO'"))

        let field = try #require(parseError("$HTTP[\"colour\"] == \"y\" { }"))
        #expect(field.location.column == 7)
        #expect(field.message == "unknown field $HTTP[\"colour\"]")
    }

    @Test func missingClosingBrace() throws {
        let error = try #require(parseError("$HTTP[\"url\"] == \"/\" {\n  a = 1\n"))
        #expect(error.location.line == 3 && error.location.column == 1)
        #expect(error.message == "expected '}' to close the block opened at t.conf:1:21 but found end of file")

        let stray = try #require(parseError("a = 1\n}\n"))
        #expect(stray.description == "t.conf:2:1: unexpected '}' without a matching '{'")
    }

    @Test func semanticErrors() throws {
        #expect(parseError("a = var.nope")?.description == "t.conf:1:5: undefined config variable 'var.nope'")
        #expect(parseError("a = env.SWITCHYARD_NOPE")?.message == "undefined environment variable 'env.SWITCHYARD_NOPE'")
        #expect(parseError("a = (\"k\" => 1, \"k\" => 2)")?.description == "t.conf:1:16: duplicate array key \"k\"")
        #expect(parseError("a = \"x\" + (\"y\")")?.description == "t.conf:1:9: cannot append an array to a string")
        #expect(parseError("a = (1 => 2)")?.message == "array keys must be strings, found integer")
        #expect(parseError("a = 12ab")?.location.column == 5)
        #expect(parseError("a = 99999999999999999999")?.message == "integer literal out of range")
        #expect(parseError("env.HOME = \"x\"")?.message.contains("read-only") == true)
        let regex = try #require(parseError("$HTTP[\"url\"] =~ \"(\" { }"))
        #expect(regex.location.column == 17)
        #expect(regex.message.hasPrefix("invalid regular expression \"(\""))
        #expect(parseError("else { }")?.message == "'else' without a preceding conditional block")
        #expect(parseError("$HTTP[\"url\"] == 1 { }")?.message == "condition pattern must be a string, found integer")
        #expect(parseError("include \"missing.conf\"", base: "/nonexistent")?.message
            .hasPrefix("cannot read include file \"/nonexistent/missing.conf\"") == true)
    }

    @Test func missingMainFile() {
        do {
            _ = try ConfigParser.parse(file: "/nonexistent/switchyard.conf", environment: [:])
            Issue.record("expected an error")
        } catch {
            #expect(error.description == "/nonexistent/switchyard.conf:1:1: cannot read config file \"/nonexistent/switchyard.conf\": No such file or directory")
        }
    }

    /// Every truncation and every single-byte corruption of a realistic config either parses or fails
    /// with a located error; none crashes.
    @Test func truncationsAndCorruptionsNeverCrash() {
        let text = ConditionalTests.text + "\nx = (\"a\" => (1, \"b\"\n\"c\"), \"d\" => var.q + env.E)\n"
        let bytes = Array(text.utf8)
        var failures = 0
        for end in 0...bytes.count {
            if parseError(String(decoding: bytes[..<end], as: UTF8.self)) != nil { failures += 1 }
        }
        for position in stride(from: 0, to: bytes.count, by: 3) {
            for replacement in ["(", ")", "{", "}", "\"", "=", "$", "#", "\n", ",", "\\"] {
                var mutated = bytes
                mutated[position] = replacement.utf8.first!
                if let error = parseError(String(decoding: mutated, as: UTF8.self)) {
                    #expect(error.location.line >= 1 && error.location.column >= 1)
                }
            }
        }
        #expect(failures > 0)
    }
}
