/// The workloads `compare` runs on every WebSocket path, the columns they fill, and how a run's
/// JSON (`switchyard-bench MODE --json --server-pid PID`) becomes figures. Pure.
public enum CompareWorkload: String, CaseIterable, Sendable {
    /// 64 B text round trips, 1 / 16 / 64 connections (pingpong).
    case small1, small16, small64
    /// 1 MiB binary messages, one connection (pingpong -s 1m -b).
    case large
    /// Upgrade cycles, 8 at a time.
    case upgrades
    /// 1000 idle connections, one message every 5 s each: the gateway's memory per connection.
    case hold

    public var label: String {
        switch self {
        case .small1: return "64 B x1"
        case .small16: return "64 B x16"
        case .small64: return "64 B x64"
        case .large: return "1 MiB x1"
        case .upgrades: return "upgrades x8"
        case .hold: return "hold 1000"
        }
    }

    public static let holdConnections = 1000

    /// The load generator's arguments (before the URL), without --json / --server-pid.
    public func benchArguments(duration: Double, warmup: Double) -> [String] {
        let timing = ["-d", NumberFormat.fixed(duration, decimals: 2), "-w", NumberFormat.fixed(warmup, decimals: 2)]
        switch self {
        case .small1: return ["pingpong", "-c", "1", "-s", "64"] + timing
        case .small16: return ["pingpong", "-c", "16", "-s", "64"] + timing
        case .small64: return ["pingpong", "-c", "64", "-s", "64"] + timing
        case .large: return ["pingpong", "-c", "1", "-s", "1m", "-b"] + timing
        case .upgrades: return ["upgrades", "-c", "8"] + timing
        case .hold: return ["hold", "-c", "\(CompareWorkload.holdConnections)", "-i", "5", "--timeout", "20"] + timing
        }
    }

    /// Columns of `CompareMatrix.webSocketColumns` this workload fills.
    public var columns: [Int] {
        switch self {
        case .small1: return [CompareMatrix.Column.small1, CompareMatrix.Column.latency1]
        case .small16: return [CompareMatrix.Column.small16, CompareMatrix.Column.cpuPerMessage, CompareMatrix.Column.clientCPU]
        case .small64: return [CompareMatrix.Column.small64]
        case .large: return [CompareMatrix.Column.large]
        case .upgrades: return [CompareMatrix.Column.upgrades, CompareMatrix.Column.cpuPerUpgrade]
        case .hold: return [CompareMatrix.Column.idleMemory]
        }
    }
}

public enum CompareMatrix {
    public enum Column {
        public static let small1 = 0, small16 = 1, small64 = 2, large = 3, upgrades = 4, idleMemory = 5
        public static let latency1 = 6, cpuPerMessage = 7, cpuPerUpgrade = 8, clientCPU = 9
    }

    public static let webSocketColumns: [CompareColumn] = [
        CompareColumn(title: "64 B ×1", unit: "msg/s", format: .rate),
        CompareColumn(title: "64 B ×16", unit: "msg/s", format: .rate),
        CompareColumn(title: "64 B ×64", unit: "msg/s", format: .rate),
        CompareColumn(title: "1 MiB ×1", unit: "MB/s", format: .megabytes),
        CompareColumn(title: "upgrades ×8", unit: "upgrades/s", format: .rate),
        CompareColumn(title: "idle memory", unit: "KiB/conn", format: .kibibytes, higherIsBetter: false),
        CompareColumn(title: "p50 64 B ×1", unit: "µs", format: .microseconds, higherIsBetter: false),
        CompareColumn(title: "gateway CPU 64 B ×16", unit: "µs/msg", format: .microseconds, higherIsBetter: false),
        CompareColumn(title: "gateway CPU per upgrade", unit: "µs", format: .microseconds, higherIsBetter: false),
        CompareColumn(title: "client CPU 64 B ×16", unit: "of all cores", format: .percent, higherIsBetter: false, inChart: false),
    ]

    public static let plainColumns: [CompareColumn] = [
        CompareColumn(title: "requests", unit: "req/s", format: .rate),
        CompareColumn(title: "gateway CPU", unit: "µs/req", format: .microseconds, higherIsBetter: false),
    ]

    /// The figures of one load-generator run, by column; or why it failed. A run fails when the
    /// JSON is missing, or shows errors or mismatches, or (hold) not every connection opened.
    public static func figures(for workload: CompareWorkload, json: [String: String]?, exitCode: Int32,
                               stderr: String) -> Result<[Int: Double], CompareFailure> {
        if let failure = runFailure(json: json, exitCode: exitCode, stderr: stderr) { return .failure(failure) }
        guard let json else { return .failure(CompareFailure("no output")) }
        func number(_ key: String) -> Double? { json[key].flatMap(Double.init) }
        var out: [Int: Double] = [:]
        switch workload {
        case .small1:
            out[Column.small1] = number("messages_per_sec")
            out[Column.latency1] = number("p50_us")
        case .small16:
            out[Column.small16] = number("messages_per_sec")
            out[Column.cpuPerMessage] = number("server_cpu_us_per_message")
            out[Column.clientCPU] = number("client_cpu_share")
        case .small64:
            out[Column.small64] = number("messages_per_sec")
        case .large:
            out[Column.large] = number("mb_per_sec")
        case .upgrades:
            out[Column.upgrades] = number("upgrades_per_sec")
            out[Column.cpuPerUpgrade] = number("server_cpu_us_per_message")
        case .hold:
            let open = Int(number("open_at_end") ?? 0)
            if open < CompareWorkload.holdConnections {
                return .failure(CompareFailure("only \(open) of \(CompareWorkload.holdConnections) connections open"))
            }
            out[Column.idleMemory] = number("server_rss_kib_per_connection")
        }
        if out.values.contains(where: { !$0.isFinite }) || out.count < workload.columns.count {
            return .failure(CompareFailure("incomplete JSON output"))
        }
        if let first = workload.columns.first, (out[first] ?? 0) <= 0 && workload != .hold {
            return .failure(CompareFailure("no messages"))
        }
        return .success(out)
    }

    /// Why a run counts as failed whatever it measured: no JSON, errors, mismatches, a non-zero exit.
    public static func runFailure(json: [String: String]?, exitCode: Int32, stderr: String) -> CompareFailure? {
        let firstLine = stderr.split(separator: "\n").first.map(String.init) ?? ""
        guard let json else {
            return CompareFailure(firstLine.isEmpty ? "exit status \(exitCode), no output" : trimmed(firstLine))
        }
        func number(_ key: String) -> Double? { json[key].flatMap(Double.init) }
        let mismatches = Int(number("mismatches") ?? 0)
        let errors = Int(number("errors") ?? 0)
        if mismatches > 0 { return CompareFailure("\(mismatches) mismatches") }
        if errors > 0 { return CompareFailure("\(errors) errors" + (firstLine.isEmpty ? "" : " (\(trimmed(firstLine)))")) }
        if exitCode != 0 { return CompareFailure("exit status \(exitCode)" + (firstLine.isEmpty ? "" : " (\(trimmed(firstLine)))")) }
        return nil
    }

    /// One line, at most 80 characters, for a table cell.
    public static func trimmed(_ s: String) -> String {
        var t = s
        if t.hasPrefix("switchyard-bench: ") { t.removeFirst("switchyard-bench: ".count) }
        // "upgrade refused for ws://... from ...: status 503, expected 101; received:" -> the status.
        if t.hasPrefix("upgrade refused"), let r = t.firstRange(of: "status "),
           let code = t[r.upperBound...].split(separator: ",").first {
            return "upgrade refused: status \(code)"
        }
        return t.count > 80 ? String(t.prefix(77)) + "..." : t
    }
}

public struct CompareFailure: Error, Equatable, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}

/// Collects the runs' figures for one table: per row and column, the samples or the first failure.
public struct CompareCollector: Sendable {
    public let columns: [CompareColumn]
    public private(set) var rowNames: [String] = []
    private var samples: [[[Double]]] = []
    private var failures: [[String?]] = []
    private var notApplicable: [[String?]] = []

    public init(columns: [CompareColumn]) { self.columns = columns }

    /// Index of the row, adding it on first use.
    @discardableResult
    public mutating func row(_ name: String) -> Int {
        if let i = rowNames.firstIndex(of: name) { return i }
        rowNames.append(name)
        samples.append(Array(repeating: [], count: columns.count))
        failures.append(Array(repeating: nil, count: columns.count))
        notApplicable.append(Array(repeating: nil, count: columns.count))
        return rowNames.count - 1
    }

    public mutating func add(row name: String, column: Int, value: Double) {
        let r = row(name)
        samples[r][column].append(value)
    }

    /// The first failure of a cell is kept; a failed cell stays failed whatever other runs gave.
    public mutating func fail(row name: String, column: Int, reason: String) {
        let r = row(name)
        if failures[r][column] == nil { failures[r][column] = reason }
    }

    public mutating func markNotApplicable(row name: String, column: Int, reason: String) {
        let r = row(name)
        notApplicable[r][column] = reason
    }

    public func table(title: String, ratios: [CompareRatio] = []) -> CompareTable {
        var rows: [CompareRow] = []
        for (r, name) in rowNames.enumerated() {
            let cells: [CompareCell] = columns.indices.map { c in
                if let f = failures[r][c] { return .failed(f) }
                if let n = notApplicable[r][c] { return .notApplicable(n) }
                if samples[r][c].isEmpty { return .failed("not measured") }
                return .value(SampleStats(samples[r][c]))
            }
            rows.append(CompareRow(name: name, cells: cells))
        }
        return CompareTable(title: title, columns: columns, rows: rows, ratios: ratios)
    }
}
