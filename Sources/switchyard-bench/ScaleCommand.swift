import Glibc
import SwitchyardOS
import SwitchyardBenchCore

/// `switchyard-bench scale`: how many WebSockets one gateway holds on one native app, with what
/// latency and memory (see ScaleOptions.usage).
///
/// Every run gets a fresh gateway (so its RSS growth is the connections' memory, not reused
/// heap) and a fresh app. The load generator is this program in hold mode, as a subprocess,
/// reporting the gateway's CPU and RSS itself (`--server-pid`); the app's peak RSS (VmHWM) is
/// read here after the run, before the gateway stops it.
final class ScaleCommand {
    let options: ScaleOptions
    let setup: CompareSetup
    let temporary: String
    /// The hard descriptor limit: the gateway, the app and the load generator all raise their
    /// soft limit to it (ProcessSetup.prepare; the app inherits the gateway's).
    let descriptorLimit: Int

    static func main(_ arguments: [String]) -> Int32 {
        let options: ScaleOptions
        do {
            switch try ScaleOptions.parse(arguments) {
            case .help:
                print(ScaleOptions.usage)
                return 0
            case .run(let o): options = o
            }
        } catch {
            BenchErrorLog.printErr("switchyard-bench scale: \(error)\n(switchyard-bench scale --help for usage)")
            return 2
        }
        do {
            return try ScaleCommand(options: options).run()
        } catch {
            BenchErrorLog.printErr("switchyard-bench scale: \(error)")
            return 2
        }
    }

    init(options: ScaleOptions) throws(CompareFailure) {
        self.options = options
        setup = try CompareSetup.locate()
        guard setup.hasEchoApp else { throw CompareFailure("\(setup.echoApp) is missing (make release)") }
        var template = Array(("/tmp/switchyard-scale." + String(repeating: "X", count: 6)).utf8CString)
        guard let dir = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw CompareFailure("mkdtemp failed")
        }
        temporary = String(cString: dir)
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        descriptorLimit = Int(min(limit.rlim_max, 1 << 24))   // RLIM_INFINITY is UInt64.max
    }

    func run() -> Int32 {
        signal(SIGINT, SIG_IGN)   // Ctrl-C reaches the process group: the load generator prints and exits 130
        signal(SIGPIPE, SIG_IGN)
        guard CompareFiles.makeDirectories(temporary + "/www"), CompareFiles.makeDirectories(temporary + "/scratch") else {
            BenchErrorLog.printErr("switchyard-bench scale: cannot prepare \(temporary)")
            return 2
        }
        log("scale: hard descriptor limit \(descriptorLimit); \(options.size) B every \(NumberFormat.compact(options.interval)) s per connection, "
            + "\(NumberFormat.compact(options.effectiveWarmup)) s warm-up + \(NumberFormat.compact(options.duration)) s measured; \(CPUUsage.cores) cores")
        var results: [ScaleResult] = []
        var interrupted = false
        runs: for count in options.counts {
            for path in options.paths {
                let n = ScalePlan.resolve(count, path: path, relay: options.relay, descriptorLimit: descriptorLimit)
                guard let r = measure(path: path, connections: n) else { interrupted = true; break runs }
                results.append(r)
                log("  \(ScaleResult.text([r]).split(separator: "\n").last ?? "")")
            }
        }
        print("")
        print(ScaleResult.text(results))
        print("")
        print(ScaleResult.markdown(results))
        if options.keepTemporary {
            print("kept \(temporary)")
        } else {
            CompareFiles.remove(tree: temporary)
        }
        if interrupted { return 130 }
        return results.allSatisfy({ $0.failure == nil && $0.errors == 0 && $0.mismatches == 0 && $0.held == $0.requested }) ? 0 : 1
    }

    /// One fresh gateway + app, one hold run; nil when interrupted.
    func measure(path: String, connections n: Int) -> ScaleResult? {
        var result = ScaleResult(path: path, requested: n)
        let label = path == "nscgi" ? "native SCGI (\(options.relay) relay)" : nil
        result.label = label
        let gateway: CompareGateway
        do {
            gateway = try startGateway(path: path)
        } catch {
            result.failure = error.description
            return result
        }
        defer { gateway.stop() }
        let app = Subprocess.descendants(of: gateway.pid).first.map { ServerProbe(pid: $0) }
        result.appKiBBefore = app?.residentKiB() ?? 0
        let slabBefore = SampledRun.slabKiB() ?? 0
        var arguments = [setup.benchBinary, "hold", "-c", "\(n)", "-s", "\(options.size)", "-b",
                         "-i", "\(options.interval)", "-d", "\(options.duration)", "-w", "\(options.effectiveWarmup)",
                         "-t", "\(options.threads)", "--timeout", "\(options.timeout)",
                         "--json", "--no-progress", "--server-pid", "\(gateway.pid)"]
        if let sources = options.sourceAddresses { arguments += ["--source-addresses", sources] }
        arguments.append("ws://127.0.0.1:\(gateway.port)/\(path)/echo")
        // Opening is bounded by the load generator (timeout + N/500 s); add the run and margin.
        let limit = options.effectiveWarmup + options.duration + options.timeout + Double(n) / 200 + 60
        let run: SampledRun
        do {
            run = try SampledRun.run(arguments, timeout: limit, output: temporary + "/scratch/hold.out", gateway: gateway.pid, app: app?.pid)
        } catch {
            result.failure = "cannot run the load generator: \(error)"
            return result
        }
        if run.status == 130 { return nil }
        result.appKiBPeak = app.flatMap { ScaleCommand.peakKiB(pid: $0.pid) } ?? 0
        guard let line = run.output.split(separator: "\n").last(where: { $0.hasPrefix("{") }), let json = FlatJSON.parse(String(line)) else {
            result.failure = run.timedOut ? "no result within \(Int(limit)) s" : "exit \(run.status): " + (run.output.split(separator: "\n").first.map(String.init) ?? "no output")
            return result
        }
        let apk = (result.appKiBBefore, result.appKiBPeak)
        result = ScaleResult(path: path, requested: n, json: json)
        (result.appKiBBefore, result.appKiBPeak) = apk
        (result.gatewayDescriptors, result.appDescriptors) = (run.gatewayDescriptors, run.appDescriptors)
        result.label = label
        if slabBefore > 0 && run.slabKiB > 0 { (result.slabKiBBefore, result.slabKiBPeak) = (slabBefore, run.slabKiB) }
        let messages = run.output.split(separator: "\n").filter { !$0.hasPrefix("{") }
        if !messages.isEmpty {
            log("    load generator: " + messages.prefix(3).joined(separator: "\n    "))
        }
        return result
    }

    /// A switchyard with one route to one native echo app (spawned by bin-path on a unix socket).
    func startGateway(path: String) throws(CompareFailure) -> CompareGateway {
        guard let port = HTTPProbe.freePort() else { throw CompareFailure("no free port") }
        let table = path == "nscgi" ? "scgi" : "fastcgi"
        let proto = path == "nscgi" ? "scgi" : "fastcgi"
        let config = CompareConfigs.switchyardHead(www: temporary + "/www", port: port, name: path, temporary: temporary)
            + "server.listen-backlog = 4096\n"
            + (path == "nscgi" ? "server.upgrade-relay = \"\(options.relay)\"\n" : "")
            + CompareConfigs.gatewayRoute(table: table, prefix: "/\(path)/", socket: "\(temporary)/\(path).sock",
                                          binPath: setup.echoApp + " --protocol \(proto)")
        let gateway = try CompareGateway(name: path, kind: .switchyard, port: port, readyPath: "/\(path)/echo", config: config,
                                         directory: temporary)
        try gateway.start(setup: setup)
        do {
            try gateway.waitReady()
        } catch {
            gateway.stop()
            throw error
        }
        return gateway
    }

    /// VmHWM (peak resident set) in KiB.
    static func peakKiB(pid: Int32) -> Int? {
        guard let text = ServerProbe.read("/proc/\(pid)/status") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            return line.dropFirst(6).split(whereSeparator: { $0 == " " || $0 == "\t" }).first.flatMap { Int($0) }
        }
        return nil
    }

    func log(_ text: String) {
        Syscall.writeStderr(text + "\n")
    }
}

/// The load generator run in the background while the gateway's and the app's open descriptors
/// are counted (/proc/PID/fd) every half second: the peak shows what a connection costs in
/// descriptors, the figure that decides how many fit under the limit.
struct SampledRun {
    var status: Int32 = 0
    var timedOut = false
    /// stdout and stderr together (the JSON object is the line that starts with "{").
    var output = ""
    var gatewayDescriptors = 0
    var appDescriptors = 0
    /// The machine's kernel slab memory (KiB, /proc/meminfo) at its highest during the run:
    /// socket structures of both ends of every connection, plus whatever else ran meanwhile.
    var slabKiB = 0

    static func run(_ arguments: [String], timeout: Double, output path: String, gateway: pid_t, app: pid_t?) throws -> SampledRun {
        unlink(path)
        let pid = try Subprocess.start(arguments, log: path)
        var r = SampledRun()
        let deadline = EventLoopClock.now() + timeout
        var status: Int32 = 0
        var lastSample = 0.0
        while true {
            let w = waitpid(pid, &status, WNOHANG)
            if w == pid || (w < 0 && errno != EINTR) { break }
            let now = EventLoopClock.now()
            if !r.timedOut && now > deadline {
                r.timedOut = true
                kill(pid, SIGKILL)
            }
            if now - lastSample >= 0.5 {
                lastSample = now
                r.gatewayDescriptors = max(r.gatewayDescriptors, openDescriptors(gateway))
                if let app { r.appDescriptors = max(r.appDescriptors, openDescriptors(app)) }
                r.slabKiB = max(r.slabKiB, slabKiB() ?? 0)
            }
            usleep(20_000)
        }
        r.status = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        r.output = ServerProbe.read(path) ?? ""
        return r
    }

    static func slabKiB() -> Int? {
        guard let text = ServerProbe.read("/proc/meminfo") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("Slab:") {
            return line.dropFirst(5).split(separator: " ").first.flatMap { Int($0) }
        }
        return nil
    }

    static func openDescriptors(_ pid: pid_t) -> Int {
        guard let dir = opendir("/proc/\(pid)/fd") else { return 0 }
        defer { closedir(dir) }
        var n = 0
        while let entry = readdir(dir) {
            if entry.pointee.d_name.0 != 0x2E { n += 1 }   // not "." or ".."
        }
        return n
    }
}
