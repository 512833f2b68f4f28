/// The HTTP/2 rows of `compare` (`--paths h2`): switchyard beside Debian lighttpd 1.4.69's HTTP/2,
/// both over TLS with ALPN h2, the same certificate, files and echo CGI. Pure: arguments, columns,
/// and how a run's output becomes figures.
public enum CompareH2Workload: String, CaseIterable, Sendable {
    /// Idle RFC 8441 WebSockets held open: the gateway's memory per stream (first, on fresh gateways).
    case hold
    /// h2load on one small static file (an external process, as wrk is for the plain rows).
    case staticFile
    /// 64 B round trips over RFC 8441 WebSockets through the echo CGI, 16 streams on 2 connections.
    case webSocket

    public var label: String {
        switch self {
        case .hold: return "h2 hold \(CompareH2Workload.holdStreams)"
        case .staticFile: return "h2load static"
        case .webSocket: return "h2 ws 64 B x16"
        }
    }

    /// Streams per connection for every WebSocket workload: lighttpd allows 8 concurrent streams on
    /// a connection (its SETTINGS_MAX_CONCURRENT_STREAMS), so both gateways get the same layout.
    public static let streamsPerConnection = 8
    public static let holdStreams = 400
    /// h2load: connections, streams in flight per connection, the file (bytes in `staticBody`).
    public static let h2loadClients = 4, h2loadStreams = 8
    public static let staticPath = "/h2small.txt"
    public static let staticBody = String(repeating: "switchyard h2 static body line.\n", count: 32)   // 1 KiB

    /// The load generator's arguments for the WebSocket workloads (`switchyard-bench h2ws ...`,
    /// before the URL), without --server-pid.
    public func benchArguments(duration: Double, warmup: Double) -> [String] {
        let timing = ["-d", NumberFormat.fixed(duration, decimals: 2), "-w", NumberFormat.fixed(warmup, decimals: 2)]
        switch self {
        case .hold: return ["h2ws", "--hold", "\(Self.holdStreams)", "--streams", "\(Self.streamsPerConnection)"]
        case .webSocket: return ["h2ws", "--connections", "2", "--streams", "\(Self.streamsPerConnection)", "--size", "64"] + timing
        case .staticFile: return []
        }
    }

    /// h2load's arguments (before the URL): one thread, duration mode (its -D takes whole units,
    /// so milliseconds). The warm-up is a run of its own before, as wrk's is.
    public static func h2loadArguments(duration: Double) -> [String] {
        ["-t", "1", "-c", "\(h2loadClients)", "-m", "\(h2loadStreams)", "-D", "\(max(Int((duration * 1000).rounded()), 100))ms"]
    }

    public enum Column {
        public static let staticRate = 0, cpuPerRequest = 1, webSocketRate = 2, cpuPerMessage = 3, idleMemory = 4
    }

    public static let columns: [CompareColumn] = [
        CompareColumn(title: "h2load static ×4×8", unit: "req/s", format: .rate),
        CompareColumn(title: "gateway CPU per static request", unit: "µs", format: .microseconds, higherIsBetter: false),
        CompareColumn(title: "RFC 8441 ws 64 B ×16", unit: "msg/s", format: .rate),
        CompareColumn(title: "gateway CPU per message", unit: "µs", format: .microseconds, higherIsBetter: false),
        CompareColumn(title: "idle h2 WebSocket", unit: "KiB/stream", format: .kibibytes, higherIsBetter: false),
    ]

    public var columns: [Int] {
        switch self {
        case .hold: return [Column.idleMemory]
        case .staticFile: return [Column.staticRate, Column.cpuPerRequest]
        case .webSocket: return [Column.webSocketRate, Column.cpuPerMessage]
        }
    }

    /// The figures of one `h2ws` run (its JSON line), or why it failed.
    public func figures(json: [String: String]?, exitCode: Int32, stderr: String) -> Result<[Int: Double], CompareFailure> {
        if let failure = CompareMatrix.runFailure(json: json, exitCode: exitCode, stderr: stderr) { return .failure(failure) }
        guard let json else { return .failure(CompareFailure("no output")) }
        func number(_ key: String) -> Double? { json[key].flatMap(Double.init) }
        switch self {
        case .hold:
            guard let kib = number("server_rss_kib_per_stream"), kib.isFinite else { return .failure(CompareFailure("incomplete JSON output")) }
            return .success([Column.idleMemory: kib])
        case .webSocket:
            guard let rate = number("messages_per_sec"), let cpu = number("server_cpu_us_per_message"), rate.isFinite, cpu.isFinite else {
                return .failure(CompareFailure("incomplete JSON output"))
            }
            if rate <= 0 { return .failure(CompareFailure("no messages")) }
            return .success([Column.webSocketRate: rate, Column.cpuPerMessage: cpu])
        case .staticFile:
            return .failure(CompareFailure("h2load rows are read with H2LoadOutput"))
        }
    }
}

/// The figures of one `h2load` run, read from its text output.
public struct H2LoadOutput: Equatable, Sendable {
    public var requestsPerSecond: Double
    public var done: Int
    public var succeeded: Int
    /// failed + errored + timeout.
    public var failures: Int
    public var status2xx: Int
    /// 3xx + 4xx + 5xx.
    public var statusOther: Int
    /// "Application protocol: h2" (or h2c; nil when h2load printed none).
    public var applicationProtocol: String?

    public init(requestsPerSecond: Double, done: Int, succeeded: Int, failures: Int, status2xx: Int, statusOther: Int = 0,
                applicationProtocol: String?) {
        self.requestsPerSecond = requestsPerSecond
        self.done = done
        self.succeeded = succeeded
        self.failures = failures
        self.status2xx = status2xx
        self.statusOther = statusOther
        self.applicationProtocol = applicationProtocol
    }

    /// nil unless the "finished in", "requests:" and "status codes:" lines are all there.
    public static func parse(_ text: String) -> H2LoadOutput? {
        var rps: Double? = nil, counts: [String: Int]? = nil, codes: [String: Int]? = nil, proto: String? = nil
        for line in text.split(separator: "\n") {
            let l = strip(line)
            if l.hasPrefix("finished in "), let part = l.split(separator: ",").dropFirst().first {
                rps = Double(part.split(separator: " ").first ?? "")
            } else if l.hasPrefix("requests: ") {
                // "requests: 100 total, 100 started, 100 done, 100 succeeded, 0 failed, 0 errored, 0 timeout"
                counts = countList(l.dropFirst("requests: ".count))
            } else if l.hasPrefix("status codes: ") {
                // "status codes: 100 2xx, 0 3xx, 0 4xx, 0 5xx"
                codes = countList(l.dropFirst("status codes: ".count))
            } else if l.hasPrefix("Application protocol: ") {
                proto = String(l.dropFirst("Application protocol: ".count))
            }
        }
        guard let rps, let counts, let codes, let ok = codes["2xx"], let done = counts["done"], let succeeded = counts["succeeded"] else { return nil }
        let failures = (counts["failed"] ?? 0) + (counts["errored"] ?? 0) + (counts["timeout"] ?? 0)
        let other = (codes["3xx"] ?? 0) + (codes["4xx"] ?? 0) + (codes["5xx"] ?? 0)
        return H2LoadOutput(requestsPerSecond: rps, done: done, succeeded: succeeded, failures: failures, status2xx: ok, statusOther: other,
                            applicationProtocol: proto)
    }

    /// "N word, N word, ..." -> [word: N].
    private static func countList(_ text: Substring) -> [String: Int] {
        var c: [String: Int] = [:]
        for item in text.split(separator: ",") {
            let words = item.split(separator: " ")
            if words.count == 2, let n = Int(words[0]) { c[String(words[1])] = n }
        }
        return c
    }

    private static func strip(_ s: Substring) -> String {
        String(s.drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" || $0 == "\r" }).reversed())
    }

    /// Why the run does not count (nil when it does): every request must succeed with a 2xx over h2.
    /// In duration mode a response whose head came in just before the end counts as 2xx but not as
    /// done, so 2xx may exceed done; any other status fails the run.
    public var failure: String? {
        if applicationProtocol != "h2" { return "not HTTP/2 over TLS (application protocol \(applicationProtocol ?? "none"))" }
        if done == 0 { return "no requests" }
        if failures > 0 || succeeded != done || status2xx < done || statusOther > 0 {
            return "\(failures) failed/errored/timed out, \(statusOther) not 2xx of \(done)"
        }
        return nil
    }
}
