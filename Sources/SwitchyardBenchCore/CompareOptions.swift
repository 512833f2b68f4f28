import SwitchyardOS

/// `switchyard-bench compare [--quick] [--runs N] [--duration S] [--warmup S] [--out DIR]`, parsed.
public struct CompareOptions: Equatable, Sendable {
    public var quick = false
    public var runs = 3
    /// Measured seconds per workload and path.
    public var duration = 3.0
    /// Seconds before measuring, not counted.
    public var warmup = 1.0
    /// Output directory; nil = Fixtures/bench-results/<date>-<host>-<n>cpu/ under the repository.
    public var outputDirectory: String? = nil
    /// Leave the generated configs and logs in the temporary directory (printed at the end).
    public var keepTemporary = false
    /// `--paths`: only these gateways (by name: lighttpd, cgi, cgicopy, scgi, fcgi, fcgip, nscgi,
    /// nfcgi, proxy, wstunnel, direct, tls, h2); empty = all.
    public var paths: [String] = []
    /// `--pin CPU`: this program and everything it starts (gateways, backends, load client) run
    /// on that one CPU, so each figure is the whole system's CPU cost, not scheduling luck.
    public var pinCPU: Int? = nil
    /// `--event-handler NAME`: `server.event-handler` of every Switchyard it starts ("linux-sysepoll"
    /// or "io_uring"); nil leaves Switchyard's default.
    public var eventHandler: String? = nil
    /// `--sched batch`: this program and everything it starts run under SCHED_BATCH, so with
    /// `--pin` the core passes from one process to another only when one waits: every gateway
    /// gets the same turns, whatever its speed (see README "Static files").
    public var batchScheduling = false
    public static let pathNames = ["lighttpd", "cgi", "cgicopy", "scgi", "fcgi", "fcgip", "nscgi", "nfcgi", "proxy", "wstunnel", "direct", "tls", "h2"]

    public init() {}

    public enum ParseOutcome: Equatable, Sendable {
        case run(CompareOptions)
        case help
    }

    public static let usage = """
    usage: switchyard-bench compare [--quick] [--runs N] [--duration S] [--warmup S] [--out DIR] [--keep]
                                [--paths NAME,...] [--pin CPU] [--sched batch]
                                [--event-handler NAME]

    Starts switchyard (release build; one instance per backend path, one event loop each) and
    lighttpd on generated configs with the same C echo (cgi-bin/ws-echo-fast) behind every path,
    runs the same workloads on each (64 B round trips at 1/16/64 connections, 1 MiB messages,
    upgrades/s at 8 at a time, 1000 idle connections) plus plain requests with wrk, and TLS rows
    beside lighttpd's mod_openssl (full and resumed handshakes/s, 64 B and 1 MiB over wss://
    through CGI; Debian's lighttpd-mod-openssl), HTTP/2 rows beside lighttpd's HTTP/2 (h2load
    static requests/s, RFC 8441 WebSocket round trips through CGI, memory per idle stream), and writes results.md and chart.svg (raw JSON in raw/).

      --quick         1 run, 0.5 s warm-up + 1.5 s per measurement (about 2-3 minutes in all)
      --runs N        runs of the whole matrix; the median is reported with min/max (default 3)
      --duration S    measured seconds per workload and path (default 3)
      --warmup S      warm-up seconds before each measurement (default 1)
      --out DIR       output directory (default Fixtures/bench-results/<date>-<host>-<n>cpu/ in the repository)
      --keep          keep the temporary directory (configs, logs)
      --pin CPU       run everything (gateways, backends, load client) on this one CPU: each
                      figure is then CPU cost per operation of the whole path (stable to a few %),
                      not how well the processes happened to spread over the cores
      --sched batch   run everything under SCHED_BATCH (no wake-up preemption): with --pin,
                      the core changes hands only when a process waits, so a gateway that
                      sleeps often is not woken into more turns than a slow one
      --event-handler NAME  server.event-handler of every Switchyard: linux-sysepoll (epoll) or
                      io_uring (default: Switchyard's own default)
      --paths LIST    only these gateways, comma-separated: lighttpd, cgi, cgicopy, scgi, fcgi,
                      fcgip, nscgi, nfcgi (native echo app), proxy (mod_proxy to the HTTP echo
                      app), wstunnel (mod_wstunnel to the raw echo app), direct (no gateway),
                      tls (https:// and wss:// through CGI; lighttpd with mod_openssl beside it),
                      h2 (HTTP/2 over TLS: h2load static, RFC 8441 through CGI; lighttpd's h2 beside it)

    Binaries: switchyard, scgi-cgi, fcgi-cgi, switchyard-echo-app next to this program (or
    SWITCHYARD_BIN_DIR); the repository from SWITCHYARD_ROOT or found upwards from this program;
    wrk, h2load and lighttpd from /usr/bin, /usr/sbin or PATH.
    """

    public static func parse(_ arguments: [String]) throws(BenchOptions.UsageError) -> ParseOutcome {
        var o = CompareOptions()
        var runsGiven = false, durationGiven = false, warmupGiven = false
        var scan = OptionScanner(arguments)
        while let name = scan.next() {
            switch name {
            case "-h", "--help": return .help
            case "--quick": o.quick = true
            case "--keep": o.keepTemporary = true
            case "--pin":
                let text = try scan.value(name)
                guard let n = Int(text), n >= 0, n < 1024 else { throw BenchOptions.UsageError("\(name): expected a CPU number, got \"\(text)\"") }
                o.pinCPU = n
            case "--sched":
                let text = try scan.value(name)
                guard text == "batch" else { throw BenchOptions.UsageError("\(name): expected batch, got \"\(text)\"") }
                o.batchScheduling = true
            case "--event-handler":
                let text = try scan.value(name)
                guard EventHandlerKind(rawValue: text) != nil else {
                    throw BenchOptions.UsageError("\(name): expected linux-sysepoll or io_uring, got \"\(text)\"")
                }
                o.eventHandler = text
            case "--paths":
                let text = try scan.value(name)
                let names = text.split(separator: ",").map { String($0) }
                guard !names.isEmpty, let bad = Optional(names.filter { !pathNames.contains($0) }), bad.isEmpty else {
                    throw BenchOptions.UsageError("\(name): expected names from \(pathNames.joined(separator: ",")), got \"\(text)\"")
                }
                o.paths = names
            case "--runs", "-n":
                let text = try scan.value(name)
                guard let n = Int(text), n > 0, n <= 100 else { throw BenchOptions.UsageError("\(name): expected 1...100, got \"\(text)\"") }
                o.runs = n
                runsGiven = true
            case "--duration", "-d":
                o.duration = try scan.seconds(name, allowZero: false)
                durationGiven = true
            case "--warmup", "-w":
                o.warmup = try scan.seconds(name, allowZero: true)
                warmupGiven = true
            case "--out", "-o":
                let text = try scan.value(name)
                guard !text.isEmpty else { throw BenchOptions.UsageError("\(name): empty directory name") }
                o.outputDirectory = text
            default:
                throw scan.unexpected
            }
        }
        if o.quick {
            if !runsGiven { o.runs = 1 }
            if !durationGiven { o.duration = 1.5 }
            if !warmupGiven { o.warmup = 0.5 }
        }
        return .run(o)
    }
}
