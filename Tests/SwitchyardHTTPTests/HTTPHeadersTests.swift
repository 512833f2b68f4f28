import Testing
import SwitchyardHTTP

@Suite struct HTTPHeadersTests {
    @Test func orderedCaseInsensitiveWithDuplicates() {
        var h = HTTPHeaders()
        h.add(name: "Set-Cookie", value: "a=1")
        h.add(name: "Content-Type", value: "text/plain")
        h.add(name: "set-cookie", value: "b=2")
        #expect(h.count == 3)
        #expect(h.first("SET-COOKIE") == "a=1")
        #expect(h.values("Set-Cookie") == ["a=1", "b=2"])
        #expect(h.contains("content-type"))
        #expect(!h.contains("Content-Length"))
        #expect(h.first("missing") == nil)
        #expect(h.values("missing").isEmpty)
        #expect(h.map { $0.name } == ["Set-Cookie", "Content-Type", "set-cookie"])
    }

    @Test func removeAndReplace() {
        var h: HTTPHeaders = ["A": "1", "B": "2", "a": "3", "C": "4"]
        h.replaceOrAdd(name: "a", value: "x")
        #expect(h.map { "\($0.name)=\($0.value)" } == ["A=x", "B=2", "C=4"])
        h.replaceOrAdd(name: "D", value: "5")
        #expect(h.first("d") == "5")
        #expect(h.count == 4)
        h.remove(name: "b")
        #expect(!h.contains("B"))
        #expect(h.count == 3)
        h["c"] = nil
        #expect(h.count == 2)
        h["E"] = "6"
        #expect(h["e"] == "6")
    }

    @Test func listElements() {
        var h = HTTPHeaders()
        h.add(name: "Accept-Encoding", value: "gzip, , br ")
        h.add(name: "accept-encoding", value: "zstd")
        #expect(h.listElements("Accept-Encoding") == ["gzip", "br", "zstd"])
    }

    @Test func nonASCIINamesDoNotMatchByCaseFolding() {
        var h = HTTPHeaders()
        h.add(name: "X-Ä", value: "1")
        #expect(h.first("x-ä") == nil)
        #expect(h.first("X-Ä") == "1")
    }

    @Test func conditionalOrRangeFieldsAreSeenInAnyCase() {
        #expect(!HTTPHeaders([("Host", "x"), ("Accept", "*/*"), ("If", "1"), ("Iff-X", "2"), ("Ranges", "3"), ("I-f", "4")]).mayBeConditionalOrRanged)
        #expect(!HTTPHeaders().mayBeConditionalOrRanged)
        for name in ["If-None-Match", "if-modified-since", "IF-RANGE", "If-Match", "Range", "rAnGe"] {
            #expect(HTTPHeaders([("Host", "x"), (name, "v")]).mayBeConditionalOrRanged, "\(name)")
        }
    }
}
