// fuzz-config: ConfigParser (lexer, values, `+`/`+=`, conditionals and else-chains, includes).
// Input: configuration text; NUL bytes separate files. The first file is /fuzz/main.conf, the others
// /fuzz/a.conf, /fuzz/b.conf, /fuzz/conf.d/c.conf, /fuzz/conf.d/d.conf, ... held in an
// InMemoryConfigFiles, so `include` (globs too) works without the disk and `include_shell` runs nothing.
// Checks: parsing ends with a document or a ConfigError that names a file from the input; as
// `ConfigDocument.dump()` promises, the dump parses back to a document with an identical dump; and
// conditionals evaluated for a few requests match parent-first, at most one branch per else-chain,
// with the same blocks and effective settings in the original and the re-parsed document.
import FuzzSupport
import SwitchyardConfig

let requests = [
    ConditionInput(url: "/ws/echo.py", host: "example.com", remoteIP: "10.1.2.3", queryString: "a=1", serverSocket: ":8443",
                   header: { $0.lowercased() == "user-agent" ? "fuzzbot" : nil }),
    ConditionInput(url: "/x/index.php", host: "EXAMPLE.org", method: "POST", scheme: "https", remoteIP: "2001:db8::1",
                   serverSocket: "127.0.0.1:8080"),
]
let names = ["/fuzz/main.conf", "/fuzz/a.conf", "/fuzz/b.conf", "/fuzz/conf.d/c.conf", "/fuzz/conf.d/d.conf"]
let environment = ["HOME": "/home/fuzz", "PORT": "8080", "EMPTY": ""]

func fileName(_ index: Int) -> String {
    index < names.count ? names[index] : "/fuzz/conf.d/f\(index).conf"
}

runFuzzer { data in
    var files: [String: [UInt8]] = [:]
    for (index, part) in data.split(separator: 0, omittingEmptySubsequences: false).enumerated() {
        files[fileName(index)] = Array(part)
    }
    let source = InMemoryConfigFiles(files)
    let document: ConfigDocument
    do throws(ConfigError) {
        document = try ConfigParser.parse(file: names[0], environment: environment, fileSource: source)
    } catch {
        let file = error.location.file
        fuzzCheck(files[file] != nil || file.hasPrefix("include_shell"), "error names unknown file \(file): \(error)")
        return
    }
    fuzzCheck(document.files.first == names[0], "files read: \(document.files)")
    let dump = document.dump()
    do {
        let again = try ConfigParser.parse(text: dump, fileName: "/fuzz/dump.conf", baseDirectory: "/fuzz",
                                           environment: environment, fileSource: InMemoryConfigFiles())
        let dumpAgain = again.dump()
        fuzzCheck(dumpAgain == dump, "dump does not round-trip:\n--- first\n\(dump)\n--- second\n\(dumpAgain)")
        for request in requests { checkEvaluation(document, again, request) }
    } catch {
        fuzzCheck(false, "dump does not parse back: \(error)\n--- dump\n\(dump)")
    }
}

func checkEvaluation(_ document: ConfigDocument, _ again: ConfigDocument, _ request: ConditionInput) {
    let matched = document.matchingContexts(request)
    fuzzCheck(matched == matched.sorted() && Set(matched).count == matched.count, "matches out of order: \(matched)")
    let set = Set(matched)
    for index in matched {
        let context = document.contexts[index]
        if let parent = context.parent { fuzzCheck(set.contains(parent), "block \(index) matched without its parent") }
        fuzzCheck(!context.elsePredecessors.contains(where: set.contains), "two branches of an else-chain matched")
    }
    fuzzCheck(again.matchingContexts(request) == matched, "the re-parsed dump matches other blocks")
    fuzzCheck(again.settings(matching: matched).mapValues(\.value) == document.settings(matching: matched).mapValues(\.value),
              "the re-parsed dump has other effective settings")
}
