import Glibc
import SwitchyardOS
import SwitchyardBenchCore
import CSwitchyardShims

/// `switchyard-bench compare`: one run of the whole comparison (see CompareOptions.usage).
///
/// Per run: start every gateway fresh (lighttpd, and one switchyard per backend path so each has
/// its own CPU and memory figures), hold 1000 idle connections on each WebSocket path first (on a
/// fresh process the RSS growth is the connections' memory, not reused heap), then the message
/// workloads path after path, then plain requests with wrk, then stop everything. The load
/// generator runs as a subprocess of this program (`switchyard-bench MODE --json --server-pid`).
final class CompareCommand {
    /// A WebSocket row: which gateway, which URL path, which workloads.
    struct WebSocketPath {
        var name: String
        var gateway: String
        var urlPath: String
        /// Workloads not run on this path, with the reason shown in the table.
        var skipped: [CompareWorkload: String] = [:]
        /// The whole row is not applicable (e.g. the echo app is not built).
        var missing: String? = nil
    }

    /// A plain-request row (wrk).
    struct PlainPath {
        var name: String
        var gateway: String
        var urlPath: String
    }

    let options: CompareOptions
    let setup: CompareSetup
    let temporary: String
    let outputDirectory: String
    var gateways: [String: CompareGateway] = [:]
    var webSocketPaths: [WebSocketPath] = []
    var plainPaths: [PlainPath] = []
    var ws = CompareCollector(columns: CompareMatrix.webSocketColumns)
    var plain = CompareCollector(columns: CompareMatrix.plainColumns)
    /// The TLS rows (CompareCommand+TLS.swift): https:// and wss:// paths, their figures.
    var tlsPaths: [WebSocketPath] = []
    var tlsResults = CompareCollector(columns: CompareTLSWorkload.columns)
    /// The HTTP/2 rows (CompareCommand+H2.swift).
    var h2Paths: [WebSocketPath] = []
    var h2Results = CompareCollector(columns: CompareH2Workload.columns)
    var notes: [String] = []
    let started = EventLoopClock.now()

    static func main(_ arguments: [String]) -> Int32 {
        let options: CompareOptions
        do {
            switch try CompareOptions.parse(arguments) {
            case .help:
                print(CompareOptions.usage)
                return 0
            case .run(let o): options = o
            }
        } catch {
            BenchErrorLog.printErr("switchyard-bench compare: \(error)\n(switchyard-bench compare --help for usage)")
            return 2
        }
        do {
            let command = try CompareCommand(options: options)
            return command.run()
        } catch {
            BenchErrorLog.printErr("switchyard-bench compare: \(error)")
            return 2
        }
    }

    init(options: CompareOptions) throws(CompareFailure) {
        self.options = options
        setup = try CompareSetup.locate()
        // mkdtemp(3) replaces the six trailing X's.
        var template = Array(("/tmp/switchyard-compare." + String(repeating: "X", count: 6)).utf8CString)
        guard let dir = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw CompareFailure("mkdtemp failed")
        }
        temporary = String(cString: dir)
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count)
        outputDirectory = options.outputDirectory
            ?? "\(setup.root)/Fixtures/bench-results/\(CompareSetup.today())-\(String(cString: host))-\(CPUUsage.cores)cpu"
    }

    // MARK: the run

    func run() -> Int32 {
        // Ctrl-C reaches the whole process group: the servers stop themselves, the load generator
        // prints what it has and exits 130, and this process cleans up and stops.
        signal(SIGINT, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)
        var interrupted = false
        if let cpu = options.pinCPU, sy_pin_to_cpu(Int32(cpu)) != 0 {
            BenchErrorLog.printErr("switchyard-bench compare: cannot pin to CPU \(cpu): \(String(cString: strerror(errno)))")
            return 2
        }
        if options.batchScheduling, sy_batch_scheduling() != 0 {
            BenchErrorLog.printErr("switchyard-bench compare: cannot set SCHED_BATCH: \(String(cString: strerror(errno)))")
            return 2
        }
        do {
            try prepare()
        } catch {
            BenchErrorLog.printErr("switchyard-bench compare: \(error)")
            return 2
        }
        log("compare: \(options.runs) \(options.runs == 1 ? "run" : "runs"), \(timing); temporary files in \(temporary)")
        for run in 1...options.runs where !interrupted {
            interrupted = !runOnce(run)
            stopGateways()
        }
        let report = makeReport()
        let wsTable = report.tables[0]
        print("")
        for table in report.tables {
            print(TextTableWriter.render(table))
            print("")
        }
        print(report.sharingNote)
        var ok = CompareFiles.makeDirectories(outputDirectory + "/raw")
        ok = ok && CompareFiles.write(outputDirectory + "/results.md", MarkdownReportWriter.render(report))
        ok = ok && CompareFiles.write(outputDirectory + "/chart.svg", SVGChartWriter.render(wsTable, subtitle: "\(report.machine.date), \(report.machine.hostname), \(report.machine.cores) cores: \(report.sharingNote)"))
        if ok {
            if options.paths.isEmpty { pointLatest() }   // a partial run is not "the latest comparison"
            print("wrote \(outputDirectory)/results.md and chart.svg (raw JSON in raw/) in \(Int(EventLoopClock.now() - started)) s")
        } else {
            BenchErrorLog.printErr("switchyard-bench compare: cannot write \(outputDirectory)")
        }
        if options.keepTemporary {
            print("kept \(temporary)")
        } else {
            CompareFiles.remove(tree: temporary)
        }
        if interrupted { return 130 }
        return ok ? 0 : 1
    }

    /// Fixtures/bench-results/latest names the newest comparison (the demo page links to its chart).
    /// Only for results written into the repository's Fixtures/bench-results/.
    func pointLatest() {
        let results = setup.root + "/Fixtures/bench-results"
        guard outputDirectory.hasPrefix(results + "/"), let slash = outputDirectory.lastIndex(of: "/") else { return }
        let name = String(outputDirectory[outputDirectory.index(after: slash)...])
        guard outputDirectory == results + "/" + name, !name.isEmpty else { return }
        let link = results + "/latest", temporaryLink = results + "/.latest.tmp"
        unlink(temporaryLink)
        if symlink(name, temporaryLink) == 0 && rename(temporaryLink, link) == 0 { return }
        unlink(temporaryLink)
        BenchErrorLog.printErr("switchyard-bench compare: could not point \(link) at \(name)")
    }

    var timing: String {
        "\(NumberFormat.fixed(options.warmup, decimals: 1)) s warm-up + \(NumberFormat.fixed(options.duration, decimals: 1)) s measured per workload and path"
    }

    // MARK: one run

    /// Returns false when interrupted.
    func runOnce(_ run: Int) -> Bool {
        log("run \(run)/\(options.runs): starting \(gateways.count) gateways")
        var failedGateways: [String: String] = [:]
        for (name, g) in gateways.sorted(by: { $0.key < $1.key }) {
            do {
                try g.start(setup: setup)
            } catch {
                failedGateways[name] = error.description
            }
        }
        for (name, g) in gateways.sorted(by: { $0.key < $1.key }) where failedGateways[name] == nil {
            do {
                try g.waitReady()
            } catch {
                failedGateways[name] = error.description
                log("  \(error)")
            }
        }
        // Rotate the order of the paths from run to run, so no path always follows the same one.
        let paths = rotate(webSocketPaths.filter { $0.missing == nil }, by: run - 1)
        let order: [CompareWorkload] = [.hold, .small1, .small16, .small64, .large, .upgrades]
        for workload in order {
            for path in paths where path.skipped[workload] == nil {
                guard let g = gateways[path.gateway] else { continue }
                if let reason = failedGateways[path.gateway] {
                    for c in workload.columns { ws.fail(row: path.name, column: c, reason: reason) }
                    continue
                }
                if !measure(workload, path: path, gateway: g, run: run) { return false }
            }
        }
        if let wrk = setup.wrk {
            for p in rotate(plainPaths, by: run - 1) {
                guard let g = gateways[p.gateway] else { continue }
                if let reason = failedGateways[p.gateway] {
                    for c in plain.columns.indices { plain.fail(row: p.name, column: c, reason: reason) }
                    continue
                }
                measurePlain(p, gateway: g, wrk: wrk, run: run)
            }
        }
        return runTLS(run: run, failedGateways: failedGateways) && runH2(run: run, failedGateways: failedGateways)
    }

    func rotate<T>(_ a: [T], by n: Int) -> [T] {
        guard !a.isEmpty else { return a }
        let k = n % a.count
        return Array(a[k...] + a[..<k])
    }

    /// One load-generator run; false when it was interrupted (exit 130).
    func measure(_ workload: CompareWorkload, path: WebSocketPath, gateway: CompareGateway, run: Int) -> Bool {
        let url = "ws://127.0.0.1:\(gateway.port)\(path.urlPath)"
        let arguments = workload.benchArguments(duration: options.duration, warmup: options.warmup)
        guard let outcome = runLoadGenerator(arguments, url: url, gateway: gateway, pathName: path.name, workload: workload.rawValue, run: run) else {
            return false
        }
        let result = outcome.flatMap { CompareMatrix.figures(for: workload, json: $0.json, exitCode: $0.output.status, stderr: $0.output.stderr) }
        switch result {
        case .success(let figures):
            for (c, v) in figures { ws.add(row: path.name, column: c, value: v) }
            let main = workload.columns[0]
            let col = CompareMatrix.webSocketColumns[main]
            log("  \(workload.label.padded(12)) \(path.name.padded(38)) \(col.format.format(figures[main] ?? 0)) \(col.unit)")
        case .failure(let f):
            for c in workload.columns { ws.fail(row: path.name, column: c, reason: f.description) }
            logFailure(workload.label, path.name, f, outcome)
        }
        return true
    }

    typealias LoadOutcome = Result<(json: [String: String]?, output: Subprocess.Output), CompareFailure>

    /// Runs the load generator once against `url` and records its JSON in raw/runs.jsonl; nil
    /// when it was interrupted (exit 130).
    func runLoadGenerator(_ workloadArguments: [String], url: String, gateway: CompareGateway, pathName: String,
                          workload: String, run: Int) -> LoadOutcome? {
        let arguments = [setup.benchBinary] + workloadArguments + ["--json", "--no-progress", "--server-pid", "\(gateway.pid)", url]
        let limit = options.duration + options.warmup + 60
        do {
            let out = try Subprocess.run(arguments, timeout: limit, scratch: temporary + "/scratch")
            if out.status == 130 { return nil }
            let line = out.stdout.split(separator: "\n").last(where: { $0.hasPrefix("{") }).map(String.init)
            var raw = JSONObjectWriter()
            raw.add("run", run)
            raw.add("path", pathName)
            raw.add("workload", workload)
            raw.add("exit", Int(out.status))
            raw.add("stderr", String(out.stderr.prefix(2000)))
            let record = String(raw.text.dropLast()) + ", \"bench\": " + (line ?? "null") + "}\n"
            CompareFiles.append(outputDirectory + "/raw/runs.jsonl", record)
            if out.timedOut { return .failure(CompareFailure("no result within \(Int(limit)) s")) }
            return .success((line.flatMap(FlatJSON.parse), out))
        } catch {
            return .failure(CompareFailure("cannot run the load generator: \(error)"))
        }
    }

    func logFailure(_ label: String, _ pathName: String, _ f: CompareFailure, _ outcome: LoadOutcome) {
        var detail = ""
        if case .success(let o) = outcome, !o.output.stderr.isEmpty {
            detail = "\n    " + o.output.stderr.split(separator: "\n").prefix(3).joined(separator: "\n    ")
        }
        log("  \(label.padded(12)) \(pathName.padded(38)) FAILED: \(f)" + detail)
    }

    /// wrk against a plain CGI (warm-up, then measured), with the gateway's CPU time around it.
    func measurePlain(_ p: PlainPath, gateway: CompareGateway, wrk: String, run: Int) {
        let url = "http://127.0.0.1:\(gateway.port)\(p.urlPath)"
        let scratch = temporary + "/scratch"
        let seconds = { (s: Double) in "\(max(Int(s.rounded()), 1))s" }
        if options.warmup > 0 {
            _ = try? Subprocess.run([wrk, "-t1", "-c8", "-d" + seconds(options.warmup), url], timeout: options.warmup + 30, scratch: nil)
        }
        let probe = ServerProbe(pid: gateway.pid)
        let cpu0 = probe.cpuSeconds() ?? 0
        let out = try? Subprocess.run([wrk, "-t1", "-c8", "-d" + seconds(options.duration), url], timeout: options.duration + 30, scratch: scratch)
        let cpu = (probe.cpuSeconds() ?? cpu0) - cpu0
        var raw = JSONObjectWriter()
        raw.add("run", run)
        raw.add("path", p.name)
        raw.add("workload", "wrk")
        raw.add("output", out?.stdout ?? "")
        raw.add("gateway_cpu_seconds", cpu)
        CompareFiles.append(outputDirectory + "/raw/runs.jsonl", raw.text + "\n")
        guard let out, out.status == 0, let w = WrkOutput.parse(out.stdout) else {
            let why = out.map { "wrk exit status \($0.status)" + ($0.stderr.isEmpty ? "" : ": " + CompareMatrix.trimmed(String($0.stderr.split(separator: "\n").first ?? ""))) }
                ?? "cannot run wrk"
            for c in plain.columns.indices { plain.fail(row: p.name, column: c, reason: why) }
            log("  wrk          \(p.name.padded(38)) FAILED: \(why)")
            return
        }
        if w.non2xx > 0 || w.socketErrors > 0 || w.requests == 0 {
            let why = "\(w.non2xx) non-2xx, \(w.socketErrors) socket errors"
            for c in plain.columns.indices { plain.fail(row: p.name, column: c, reason: why) }
            log("  wrk          \(p.name.padded(38)) FAILED: \(why)")
            return
        }
        plain.add(row: p.name, column: 0, value: w.requestsPerSecond)
        plain.add(row: p.name, column: 1, value: cpu * 1e6 / Double(w.requests))
        log("  wrk          \(p.name.padded(38)) \(NumberFormat.compact(w.requestsPerSecond)) req/s")
    }

    func stopGateways() {
        for g in gateways.values { g.stop() }
    }

    // MARK: the report

    func makeReport() -> CompareReport {
        let rows = webSocketPaths.map(\.name)
        var ratios: [CompareRatio] = []
        if let lt = rows.firstIndex(of: "lighttpd mod_cgi") {
            for name in ["switchyard CGI (splice)", "switchyard CGI (copy)"] {
                if let s = rows.firstIndex(of: name) { ratios.append(CompareRatio(label: "\(name) ÷ lighttpd", subject: s, baseline: lt)) }
            }
        }
        for (subject, baseline, label) in [
            ("switchyard proxy → echo-app (HTTP)", "lighttpd mod_proxy → echo-app (HTTP)", "switchyard proxy ÷ lighttpd mod_proxy"),
            ("switchyard wstunnel → echo-app (raw)", "lighttpd mod_wstunnel → echo-app (raw)", "switchyard wstunnel ÷ lighttpd mod_wstunnel"),
            ("switchyard proxy → echo-app (HTTP)", "direct: load client → echo-app (HTTP), no gateway", "switchyard proxy ÷ direct"),
        ] {
            if let s = rows.firstIndex(of: subject), let b = rows.firstIndex(of: baseline) {
                ratios.append(CompareRatio(label: label, subject: s, baseline: b))
            }
        }
        let wsTable = ws.table(title: "WebSocket echo: the same echo behind every path of a kind", ratios: ratios)
        let plainRows = plainPaths.map(\.name)
        var plainRatios: [CompareRatio] = []
        for k in stride(from: 0, to: plainRows.count - 1, by: 2) {
            let what = ["mod_cgi", "SCGI → scgi-cgi", "FastCGI → fcgi-cgi"][k / 2]
            plainRatios.append(CompareRatio(label: "switchyard ÷ lighttpd, \(what)", subject: k + 1, baseline: k))
        }
        let plainTable = plain.table(title: "Plain requests (wrk -t1 -c8, a tiny C CGI, no upgrade)", ratios: plainRatios)
        var allNotes = notes
        // The notes on the WebSocket and plain tables, unless a --paths run left both empty.
        if !wsTable.rows.isEmpty || !plainTable.rows.isEmpty { allNotes += [
            "Every CGI, SCGI-bridge and FastCGI-bridge row runs the same C echo (cgi-bin/ws-echo-fast, one process per connection) behind a different path. The native rows run switchyard-echo-app, one long-running process for all connections, speaking SCGI or FastCGI; the proxy rows reach one switchyard-echo-app speaking HTTP/1.1 itself (the same process for both gateways); the tunnel rows one switchyard-echo-app per gateway that echoes raw bytes (the gateway is the WebSocket server); the direct row is the load client talking to an HTTP echo app with no gateway at all: the ceiling for the proxy rows.",
            "The tunnel rows frame every read from the backend as one message, as lighttpd does, so 1 MiB messages are not measured there. On the direct row, \"gateway\" CPU and idle memory are the echo app's own.",
            options.pinCPU.map { "Switchyard runs one instance per path with `server.event-loops = 1`; lighttpd is one process. Everything is pinned to CPU \($0) (`--pin`): load generator, gateway and echo processes share that one core, so messages/s and upgrades/s measure the whole path's CPU cost per operation." }
                ?? "Switchyard runs one instance per path with `server.event-loops = 1`; lighttpd is one process. Nothing is pinned: load generator (one thread), gateway and echo processes share the machine's cores, and the machine is shared with other work, so figures are noisy.",
            "gateway CPU = user+system time of the gateway process only (not the CGI, bridge or echo-app processes) over the measured interval, divided by the echoed messages (or upgrades).",
            "idle memory = growth of the gateway's VmRSS from before 1000 connections were opened (on a freshly started gateway) to the end of the hold, divided by the connections open; the CGI rows also run 1000 echo processes, not counted.",
            "lighttpd 1.4.69 cannot upgrade over SCGI or FastCGI, so its WebSocket row is mod_cgi only; its SCGI/FastCGI figures are plain requests through the same bridges (second table).",
            "The copy row (`server.upgrade-relay = \"copy\"`) differs from splice only after the upgrade, so upgrades/s and idle memory are not measured again there.",
        ] }
        if options.batchScheduling {
            allNotes.append("Every process runs under SCHED_BATCH (`--sched batch`): a process that wakes does not preempt the running one, so on a shared core it changes hands only when a process waits.")
        }
        allNotes.append("Every run must have 0 mismatches and 0 errors (every echoed byte is verified); a failed cell says why.")
        return CompareReport(machine: setup.machine(scratch: temporary + "/scratch", cores: options.pinCPU == nil ? CPUUsage.cores : 1), runs: options.runs,
                             command: "switchyard-bench compare" + commandSuffix, timing: timing.prefix(1).uppercased() + timing.dropFirst(),
                             tables: reportTables(wsTable, plainTable), notes: allNotes + tlsNotes + h2Notes)
    }

    var commandSuffix: String {
        var s = options.quick ? " --quick" : ""
        let defaults = options.quick ? (1, 1.5, 0.5) : (3, 3.0, 1.0)
        if options.runs != defaults.0 { s += " --runs \(options.runs)" }
        if let cpu = options.pinCPU { s += " --pin \(cpu)" }
        if options.batchScheduling { s += " --sched batch" }
        if let kind = options.eventHandler { s += " --event-handler \(kind)" }
        if !options.paths.isEmpty { s += " --paths " + options.paths.joined(separator: ",") }
        if options.duration != defaults.1 { s += " --duration \(NumberFormat.compact(options.duration))" }
        if options.warmup != defaults.2 { s += " --warmup \(NumberFormat.compact(options.warmup))" }
        return s
    }

    func log(_ text: String) {
        Syscall.writeStderr(text + "\n")
    }
}

extension String {
    func padded(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
