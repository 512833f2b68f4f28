import Testing
import SwitchyardGatewayCodecs

/// The stderr line splitter: lines out as they complete, CR of CRLF removed, lines capped,
/// the unfinished last line at `finish`, and the result independent of how input is cut.
@Suite struct LineSplitterTests {
    /// Feeds `chunks` one after the other, then finishes; returns every line as a string.
    func split(_ chunks: [String], max: Int = LineSplitter.defaultMaxLineLength, finish: Bool = true) -> [String] {
        var splitter = LineSplitter(maxLineLength: max)
        var lines: [String] = []
        for chunk in chunks {
            bytes(chunk).withUnsafeBytes { splitter.feed($0) { lines.append(String(decoding: $0, as: UTF8.self)) } }
        }
        if finish { splitter.finish { lines.append(String(decoding: $0, as: UTF8.self)) } }
        return lines
    }

    @Test func completeLinesAndCRLF() {
        #expect(split(["one\ntwo\r\n\nthree\n"]) == ["one", "two", "", "three"])
        #expect(split(["\r\n"]) == [""])
    }

    @Test func lineAcrossFeeds() {
        #expect(split(["par", "tial", " line\r", "\nnext"]) == ["partial line", "next"])
        #expect(split(["abc", "\n"]) == ["abc"])
    }

    @Test func unfinishedLineOnlyAtFinish() {
        #expect(split(["no newline"], finish: false) == [])
        #expect(split(["no newline"]) == ["no newline"])
        #expect(split(["trailing CR\r"]) == ["trailing CR"])
        #expect(split([]) == [])
        #expect(split(["done\n"]) == ["done"])
    }

    @Test func longLinesAreCapped() {
        let long = String(repeating: "x", count: 20_000)
        #expect(split([long + "\nafter\n"]) == [String(repeating: "x", count: 8192), "after"])
        #expect(split(["abcdefgh", "ijkl\nmn", "opqrstu\n"], max: 5) == ["abcde", "mnopq"])
        #expect(split(["abcdefgh"], max: 5) == ["abcde"])
        // The CR right before the LF of a capped line is beyond the cap: nothing to strip.
        #expect(split(["abcdefg\r\n"], max: 5) == ["abcde"])
        #expect(split(["abcd\r\n"], max: 5) == ["abcd"])
    }

    /// Every way of cutting the input into two feeds gives the same lines as one feed.
    @Test func independentOfChunking() {
        let text = "first\r\nsecond line that is long\n\nthird\rx\nlast"
        let expected = split([text], max: 12)
        #expect(expected == ["first", "second line ", "", "third\rx", "last"])
        let utf8 = Array(text.utf8)
        for cut in 0...utf8.count {
            let a = String(decoding: utf8[..<cut], as: UTF8.self), b = String(decoding: utf8[cut...], as: UTF8.self)
            #expect(split([a, b], max: 12) == expected, "cut at \(cut)")
        }
    }

    @Test func splitterIsReusableAfterFinish() {
        var splitter = LineSplitter()
        var lines: [String] = []
        bytes("a").withUnsafeBytes { splitter.feed($0) { _ in } }
        splitter.finish { lines.append(String(decoding: $0, as: UTF8.self)) }
        #expect(!splitter.hasPartialLine)
        splitter.finish { lines.append(String(decoding: $0, as: UTF8.self)) }
        #expect(lines == ["a"])
    }
}
