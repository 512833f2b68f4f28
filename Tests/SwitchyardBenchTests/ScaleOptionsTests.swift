import Testing
@testable import SwitchyardBenchCore

/// `--source-addresses` and `switchyard-bench scale` argument parsing, and the connection plan.
@Suite struct SourceAddressListTests {
    @Test func listsAndRanges() throws {
        #expect(try SourceAddressList.parse("127.0.0.2") == ["127.0.0.2"])
        #expect(try SourceAddressList.parse("127.0.0.2-127.0.0.4") == ["127.0.0.2", "127.0.0.3", "127.0.0.4"])
        #expect(try SourceAddressList.parse("127.0.0.8-9, 10.0.0.1") == ["127.0.0.8", "127.0.0.9", "10.0.0.1"])
        // A range may cross an octet boundary.
        #expect(try SourceAddressList.parse("10.0.0.255-10.0.1.1") == ["10.0.0.255", "10.0.1.0", "10.0.1.1"])
        #expect(try SourceAddressList.parse("::1,fd00::2") == ["::1", "fd00::2"])
        #expect(try SourceAddressList.parse("127.0.0.5-127.0.0.5") == ["127.0.0.5"])
    }

    @Test func refusals() {
        for bad in ["", "127.0.0.2,", ",127.0.0.2", "127.0.0", "127.0.0.256", "127.0.0.02", "127.1", "localhost",
                    "127.0.0.9-127.0.0.2", "127.0.0.9-2", "127.0.0.2-256", "127.0.0.2-x", "1::2::3", "fe80:::1",
                    "10.0.0.0-10.255.255.255", "-127.0.0.2"] {
            #expect(throws: SourceAddressList.ParseError.self, "\(bad)") { try SourceAddressList.parse(bad) }
        }
        // The size cap counts the whole list, not only one range.
        let many = (0..<17).map { "10.0.\($0).0-10.0.\($0).255" }.joined(separator: ",")
        #expect(throws: SourceAddressList.ParseError.self) { try SourceAddressList.parse(many) }
    }

    @Test func benchOption() throws {
        guard case .run(let o) = try BenchOptions.parse(["hold", "--source-addresses", "127.0.0.2-3", "ws://127.0.0.1:1/"]) else {
            Issue.record("help")
            return
        }
        #expect(o.sourceAddresses == ["127.0.0.2", "127.0.0.3"])
        guard case .run(let d) = try BenchOptions.parse(["hold", "ws://127.0.0.1:1/"]) else { return }
        #expect(d.sourceAddresses.isEmpty)
        do {
            _ = try BenchOptions.parse(["hold", "--source-addresses=127.0.0.300", "ws://127.0.0.1:1/"])
            Issue.record("accepted a bad address")
        } catch {
            #expect(error.description.contains("--source-addresses") && error.description.contains("127.0.0.300"))
        }
    }
}

@Suite struct ScaleOptionsTests {
    func parse(_ args: [String]) throws -> ScaleOptions {
        guard case .run(let o) = try ScaleOptions.parse(args) else { throw BenchOptions.UsageError("help") }
        return o
    }

    @Test func defaults() throws {
        let o = try parse([])
        #expect(o.counts == [.max, .fixed(1000)] && o.paths == ["nfcgi", "nscgi"])
        #expect(o.interval == 5 && o.duration == 30 && o.effectiveWarmup == 5 && o.size == 64 && o.sourceAddresses == nil && o.relay == "copy")
    }

    @Test func everyOption() throws {
        let o = try parse(["--connections", "500,max", "--paths=nscgi", "-i", "2s", "-d", "10", "--warmup", "0",
                           "--size", "1k", "--threads", "2", "--timeout", "5", "--source-addresses", "127.0.0.2-9", "--relay", "splice", "--keep"])
        #expect(o.counts == [.fixed(500), .max] && o.paths == ["nscgi"] && o.interval == 2 && o.duration == 10)
        #expect(o.effectiveWarmup == 0 && o.size == 1024 && o.threads == 2 && o.timeout == 5 && o.keepTemporary)
        #expect(o.sourceAddresses == "127.0.0.2-9" && o.relay == "splice")
        #expect(try ScaleOptions.parse(["--help"]) == .help)
    }

    @Test func refusals() {
        for bad in [["--connections", "0"], ["--connections", "1000,"], ["--connections", "lots"], ["--paths", "cgi"],
                    ["--paths", "nfcgi,"], ["--interval", "0"], ["--size", "2m"], ["--threads", "0"],
                    ["--source-addresses", "127.0.0.2-1"], ["--relay", "kernel"], ["--duration"], ["extra"]] {
            #expect(throws: BenchOptions.UsageError.self, "\(bad)") { try ScaleOptions.parse(bad) }
        }
    }

    @Test func plan() {
        // SCGI: the gateway holds the client socket and the app socket of every connection.
        #expect(ScalePlan.maxConnections(path: "nscgi", relay: "copy", descriptorLimit: 20_000) == 9_950)
        #expect(ScalePlan.maxConnections(path: "nscgi", relay: "splice", descriptorLimit: 20_000) == 3_316)
        // FastCGI: one client socket each, one app connection per 64 (19 593 + 307 = 19 900).
        #expect(ScalePlan.maxConnections(path: "nfcgi", relay: "splice", descriptorLimit: 20_000) == 19_593)
        #expect(ScalePlan.gatewayDescriptors(path: "nfcgi", relay: "copy", connections: 65) == 67)
        #expect(ScalePlan.maxConnections(path: "nscgi", relay: "copy", descriptorLimit: 50) == 0)
        #expect(ScalePlan.maxConnections(path: "nfcgi", relay: "copy", descriptorLimit: 102) == 1)
        #expect(ScalePlan.resolve(.fixed(1000), path: "nscgi", relay: "copy", descriptorLimit: 20_000) == 1000)
    }

    @Test func resultFromJSON() throws {
        let json = FlatJSON.parse(#"{"open_at_end": 900, "messages_per_sec": 180.5, "p50_us": 150, "p99_us": 2500, "p999_us": 12000, "max_us": 15000, "errors": 1, "mismatches": 0, "server_rss_kib_before": 4000, "server_rss_kib_end": 13000, "server_cpu_us_per_message": 20.25}"#)
        var r = ScaleResult(path: "nscgi", requested: 1000, json: try #require(json))
        r.appKiBBefore = 1000
        r.appKiBPeak = 5500
        r.gatewayDescriptors = 1812
        #expect(r.held == 900 && r.p999 == 12000 && r.errors == 1 && r.gatewayKiBPerConnection == 10 && r.appKiBPerConnection == 5)
        let md = ScaleResult.markdown([r])
        #expect(md.contains("| native SCGI | 900 of 1,000 | 181 | 0.15 | 2.50 | 12.0 | 15.0 | 1 | 1,812 | 12.7 | 10.0 | 20.3 | 5.0 | – |"))
        r.slabKiBBefore = 100_000
        r.slabKiBPeak = 109_000
        #expect(r.kernelKiBPerConnection == 10 && ScaleResult.markdown([r]).hasSuffix("| 5.0 | ≈10.0 |"))
    }
}
