import Testing
@testable import SwitchyardBenchCore

@Suite struct FormattingTests {
    @Test func byteSizeParse() {
        #expect(ByteSize.parse("16") == 16)
        #expect(ByteSize.parse("0") == 0)
        #expect(ByteSize.parse("4k") == 4096)
        #expect(ByteSize.parse("4K") == 4096)
        #expect(ByteSize.parse("1m") == 1 << 20)
        #expect(ByteSize.parse("64KiB") == 64 << 10)
        #expect(ByteSize.parse("2MB") == 2 << 20)
        #expect(ByteSize.parse("1g") == 1 << 30)
        #expect(ByteSize.parse("10b") == 10)
        #expect(ByteSize.parse("") == nil)
        #expect(ByteSize.parse("k") == nil)
        #expect(ByteSize.parse("-1") == nil)
        #expect(ByteSize.parse("1.5m") == nil)
        #expect(ByteSize.parse("99999999999999999999g") == nil)
    }

    @Test func byteSizeFormat() {
        #expect(ByteSize.format(16) == "16 B")
        #expect(ByteSize.format(4096) == "4 KiB")
        #expect(ByteSize.format(1 << 20) == "1 MiB")
        #expect(ByteSize.format(3 << 19) == "1.50 MiB")
        #expect(ByteSize.format(1023) == "1023 B")
    }

    @Test func jsonEscaping() {
        #expect(JSONObjectWriter.quote("plain") == "\"plain\"")
        #expect(JSONObjectWriter.quote("a\"b\\c") == "\"a\\\"b\\\\c\"")
        #expect(JSONObjectWriter.quote("l1\nl2\r\t") == "\"l1\\nl2\\r\\t\"")
        #expect(JSONObjectWriter.quote("\u{01}\u{1f}") == "\"\\u0001\\u001f\"")
        #expect(JSONObjectWriter.quote("µs ×") == "\"µs ×\"")
        var j = JSONObjectWriter()
        j.add("s", "x\"y")
        j.add("i", 3)
        j.add("d", 1.23456)
        j.add("whole", 2.0)
        j.add("nan", Double.nan)
        j.add("b", true)
        j.add("list", ["a", "b\n"])
        #expect(j.text == "{\"s\": \"x\\\"y\", \"i\": 3, \"d\": 1.235, \"whole\": 2, \"nan\": null, \"b\": true, \"list\": [\"a\", \"b\\n\"]}")
        // And it reads back.
        let back = FlatJSON.parse(j.text)
        #expect(back?["s"] == "x\"y")
        #expect(back?["i"] == "3")
        #expect(back?["nan"] == "null")
        #expect(back?["list"] == "[\"a\", \"b\\n\"]")
    }

    @Test func flatJSONRejectsGarbage() {
        #expect(FlatJSON.parse("") == nil)
        #expect(FlatJSON.parse("{\"a\": }") == nil)
        #expect(FlatJSON.parse("{\"a\" 1}") == nil)
        #expect(FlatJSON.parse("{}") == [:])
        #expect(FlatJSON.parse("{\"u\": \"\\u00e9\"}")?["u"] == "é")
    }

    @Test func numberFormat() {
        #expect(NumberFormat.fixed(12.5, decimals: 2) == "12.50")
        #expect(NumberFormat.fixed(-0.004, decimals: 2) == "0.00")
        #expect(NumberFormat.fixed(-1.5, decimals: 1) == "-1.5")
        #expect(NumberFormat.grouped(1234567) == "1,234,567")
        #expect(NumberFormat.grouped(-1000) == "-1,000")
        #expect(NumberFormat.compact(987) == "987")
        #expect(NumberFormat.compact(12_345) == "12.3k")
        #expect(NumberFormat.compact(1_090_000) == "1.09M")
        #expect(NumberFormat.json(3.0) == "3")
        #expect(NumberFormat.json(.infinity) == "null")
    }

    @Test func procParsers() {
        let stat = "1234 (my prog) (x) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 75 0 0 20 0 3 0 100 1000 200"
        #expect(ProcessSample.cpuTicks(stat: stat) == 325)
        #expect(ProcessSample.cpuTicks(stat: "garbage") == nil)
        let status = "Name:\tswitchyard\nVmPeak:\t  9000 kB\nVmRSS:\t    4321 kB\nThreads:\t3\n"
        #expect(ProcessSample.residentKiB(status: status) == 4321)
        #expect(ProcessSample.residentKiB(status: "Name:\tzombie\n") == nil)
    }

    @Test func wrkOutput() {
        let text = """
        Running 2s test @ http://127.0.0.1:8080/cgi/hello
          1 threads and 8 connections
          Thread Stats   Avg      Stdev     Max   +/- Stdev
            Latency    14.28ms    3.01ms  30.00ms   70.00%
            Req/Sec   560.00     30.00   600.00     80.00%
          1130 requests in 2.01s, 150.00KB read
          Socket errors: connect 0, read 2, write 0, timeout 1
          Non-2xx or 3xx responses: 4
        Requests/sec:    562.19
        Transfer/sec:     74.60KB
        """
        #expect(WrkOutput.parse(text) == WrkOutput(requestsPerSecond: 562.19, requests: 1130, non2xx: 4, socketErrors: 3))
        #expect(WrkOutput.parse("unable to connect") == nil)
    }

    @Test func sampleStats() {
        let s = SampleStats([3, 1, 2])
        #expect(s.median == 2 && s.min == 1 && s.max == 3)
        #expect(SampleStats([1, 2, 3, 10]).median == 2.5)
        #expect(SampleStats([]).median == 0)
    }
}
