import Testing
@testable import SwitchyardBenchCore

@Suite struct BenchOptionsTests {
    func parse(_ args: [String]) throws -> BenchOptions {
        guard case .run(let o) = try BenchOptions.parse(args) else { throw BenchOptions.UsageError("help") }
        return o
    }

    func error(_ args: [String]) -> String? {
        do {
            _ = try BenchOptions.parse(args)
            return nil
        } catch {
            return error.description
        }
    }

    @Test func defaults() throws {
        let o = try parse(["pingpong", "ws://127.0.0.1:8080/ws"])
        #expect(o.mode == .pingpong)
        #expect(o.url == "ws://127.0.0.1:8080/ws")
        #expect(o.connections == 1 && o.size == 16 && !o.binary && o.duration == 5 && o.warmup == 1)
        #expect(o.inFlight == 1 && o.threads == 1 && !o.json && o.serverPID == nil)
    }

    @Test func everyOption() throws {
        let o = try parse(["pipeline", "-c", "64", "-s4k", "--binary", "-d", "250ms", "--warmup=0", "-p", "8",
                           "-t", "2", "--timeout", "3s", "--lenient", "--json", "--no-progress",
                           "--server-pid", "1234", "-o", "http://x", "ws://h:1/p"])
        #expect(o.mode == .pipeline && o.connections == 64 && o.size == 4096 && o.binary)
        #expect(o.duration == 0.25 && o.warmup == 0 && o.inFlight == 8 && o.threads == 2 && o.timeout == 3)
        #expect(o.lenient && o.json && o.progress == false && o.serverPID == 1234 && o.origin == "http://x")
    }

    @Test func modeSpecificDefaults() throws {
        #expect(try parse(["pipeline", "ws://h:1/"]).inFlight == 16)
        #expect(try parse(["hold", "-i", "5", "ws://h:1/"]).interval == 5)
        // threads never exceed connections
        #expect(try parse(["pingpong", "-t", "4", "-c", "2", "ws://h:1/"]).threads == 2)
    }

    @Test func handshakesMode() throws {
        let o = try parse(["handshakes", "-c", "8", "--resume", "https://127.0.0.1:8443/ready.txt"])
        #expect(o.mode == .handshakes && o.mode.cycles && o.resume && o.connections == 8 && o.inFlight == 1)
        #expect(o.url == "https://127.0.0.1:8443/ready.txt")
        #expect(try !parse(["handshakes", "http://h:1/"]).resume)
        #expect(BenchMode.upgrades.cycles && !BenchMode.pingpong.cycles && !BenchMode.hold.cycles)
    }

    @Test func help() throws {
        #expect(try BenchOptions.parse(["--help"]) == .help)
        #expect(try BenchOptions.parse(["pingpong", "-h"]) == .help)
    }

    @Test func errors() {
        #expect(error([]) == "missing MODE (pingpong, pipeline, upgrades, hold or handshakes)")
        #expect(error(["handshakes"]) == "missing URL (https://HOST:PORT/PATH)")
        #expect(error(["pingpong", "--resume", "wss://h:1/"]) == "--resume applies to handshakes mode only")
        #expect(error(["pingpong"]) == "missing URL (ws://HOST:PORT/PATH)")
        #expect(error(["bogus", "ws://h:1/"])?.contains("unknown mode \"bogus\"") == true)
        #expect(error(["pingpong", "ws://h:1/", "extra"]) == "unexpected argument \"extra\"")
        #expect(error(["pingpong", "-c", "0", "ws://h:1/"])?.contains("expected a positive integer") == true)
        #expect(error(["pingpong", "-c"]) == "option -c needs a value")
        #expect(error(["pingpong", "-s", "12q", "ws://h:1/"])?.contains("expected a size") == true)
        #expect(error(["pingpong", "-s", "1g", "ws://h:1/"])?.contains("larger than the limit") == true)
        #expect(error(["pingpong", "-d", "0", "ws://h:1/"])?.contains("positive number of seconds") == true)
        #expect(error(["pingpong", "-w", "-1", "ws://h:1/"])?.contains("non-negative") == true)
        #expect(error(["pingpong", "-p", "4", "ws://h:1/"]) == "-p applies to pipeline mode only")
        #expect(error(["pingpong", "--frobnicate", "ws://h:1/"]) == "unknown option --frobnicate")
        #expect(error(["pingpong", "--server-pid", "x", "ws://h:1/"])?.contains("expected a process id") == true)
    }

    @Test func seconds() {
        #expect(BenchOptions.parseSeconds("5") == 5)
        #expect(BenchOptions.parseSeconds("0.5") == 0.5)
        #expect(BenchOptions.parseSeconds("2s") == 2)
        #expect(BenchOptions.parseSeconds("250ms") == 0.25)
        #expect(BenchOptions.parseSeconds("x") == nil)
    }

    @Test func compareOptions() throws {
        #expect(try CompareOptions.parse([]) == .run(CompareOptions()))
        guard case .run(let q) = try CompareOptions.parse(["--quick"]) else { Issue.record("help"); return }
        #expect(q.quick && q.runs == 1 && q.duration == 1.5 && q.warmup == 0.5)
        guard case .run(let o) = try CompareOptions.parse(["--quick", "--runs", "2", "--duration=4", "--out", "/tmp/x", "--keep"]) else {
            Issue.record("help"); return
        }
        #expect(o.runs == 2 && o.duration == 4 && o.outputDirectory == "/tmp/x" && o.keepTemporary)
        #expect(try CompareOptions.parse(["--help"]) == .help)
        #expect(throws: BenchOptions.UsageError.self) { try CompareOptions.parse(["--runs", "0"]) }
        #expect(throws: BenchOptions.UsageError.self) { try CompareOptions.parse(["--bogus"]) }
        #expect(throws: BenchOptions.UsageError.self) { try CompareOptions.parse(["--duration"]) }
    }

    @Test func comparePaths() throws {
        guard case .run(let o) = try CompareOptions.parse(["--paths", "lighttpd,proxy,wstunnel,direct"]) else {
            Issue.record("help"); return
        }
        #expect(o.paths == ["lighttpd", "proxy", "wstunnel", "direct"])
        guard case .run(let t) = try CompareOptions.parse(["--paths", "tls,lighttpd"]) else { Issue.record("help"); return }
        #expect(t.paths == ["tls", "lighttpd"])
        #expect(throws: BenchOptions.UsageError.self) { try CompareOptions.parse(["--paths", "proxy,nginx"]) }
        #expect(throws: BenchOptions.UsageError.self) { try CompareOptions.parse(["--paths="]) }
        #expect(throws: BenchOptions.UsageError.self) { try CompareOptions.parse(["--paths", ",,"]) }
        guard case .run(let p) = try CompareOptions.parse(["--pin", "1"]) else { Issue.record("help"); return }
        #expect(p.pinCPU == 1 && o.pinCPU == nil)
        #expect(throws: BenchOptions.UsageError.self) { try CompareOptions.parse(["--pin", "-1"]) }
        #expect(throws: BenchOptions.UsageError.self) { try CompareOptions.parse(["--pin", "x"]) }
        guard case .run(let u) = try CompareOptions.parse(["--event-handler", "io_uring"]) else { Issue.record("help"); return }
        #expect(u.eventHandler == "io_uring" && o.eventHandler == nil)
        #expect(throws: BenchOptions.UsageError.self) { try CompareOptions.parse(["--event-handler", "poll"]) }
        guard case .run(let b) = try CompareOptions.parse(["--sched", "batch"]) else { Issue.record("help"); return }
        #expect(b.batchScheduling && !o.batchScheduling)
        #expect(throws: BenchOptions.UsageError.self) { try CompareOptions.parse(["--sched", "fifo"]) }
    }
}

extension BenchOptions.ParseOutcome: Equatable {
    public static func == (a: Self, b: Self) -> Bool {
        switch (a, b) {
        case (.help, .help): return true
        case (.run(let x), .run(let y)): return x.url == y.url && x.mode == y.mode
        default: return false
        }
    }
}
