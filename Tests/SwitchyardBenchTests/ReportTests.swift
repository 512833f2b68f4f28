import Testing
@testable import SwitchyardBenchCore

@Suite struct ReportTests {
    static let columns = [
        CompareColumn(title: "64 B ×1", unit: "msg/s", format: .rate),
        CompareColumn(title: "idle", unit: "KiB/conn", format: .kibibytes, higherIsBetter: false),
        CompareColumn(title: "client", unit: "share", format: .percent, inChart: false),
    ]

    static func table() -> CompareTable {
        var c = CompareCollector(columns: columns)
        for v in [14_000.0, 15_500, 14_600] { c.add(row: "lighttpd mod_cgi", column: 0, value: v) }
        for v in [9.5, 9.7, 9.9] { c.add(row: "lighttpd mod_cgi", column: 1, value: v) }
        c.add(row: "lighttpd mod_cgi", column: 2, value: 0.15)
        for v in [17_100.0, 16_900, 18_000] { c.add(row: "switchyard <CGI> & co | x", column: 0, value: v) }
        c.add(row: "switchyard <CGI> & co | x", column: 1, value: 3.7)
        c.add(row: "switchyard <CGI> & co | x", column: 2, value: 0.16)
        c.add(row: "native", column: 0, value: 7_000)
        c.fail(row: "native", column: 1, reason: "744 errors (upgrade refused: status 503)")
        c.fail(row: "native", column: 1, reason: "a later failure is not kept")
        c.markNotApplicable(row: "native", column: 2, reason: "not here")
        return c.table(title: "WebSocket echo", ratios: [CompareRatio(label: "switchyard ÷ lighttpd", subject: 1, baseline: 0)])
    }

    static func report() -> CompareReport {
        CompareReport(machine: MachineDescription(date: "2026-11-22", hostname: "vm", cores: 2, cpuModel: "AMD EPYC",
                                                  kernel: "6.1.0", lighttpdVersion: "lighttpd/1.4.69"),
                      runs: 3, command: "switchyard-bench compare", timing: "1 s warm-up + 3 s measured",
                      tables: [table()], notes: ["a note"])
    }

    @Test func collectorCells() {
        let t = Self.table()
        #expect(t.rows.map(\.name) == ["lighttpd mod_cgi", "switchyard <CGI> & co | x", "native"])
        #expect(t.rows[0].cells[0] == .value(SampleStats([14_000, 15_500, 14_600])))
        #expect(t.rows[0].cells[0].text(.rate) == "14.6k [14.0k–15.5k]")
        #expect(t.rows[1].cells[1].text(.kibibytes) == "3.7")
        #expect(t.rows[2].cells[1] == .failed("744 errors (upgrade refused: status 503)"))
        #expect(t.rows[2].cells[2].text(.percent) == "n/a")
        #expect(t.ratioTexts(t.ratios[0]) == ["1.17×", "0.38×", "1.07×"])
    }

    @Test func markdown() {
        let md = MarkdownReportWriter.render(Self.report())
        #expect(md.contains("2 cores (`nproc`), AMD EPYC, Linux 6.1.0, lighttpd/1.4.69"))
        #expect(md.contains("client and server share 2 cores; figures are medians of 3 runs, min–max in brackets"))
        #expect(md.contains("| path | 64 B ×1 (msg/s) | idle (KiB/conn ↓) | client (share) |"))
        #expect(md.contains("|---|---:|---:|---:|"))
        #expect(md.contains("| lighttpd mod_cgi | 14.6k [14.0k–15.5k] | 9.7 [9.5–9.9] | 15 % |"))
        #expect(md.contains("| switchyard <CGI> & co \\| x | 17.1k [16.9k–18.0k] | 3.7 | 16 % |"))
        #expect(md.contains("| native | 7.00k | failed: 744 errors (upgrade refused: status 503) | n/a |"))
        #expect(md.contains("| **switchyard ÷ lighttpd** | **1.17×** | **0.38×** | **1.07×** |"))
        #expect(md.contains("- a note"))
        #expect(md.contains("![chart](chart.svg)"))
        // Every table line has the same number of cells.
        let tableLines = md.split(separator: "\n").filter { $0.hasPrefix("|") }
        #expect(tableLines.count == 6)
        for line in tableLines {
            let cells = line.replacing("\\|", with: "").split(separator: "|", omittingEmptySubsequences: false).count
            #expect(cells == 6, "\(line)")
        }
    }

    @Test func textTable() {
        let text = TextTableWriter.render(Self.table())
        let lines = text.split(separator: "\n")
        #expect(lines[0] == "WebSocket echo")
        #expect(lines.contains { $0.hasPrefix("lighttpd mod_cgi") && $0.contains("14.6k [14.0k–15.5k]") })
        #expect(lines.contains { $0.contains("failed: 744 errors (upgrade refus...") })
        #expect(lines.contains { $0.hasPrefix("switchyard ÷ lighttpd") && $0.contains("1.17×") })
    }

    @Test func svgChart() throws {
        let svg = SVGChartWriter.render(Self.table(), subtitle: "2 cores & \"quotes\"")
        #expect(svg.hasPrefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\""))
        #expect(svg.hasSuffix("</svg>\n"))
        // One bar per row and charted column that has a figure: 3 + 2 (the failed cell has none);
        // the client column is not charted.
        #expect(svg.components("<rect class=\"bar\"") == 5)
        #expect(svg.components("<g class=\"panel\"") == 2)
        #expect(svg.components("<rect class=\"legend\"") == 3)
        #expect(svg.contains(">failed</text>"))
        #expect(svg.contains(">14.6k</text>"))
        #expect(svg.contains(">3.7</text>"))
        #expect(svg.contains("KiB/conn, lower is better"))
        // Text is escaped: no raw '&' or '<' inside text.
        #expect(svg.contains("switchyard &lt;CGI&gt; &amp; co | x"))
        #expect(svg.contains("2 cores &amp; &quot;quotes&quot;"))
        try checkWellFormed(svg)
        // The tallest bar of a panel is the full plot height; others are proportional.
        #expect(svg.contains("height=\"140.0\""))
    }

    /// A small XML check: tags balance, attributes are quoted, entities are known.
    func checkWellFormed(_ xml: String) throws {
        var stack: [String] = []
        var rest = Substring(xml)
        while let lt = rest.firstIndex(of: "<") {
            let text = rest[..<lt]
            for amp in text.indices where text[amp] == "&" {
                let tail = text[amp...]
                #expect(["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"].contains { tail.hasPrefix($0) }, "bad entity near \(tail.prefix(10))")
            }
            guard let gt = rest[lt...].firstIndex(of: ">") else { Issue.record("unclosed tag"); return }
            let tag = rest[rest.index(after: lt)..<gt]
            rest = rest[rest.index(after: gt)...]
            if tag.hasPrefix("?") { continue }
            if tag.hasPrefix("/") {
                let name = String(tag.dropFirst())
                #expect(stack.last == name, "closing \(name), open \(stack)")
                stack.removeLast()
            } else {
                let name = String(tag.prefix { $0 != " " && $0 != "/" })
                #expect(tag.filter { $0 == "\"" }.count % 2 == 0, "unbalanced quotes in <\(tag)>")
                if !tag.hasSuffix("/") { stack.append(name) }
            }
        }
        #expect(stack.isEmpty, "unclosed: \(stack)")
    }

    @Test func figuresFromBenchJSON() {
        let ok = "{\"mode\": \"pingpong\", \"messages_per_sec\": 12000.5, \"p50_us\": 70, \"errors\": 0, \"mismatches\": 0}"
        let r = CompareMatrix.figures(for: .small1, json: FlatJSON.parse(ok), exitCode: 0, stderr: "")
        #expect(r == .success([CompareMatrix.Column.small1: 12000.5, CompareMatrix.Column.latency1: 70]))
        let bad = "{\"messages_per_sec\": 10, \"p50_us\": 70, \"errors\": 0, \"mismatches\": 4}"
        #expect(CompareMatrix.figures(for: .small1, json: FlatJSON.parse(bad), exitCode: 1, stderr: "") == .failure(CompareFailure("4 mismatches")))
        let refused = "switchyard-bench: upgrade refused for ws://127.0.0.1:1/x from 127.0.0.1:1: status 503, expected 101; received:\n  HTTP/1.1 503"
        #expect(CompareMatrix.figures(for: .hold, json: nil, exitCode: 2, stderr: refused) == .failure(CompareFailure("upgrade refused: status 503")))
        let few = "{\"errors\": 0, \"mismatches\": 0, \"open_at_end\": 10, \"server_rss_kib_per_connection\": 3}"
        #expect(CompareMatrix.figures(for: .hold, json: FlatJSON.parse(few), exitCode: 0, stderr: "")
                == .failure(CompareFailure("only 10 of 1000 connections open")))
    }

    @Test func tlsFiguresFromBenchJSON() {
        typealias W = CompareTLSWorkload
        let full = "{\"mode\": \"handshakes\", \"handshakes\": 900, \"handshakes_per_sec\": 300, \"resumed\": 0, \"errors\": 0, \"mismatches\": 0, \"server_cpu_us_per_message\": 812.5}"
        #expect(W.full.figures(json: FlatJSON.parse(full), exitCode: 0, stderr: "") == .success([W.Column.full: 300, W.Column.cpuPerFull: 812.5]))
        // A "resumed" run whose server did not resume measured full handshakes: it fails.
        #expect(W.resumed.figures(json: FlatJSON.parse(full), exitCode: 0, stderr: "")
                == .failure(CompareFailure("only 0 of 900 handshakes resumed")))
        let resumed = "{\"handshakes\": 900, \"handshakes_per_sec\": 300, \"resumed\": 899, \"errors\": 0, \"mismatches\": 0, \"server_cpu_us_per_message\": 812.5}"
        #expect(W.resumed.figures(json: FlatJSON.parse(resumed), exitCode: 0, stderr: "") == .success([W.Column.resumed: 300, W.Column.cpuPerResumed: 812.5]))
        let failed = "{\"handshakes\": 3, \"handshakes_per_sec\": 1, \"resumed\": 0, \"errors\": 2, \"mismatches\": 0, \"server_cpu_us_per_message\": 1}"
        #expect(W.full.figures(json: FlatJSON.parse(failed), exitCode: 1, stderr: "switchyard-bench: TLS handshake failed")
                == .failure(CompareFailure("2 errors (TLS handshake failed)")))
        let none = "{\"handshakes\": 0, \"handshakes_per_sec\": 0, \"resumed\": 0, \"errors\": 0, \"mismatches\": 0, \"server_cpu_us_per_message\": 0}"
        #expect(W.full.figures(json: FlatJSON.parse(none), exitCode: 0, stderr: "") == .failure(CompareFailure("no handshakes")))
        let echo = "{\"messages_per_sec\": 5000, \"mb_per_sec\": 0.3, \"errors\": 0, \"mismatches\": 0}"
        #expect(W.small16.figures(json: FlatJSON.parse(echo), exitCode: 0, stderr: "") == .success([W.Column.small16: 5000]))
        #expect(W.large.benchArguments(duration: 3, warmup: 1).starts(with: ["pingpong", "-c", "1", "-s", "1m", "-b"]))
        #expect(W.resumed.benchArguments(duration: 3, warmup: 1).contains("--resume"))
    }

    @Test func handshakesSummaryJSON() {
        var o = BenchOptions()
        o.mode = .handshakes
        o.resume = true
        var stats = WorkerStats()
        stats.upgrades = 500
        stats.resumed = 498
        let s = RunSummary(options: o, stats: stats, wallSeconds: 2, cpuSeconds: 1, cores: 2, maxOpen: 8, openAtEnd: 0,
                           server: ServerUsage(pid: 1, cpuSeconds: 0.5, rssKiBBefore: 1000, rssKiBEnd: 1000))
        let j = FlatJSON.parse(s.json) ?? [:]
        func number(_ key: String) -> Double? { j[key].flatMap(Double.init) }
        #expect(number("handshakes") == 500 && number("handshakes_per_sec") == 250 && number("resumed") == 498)
        #expect(number("server_cpu_us_per_message") == 1000, "the gateway's CPU per connection cycle, not per message")
        #expect(s.table.contains("500 = 250.0/s, 498 resumed"))
    }

    @Test func valueFormats() {
        #expect(ValueFormat.rate.format(14_612) == "14.6k")
        #expect(ValueFormat.megabytes.format(987.4) == "987")
        #expect(ValueFormat.megabytes.format(87.54) == "87.5")
        #expect(ValueFormat.microseconds.format(3.421) == "3.42")
        #expect(ValueFormat.microseconds.format(17.06) == "17.1")
        #expect(ValueFormat.percent.format(0.153) == "15 %")
        #expect(ValueFormat.ratio(1.1666) == "1.17×")
        #expect(ValueFormat.rate.format(.nan) == "–")
    }
}

extension String {
    func components(_ needle: String) -> Int {
        var n = 0
        var rest = Substring(self)
        while let r = rest.firstRange(of: needle) {
            n += 1
            rest = rest[r.upperBound...]
        }
        return n
    }
}
