import SwitchyardBenchCore
import Glibc
import SwitchyardOS
import SwitchyardWebSocket

/// The main thread's part: resolve, preflight, start the loop threads, time the warm-up and the
/// measured interval (sleeping in `sigtimedwait`, so Ctrl-C ends the run early with results),
/// then stop the threads and merge their counters.
final class BenchRunner {
    enum Failure: Error, CustomStringConvertible {
        case usage(String)
        case setup(String)
        var description: String {
            switch self {
            case .usage(let s), .setup(let s): return s
            }
        }
    }

    let options: BenchOptions
    private let signals: [Int32] = [SIGINT, SIGTERM, SIGHUP]
    private var interrupted = false
    private var progress: ProgressLine

    init(options: BenchOptions) {
        self.options = options
        let total = options.warmup + options.duration
        let wanted = options.progress ?? (isatty(2) != 0 && total > 3)
        progress = ProgressLine(enabled: wanted)
    }

    func run() throws(Failure) -> RunSummary {
        let (url, address) = try resolveTarget()
        // Blocks SIGINT/SIGTERM/SIGHUP in every thread (the main thread collects them), ignores
        // SIGPIPE and raises RLIMIT_NOFILE to the hard limit.
        let fdLimit = ProcessSetup.prepare(blockSignals: true)
        if fdLimit > 0 && options.connections + 32 > fdLimit {
            BenchErrorLog.printErr("switchyard-bench: warning: \(options.connections) connections but the descriptor limit is \(fdLimit)")
        }

        if options.sourceAddresses.count <= 1 && !options.mode.cycles, let ports = Self.ephemeralPorts(), options.connections > ports {
            BenchErrorLog.printErr("switchyard-bench: warning: \(options.connections) connections from one source address but only \(ports) ephemeral ports (net.ipv4.ip_local_port_range): use --source-addresses")
        }

        let probe = options.serverPID.map { ServerProbe(pid: $0) }
        var rssBefore = 0
        if let probe {
            guard let rss = probe.residentKiB() else { throw .setup("--server-pid \(probe.pid): no such process (/proc/\(probe.pid)/status)") }
            rssBefore = rss
        }

        let errorLog = BenchErrorLog()
        var tls: TLSClientContext? = nil
        if url.secure {
            do { tls = try TLSClientContext() } catch { throw .setup("TLS: \(error)") }
        }
        let sources: [SocketAddress]
        do {
            sources = try SourceBoundConnect.resolve(options.sourceAddresses, for: address)
        } catch {
            throw .usage("--source-addresses: \((error as? SystemError)?.context ?? "\(error)")")
        }
        let context = BenchContext(options: options, url: url, address: address, errorLog: errorLog, tls: tls, sources: sources)
        try preflight(context: context)
        let workers = try makeWorkers(context: context)
        let threads = try startThreads(workers)
        waitUntilOpen(workers)
        if !interrupted && options.warmup > 0 {
            sleepShowingProgress(options.warmup, workers: workers, label: "warm-up", measured: false)
        }

        let t0 = EventLoop.monotonicNanoseconds()
        let cpu0 = CPUUsage.processSeconds()
        let serverCPU0 = probe?.cpuSeconds() ?? 0
        if !interrupted {
            for w in workers { let bound = LoopBound(w, on: w.loop); w.loop.execute { bound.value.beginMeasurement() } }
            sleepShowingProgress(options.duration, workers: workers, label: options.mode.rawValue, measured: true)
        }
        let t1 = EventLoop.monotonicNanoseconds()
        let cpu1 = CPUUsage.processSeconds()
        var server: ServerUsage? = nil
        if let probe {
            // Read before the connections are closed: the memory of the open connections counts.
            server = ServerUsage(pid: probe.pid, cpuSeconds: max((probe.cpuSeconds() ?? serverCPU0) - serverCPU0, 0),
                                 rssKiBBefore: rssBefore, rssKiBEnd: probe.residentKiB() ?? 0)
        }
        for w in workers { let bound = LoopBound(w, on: w.loop); w.loop.execute { bound.value.finish() } }
        for t in threads { t.join() }
        progress.clear()

        var total = WorkerStats()
        var openAtEnd = 0
        for w in workers {
            total.add(w.stats)
            openAtEnd += w.openAtEnd
        }
        var opts = options
        if interrupted && t1 == t0 { opts.duration = 0 }
        return RunSummary(options: opts, stats: total, wallSeconds: Double(t1 - t0) / 1e9, cpuSeconds: cpu1 - cpu0,
                          cores: CPUUsage.cores, maxOpen: context.gauge.peak.load(ordering: .relaxed),
                          openAtEnd: openAtEnd, interrupted: interrupted, server: server)
    }

    private func resolveTarget() throws(Failure) -> (WebSocketURL, SocketAddress) {
        // handshakes mode speaks plain HTTP: its http(s):// URL has the same parts as a ws(s):// one.
        var text = options.url
        if options.mode == .handshakes {
            let lower = text.lowercased()
            guard lower.hasPrefix("http://") || lower.hasPrefix("https://") else {
                throw .usage("not an http:// or https:// URL: \(options.url) (expected https://HOST:PORT/PATH)")
            }
            text = "ws" + text.dropFirst(4)
        }
        guard let url = WebSocketURL(string: text) else {
            throw .usage(options.mode == .handshakes ? "not a valid URL: \(options.url) (expected https://HOST:PORT/PATH)"
                                                     : "not a ws:// or wss:// URL: \(options.url) (expected ws://HOST:PORT/PATH)")
        }
        do {
            return (url, try SocketAddress.resolve(host: url.host, port: Int(url.port)))
        } catch {
            throw .setup("cannot resolve \((error as? SystemError)?.context ?? "\(url.host): \(error)")")
        }
    }

    /// Connections spread round-robin over the threads.
    private func makeWorkers(context: BenchContext) throws(Failure) -> [BenchWorker] {
        var workers: [BenchWorker] = []
        do {
            for t in 0..<options.threads {
                let ids = Array(stride(from: t, to: options.connections, by: options.threads))
                workers.append(try BenchWorker(name: "bench-\(t)", context: context, connectionIDs: ids))
            }
        } catch {
            throw .setup("\(error)")
        }
        return workers
    }

    private func startThreads(_ workers: [BenchWorker]) throws(Failure) -> [LoopThread] {
        var threads: [LoopThread] = []
        for (t, worker) in workers.enumerated() {
            do {
                let bound = LoopBound(worker, on: worker.loop)   // handed to the thread that runs its loop
                threads.append(try LoopThread(name: "bench-\(t)") {
                    bound.value.start()
                    bound.value.loop.run()
                })
            } catch {
                throw .setup("\(error)")
            }
        }
        return threads
    }

    /// Measures a steady state: waits until every connection is open (or has failed). Upgrade
    /// runs open and close connections all the time, so there is nothing to wait for.
    private func waitUntilOpen(_ workers: [BenchWorker]) {
        guard !options.mode.cycles else { return }
        let started = EventLoop.monotonicNanoseconds()
        let limit = options.timeout + 1 + Double(options.connections) / 500
        while !interrupted {
            let pending = workers.reduce(0) { $0 + $1.progress.pending.load(ordering: .relaxed) }
            if pending == 0 { break }
            let elapsed = Double(EventLoop.monotonicNanoseconds() - started) / 1e9
            if elapsed > limit { break }
            let open = workers.reduce(0) { $0 + $1.progress.open.load(ordering: .relaxed) }
            progress.show("opening: \(NumberFormat.grouped(open)) open, \(NumberFormat.grouped(pending)) pending")
            sleep(0.02)
        }
    }

    var wasInterrupted: Bool { interrupted }

    /// Size of net.ipv4.ip_local_port_range (ports one source address can connect from).
    static func ephemeralPorts() -> Int? {
        guard let text = ServerProbe.read("/proc/sys/net/ipv4/ip_local_port_range") else { return nil }
        let parts = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).compactMap { Int($0) }
        return parts.count == 2 && parts[1] >= parts[0] ? parts[1] - parts[0] + 1 : nil
    }

    /// One full upgrade cycle on the main thread before anything else, so an unreachable target
    /// or a refused upgrade is reported once, clearly, instead of once per connection.
    private func preflight(context: BenchContext) throws(Failure) {
        let worker: BenchWorker
        do {
            worker = try BenchWorker(name: "preflight", context: context, connectionIDs: [0], probe: true)
        } catch {
            throw .setup("\(error)")
        }
        worker.start()
        worker.loop.run()
        let error = worker.firstError
        worker.finish()
        if let error { throw .setup(error) }
        context.gauge.peak.store(0, ordering: .relaxed)
    }

    private func sleepShowingProgress(_ seconds: Double, workers: [BenchWorker], label: String, measured: Bool) {
        let start = EventLoop.monotonicNanoseconds()
        let end = start + UInt64(seconds * 1e9)
        while !interrupted {
            let now = EventLoop.monotonicNanoseconds()
            if now >= end { break }
            if progress.enabled {
                let elapsed = Double(now - start) / 1e9
                var text = "\(label) \(NumberFormat.fixed(elapsed, decimals: 1))/\(NumberFormat.fixed(seconds, decimals: 1)) s"
                func sum(_ f: (WorkerProgress) -> Int) -> Int { workers.reduce(0) { $0 + f($1.progress) } }
                let messages = sum { $0.messages.load(ordering: .relaxed) }
                if measured {
                    if options.mode.cycles {
                        let n = sum { $0.upgrades.load(ordering: .relaxed) }
                        text += "  \(NumberFormat.grouped(n)) \(options.mode == .upgrades ? "upgrades" : "handshakes") (\(NumberFormat.compact(Double(n) / max(elapsed, 0.001)))/s)"
                    } else {
                        text += "  \(NumberFormat.grouped(messages)) msgs (\(NumberFormat.compact(Double(messages) / max(elapsed, 0.001)))/s)"
                    }
                }
                text += "  open \(NumberFormat.grouped(sum { $0.open.load(ordering: .relaxed) }))"
                text += "  errors \(sum { $0.errors.load(ordering: .relaxed) })  mismatches \(sum { $0.mismatches.load(ordering: .relaxed) })"
                progress.show(text)
            }
            sleep(min(0.5, Double(end - now) / 1e9))
        }
    }

    /// Sleeps, waking early for SIGINT/SIGTERM/SIGHUP (blocked everywhere, so only this sees them).
    private func sleep(_ seconds: Double) {
        guard seconds > 0 else { return }
        var set = sigset_t()
        sigemptyset(&set)
        for s in signals { sigaddset(&set, s) }
        var ts = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
        if sigtimedwait(&set, nil, &ts) > 0 { interrupted = true }
    }
}
