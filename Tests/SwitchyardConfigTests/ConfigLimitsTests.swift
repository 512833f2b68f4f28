import Testing
@testable import SwitchyardConfig

/// Hostile or broken configurations found by fuzz-config: before `ConfigLimits` they overflowed the
/// stack (deep nesting), grew values exponentially (`a += a`) or included files 2^n times.
@Suite struct ConfigLimitsTests {
    @Test func deeplyNestedArraysAreAnErrorNotAStackOverflow() throws {
        let text = "x = " + String(repeating: "(", count: 100_000)
        let error = parseError(text)
        #expect(error?.message == "nesting deeper than 64 levels")
        #expect(error?.location.column == 69)
        // 64 levels are fine.
        let ok = try parse("x = " + String(repeating: "(", count: 64) + String(repeating: ")", count: 64))
        #expect(ok.global["x"] != nil)
    }

    @Test func deeplyNestedBlocksAreAnErrorNotAStackOverflow() throws {
        let text = String(repeating: "$HTTP[\"url\"] == \"/\" {\n", count: 50_000)
        let error = parseError(text)
        #expect(error?.message == "nesting deeper than 64 levels")
        #expect(error?.location.line == 65)
    }

    @Test func doublingValuesStopsAtTheLimit() throws {
        let strings = parseError("a = \"0123456789abcdef\"\n" + String(repeating: "a += a\n", count: 64))
        #expect(strings?.message.contains("string longer than 65536 bytes") == true)
        let arrays = parseError("a = (1, 2, 3, 4)\n" + String(repeating: "a += a\n", count: 64))
        #expect(arrays?.message.contains("array with more than 16384 elements") == true)
        // Nested sharing: each line doubles the logical size while the storage stays tiny.
        let nested = parseError("a = (\"x\")\n" + String(repeating: "a = (a, a)\n", count: 64))
        #expect(nested?.message.contains("values larger than 1048576 bytes in total") == true)
    }

    @Test func exponentialIncludeFanOutIsBounded() throws {
        // f0 includes f1 twice, f1 includes f2 twice, ...: 2^30 parses without a limit.
        var files: [String: [UInt8]] = [:]
        for i in 0..<30 { files["/c/f\(i).conf"] = Array("include \"f\(i + 1).conf\"\ninclude \"f\(i + 1).conf\"\n".utf8) }
        files["/c/f30.conf"] = Array("x = 1\n".utf8)
        do {
            _ = try ConfigParser.parse(file: "/c/f0.conf", environment: [:], fileSource: InMemoryConfigFiles(files))
            Issue.record("expected an include limit error")
        } catch {
            #expect(error.message.contains("more than 1024 files included"))
        }
    }

    @Test func inMemoryFilesNormaliseIncludeCycles() throws {
        let files = InMemoryConfigFiles(["/c/main.conf": Array("include \"./sub/../main.conf\"\n".utf8)])
        do {
            _ = try ConfigParser.parse(file: "/c/main.conf", environment: [:], fileSource: files)
            Issue.record("expected an include cycle")
        } catch {
            #expect(error.message.contains("include cycle"))
        }
        #expect(InMemoryConfigFiles.normalise("/a//b/./c/../d") == "/a/b/d")
        #expect(files.runShell("echo hi").isFailure)
    }

    /// As open(2): "a.conf/" names a directory, not a.conf (fuzz-config found the parser reading
    /// a.conf through it, then resolving a.conf's own includes under "a.conf/").
    @Test func inMemoryFilesRefuseAFileNameEndingInASlash() throws {
        let files = InMemoryConfigFiles(["/c/main.conf": Array("include \"a.conf/\"\n".utf8), "/c/a.conf": Array("x = 1\n".utf8)])
        for path in ["/c/a.conf/", "/c/a.conf/.", "/c/a.conf/.."] { #expect(files.read(path: path).isFailure, "\(path)") }
        #expect(!files.read(path: "/c/./a.conf").isFailure)
        do {
            _ = try ConfigParser.parse(file: "/c/main.conf", environment: [:], fileSource: files)
            Issue.record("a.conf/ was read as a file")
        } catch {
            #expect(error.location.file == "/c/main.conf" && error.message.contains("a.conf/"), "\(error)")
        }
    }
}

extension Result {
    var isFailure: Bool { if case .failure = self { return true } else { return false } }
}
