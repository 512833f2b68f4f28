/// The result of a run: merged counters plus the derived rates, and its two renderings
/// (one JSON object, or the human table). Pure: built from numbers, no I/O.
public struct RunSummary {
    public var options: BenchOptions
    public var stats: WorkerStats
    /// Measured wall time (after the warm-up), seconds.
    public var wallSeconds: Double
    /// Process CPU time over the measured interval, seconds.
    public var cpuSeconds: Double
    public var cores: Int
    /// Most connections open at the same time (whole run, all threads).
    public var maxOpen: Int
    public var openAtEnd: Int
    public var interrupted = false
    /// The gateway's CPU and memory (`--server-pid`), nil when not asked for.
    public var server: ServerUsage? = nil

    public init(options: BenchOptions, stats: WorkerStats, wallSeconds: Double, cpuSeconds: Double, cores: Int,
                maxOpen: Int, openAtEnd: Int, interrupted: Bool = false, server: ServerUsage? = nil) {
        self.options = options
        self.stats = stats
        self.wallSeconds = wallSeconds
        self.cpuSeconds = cpuSeconds
        self.cores = cores
        self.maxOpen = maxOpen
        self.openAtEnd = openAtEnd
        self.interrupted = interrupted
        self.server = server
    }

    public var messagesPerSecond: Double { wallSeconds > 0 ? Double(stats.messages) / wallSeconds : 0 }
    /// Echoed payload, one direction, in 10^6 bytes per second.
    public var megabytesPerSecond: Double { wallSeconds > 0 ? Double(stats.bytes) / wallSeconds / 1e6 : 0 }
    public var upgradesPerSecond: Double { wallSeconds > 0 ? Double(stats.upgrades) / wallSeconds : 0 }
    /// What the gateway's CPU time is divided by: cycles in the cycling modes, else echoes.
    var cpuUnits: UInt64 { options.mode.cycles ? stats.upgrades : stats.messages }
    /// Client CPU seconds / wall seconds / cores: 0.5 on a 2-core box = one core busy.
    public var cpuShare: Double { wallSeconds > 0 ? cpuSeconds / wallSeconds / Double(cores) : 0 }

    /// Growth of the gateway's resident memory per connection open at the end (hold mode).
    public var serverKiBPerConnection: Double {
        guard let s = server, openAtEnd > 0 else { return 0 }
        return Double(s.rssKiBEnd - s.rssKiBBefore) / Double(openAtEnd)
    }

    public var failed: Bool { stats.errors > 0 || stats.mismatches > 0 }

    public func percentile(_ p: Double) -> UInt64 { stats.latency.value(atPercentile: p) }

    public var json: String {
        var j = JSONObjectWriter()
        j.add("mode", options.mode.rawValue)
        j.add("url", options.url)
        j.add("connections", options.connections)
        j.add("threads", options.threads)
        j.add("size", options.size)
        j.add("binary", options.binary)
        if options.mode == .pipeline { j.add("in_flight", options.inFlight) }
        if options.mode == .hold { j.add("interval_s", options.interval) }
        j.add("warmup_s", options.warmup)
        j.add("duration_s", wallSeconds)
        j.add("messages", stats.messages)
        j.add("messages_per_sec", messagesPerSecond, decimals: 1)
        j.add("bytes", stats.bytes)
        j.add("mb_per_sec", megabytesPerSecond)
        j.add("latency_samples", stats.latency.totalCount)
        j.add("p50_us", percentile(50))
        j.add("p90_us", percentile(90))
        j.add("p99_us", percentile(99))
        j.add("p999_us", percentile(99.9))
        j.add("max_us", stats.latency.maxValue)
        j.add("min_us", stats.latency.isEmpty ? 0 : stats.latency.minValue)
        j.add("mean_us", stats.latency.mean, decimals: 1)
        j.add("errors", stats.errors)
        j.add("mismatches", stats.mismatches)
        if options.mode == .upgrades {
            j.add("upgrades", stats.upgrades)
            j.add("upgrades_per_sec", upgradesPerSecond, decimals: 1)
        }
        if options.mode == .handshakes {
            j.add("handshakes", stats.upgrades)
            j.add("handshakes_per_sec", upgradesPerSecond, decimals: 1)
            j.add("resumed", stats.resumed)
        }
        j.add("connections_ok", stats.connectionsOK)
        j.add("connections_failed", stats.connectionsFailed)
        j.add("max_open", maxOpen)
        j.add("open_at_end", openAtEnd)
        j.add("client_cpu_seconds", cpuSeconds)
        j.add("client_cpu_share", cpuShare, decimals: 4)
        j.add("cores", cores)
        j.add("interrupted", interrupted)
        if let s = server {
            j.add("server_pid", Int(s.pid))
            j.add("server_cpu_seconds", s.cpuSeconds)
            let units = cpuUnits
            j.add("server_cpu_us_per_message", units > 0 ? s.cpuSeconds * 1e6 / Double(units) : 0, decimals: 2)
            j.add("server_rss_kib_before", s.rssKiBBefore)
            j.add("server_rss_kib_end", s.rssKiBEnd)
            if options.mode == .hold {
                j.add("server_rss_kib_per_connection", serverKiBPerConnection, decimals: 2)
            }
        }
        return j.text
    }

    public var table: String {
        let o = options
        var lines: [String] = []
        let kind = o.binary ? "binary" : "text"
        var setup = "\(NumberFormat.grouped(o.connections)) \(o.mode.cycles ? "at a time" : (o.connections == 1 ? "connection" : "connections"))"
        setup += ", \(o.threads) \(o.threads == 1 ? "thread" : "threads"), \(ByteSize.format(o.size)) \(kind) messages"
        switch o.mode {
        case .pipeline: setup += ", \(o.inFlight) in flight per connection"
        case .hold: setup += ", one every \(NumberFormat.fixed(o.interval, decimals: 2)) s per connection"
        case .pingpong, .upgrades, .handshakes: break
        }
        lines.append("switchyard-bench \(o.mode.rawValue) \(o.url)")
        lines.append("  " + setup)
        lines.append("  \(NumberFormat.fixed(wallSeconds, decimals: 2)) s measured after \(NumberFormat.fixed(o.warmup, decimals: 2)) s warm-up"
                     + (interrupted ? " (interrupted)" : ""))
        lines.append("")
        func row(_ label: String, _ value: String) { lines.append("  " + label.padding(16) + value) }
        if o.mode == .handshakes {
            row("handshakes", "\(NumberFormat.grouped(Int(stats.upgrades))) = \(NumberFormat.fixed(upgradesPerSecond, decimals: 1))/s, "
                + "\(NumberFormat.grouped(Int(stats.resumed))) resumed")
        }
        if o.mode == .upgrades {
            row("upgrades", "\(NumberFormat.grouped(Int(stats.upgrades))) = \(NumberFormat.fixed(upgradesPerSecond, decimals: 1))/s")
        }
        row("messages", "\(NumberFormat.grouped(Int(stats.messages))) = \(NumberFormat.compact(messagesPerSecond))/s, "
            + "\(NumberFormat.fixed(megabytesPerSecond, decimals: megabytesPerSecond >= 100 ? 0 : 2)) MB/s echoed")
        let h = stats.latency
        let label = o.mode.cycles ? "cycle (µs)" : "latency (µs)"
        if h.isEmpty {
            row(label, "no samples")
        } else {
            row(label, "p50 \(NumberFormat.grouped(Int(percentile(50))))  p90 \(NumberFormat.grouped(Int(percentile(90))))  "
                + "p99 \(NumberFormat.grouped(Int(percentile(99))))  p99.9 \(NumberFormat.grouped(Int(percentile(99.9))))  "
                + "max \(NumberFormat.grouped(Int(h.maxValue)))  mean \(NumberFormat.fixed(h.mean, decimals: 1))")
        }
        row("errors", NumberFormat.grouped(Int(stats.errors)))
        row("mismatches", NumberFormat.grouped(Int(stats.mismatches)))
        var conn = "\(NumberFormat.grouped(Int(stats.connectionsOK))) ok, \(NumberFormat.grouped(Int(stats.connectionsFailed))) failed"
        conn += ", \(NumberFormat.grouped(maxOpen)) open at most"
        if o.mode == .hold { conn += ", \(NumberFormat.grouped(openAtEnd)) open at the end" }
        row("connections", conn)
        row("client CPU", "\(NumberFormat.fixed(cpuSeconds, decimals: 2)) s = \(NumberFormat.fixed(cpuShare * 100, decimals: 1)) % of \(cores) \(cores == 1 ? "core" : "cores")")
        if let s = server {
            let units = cpuUnits
            var text = "pid \(s.pid): CPU \(NumberFormat.fixed(s.cpuSeconds, decimals: 2)) s"
            if units > 0 { text += " = \(NumberFormat.fixed(s.cpuSeconds * 1e6 / Double(units), decimals: 2)) µs per \(o.mode == .upgrades ? "upgrade" : o.mode == .handshakes ? "connection" : "message")" }
            text += "; RSS \(NumberFormat.grouped(s.rssKiBBefore)) KiB before, \(NumberFormat.grouped(s.rssKiBEnd)) KiB at the end"
            if o.mode == .hold && openAtEnd > 0 {
                text += " = \(NumberFormat.fixed(serverKiBPerConnection, decimals: 1)) KiB per open connection"
            }
            row("server", text)
        }
        return lines.joined(separator: "\n")
    }
}

private extension String {
    func padding(_ width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }
}
