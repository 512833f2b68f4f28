/// The TLS rows of `compare`: switchyard and lighttpd (mod_openssl) with the same certificate,
/// protocol and cipher suite, measured on connection setup (full and resumed handshakes, each
/// followed by one small static GET) and on WebSocket echo over wss:// through CGI. Pure.
public enum CompareTLSWorkload: String, CaseIterable, Sendable {
    /// Full handshakes, 8 connections at a time (handshakes mode).
    case full
    /// Abbreviated handshakes: every connection resumes its previous session (handshakes --resume).
    case resumed
    /// 64 B round trips over wss://, 16 connections (pingpong).
    case small16
    /// 1 MiB binary messages over wss://, one connection.
    case large

    public var label: String {
        switch self {
        case .full: return "full TLS x8"
        case .resumed: return "resumed TLS x8"
        case .small16: return "wss 64 B x16"
        case .large: return "wss 1 MiB x1"
        }
    }

    /// The handshake rows fetch a small static file; the echo rows go through the CGI echo.
    public var isHandshake: Bool { self == .full || self == .resumed }

    /// The load generator's arguments (before the URL), without --json / --server-pid.
    public func benchArguments(duration: Double, warmup: Double) -> [String] {
        let timing = ["-d", NumberFormat.fixed(duration, decimals: 2), "-w", NumberFormat.fixed(warmup, decimals: 2)]
        switch self {
        case .full: return ["handshakes", "-c", "8"] + timing
        case .resumed: return ["handshakes", "-c", "8", "--resume"] + timing
        case .small16: return ["pingpong", "-c", "16", "-s", "64"] + timing
        case .large: return ["pingpong", "-c", "1", "-s", "1m", "-b"] + timing
        }
    }

    public enum Column {
        public static let full = 0, resumed = 1, small16 = 2, large = 3, cpuPerFull = 4, cpuPerResumed = 5
    }

    public static let columns: [CompareColumn] = [
        CompareColumn(title: "full handshakes ×8", unit: "conn/s", format: .rate),
        CompareColumn(title: "resumed handshakes ×8", unit: "conn/s", format: .rate),
        CompareColumn(title: "wss 64 B ×16", unit: "msg/s", format: .rate),
        CompareColumn(title: "wss 1 MiB ×1", unit: "MB/s", format: .megabytes),
        CompareColumn(title: "gateway CPU per full handshake", unit: "µs", format: .microseconds, higherIsBetter: false),
        CompareColumn(title: "gateway CPU per resumed handshake", unit: "µs", format: .microseconds, higherIsBetter: false),
    ]

    /// Columns of `columns` this workload fills.
    public var columns: [Int] {
        switch self {
        case .full: return [Column.full, Column.cpuPerFull]
        case .resumed: return [Column.resumed, Column.cpuPerResumed]
        case .small16: return [Column.small16]
        case .large: return [Column.large]
        }
    }

    /// The figures of one run, or why it failed: errors as in the WebSocket table, and a resumed
    /// run fails when the server resumed fewer than 90 % of the connections (then it measured
    /// full handshakes under the wrong name).
    public func figures(json: [String: String]?, exitCode: Int32, stderr: String) -> Result<[Int: Double], CompareFailure> {
        if let failure = CompareMatrix.runFailure(json: json, exitCode: exitCode, stderr: stderr) { return .failure(failure) }
        guard let json else { return .failure(CompareFailure("no output")) }
        func number(_ key: String) -> Double? { json[key].flatMap(Double.init) }
        var out: [Int: Double] = [:]
        switch self {
        case .full, .resumed:
            let handshakes = number("handshakes") ?? 0
            out[columns[0]] = number("handshakes_per_sec")
            out[columns[1]] = number("server_cpu_us_per_message")
            if self == .resumed, (number("resumed") ?? 0) < 0.9 * handshakes {
                return .failure(CompareFailure("only \(Int(number("resumed") ?? 0)) of \(Int(handshakes)) handshakes resumed"))
            }
        case .small16:
            out[Column.small16] = number("messages_per_sec")
        case .large:
            out[Column.large] = number("mb_per_sec")
        }
        if out.values.contains(where: { !$0.isFinite }) || out.count < columns.count {
            return .failure(CompareFailure("incomplete JSON output"))
        }
        if (out[columns[0]] ?? 0) <= 0 { return .failure(CompareFailure(isHandshake ? "no handshakes" : "no messages")) }
        return .success(out)
    }
}
