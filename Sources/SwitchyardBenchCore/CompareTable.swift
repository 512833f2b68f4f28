/// One measured figure of the comparison: what a column shows and how it is judged.
public struct CompareColumn: Sendable, Equatable {
    /// Short heading for the terminal table and the chart group ("64 B ×16").
    public var title: String
    /// Unit shown under the heading and on the chart ("msg/s", "MB/s", "KiB/conn").
    public var unit: String
    public var format: ValueFormat
    /// false for costs (CPU per message, memory per connection): lower is better.
    public var higherIsBetter: Bool
    /// false for context figures (the client's CPU share) that get no chart panel.
    public var inChart: Bool

    public init(title: String, unit: String, format: ValueFormat, higherIsBetter: Bool = true, inChart: Bool = true) {
        self.title = title
        self.unit = unit
        self.format = format
        self.higherIsBetter = higherIsBetter
        self.inChart = inChart
    }
}

/// One cell: the runs' figures, or why there are none. A failure is shown, never dropped.
public enum CompareCell: Sendable, Equatable {
    case value(SampleStats)
    case failed(String)
    /// Not measured on this path (e.g. lighttpd cannot upgrade over SCGI), with the reason.
    case notApplicable(String)

    public var stats: SampleStats? {
        if case .value(let s) = self, !s.isEmpty { return s }
        return nil
    }

    /// "12.3k" for one run, "12.3k [11.9k–12.6k]" for several, "failed: reason", "n/a".
    public func text(_ format: ValueFormat) -> String {
        switch self {
        case .value(let s):
            guard !s.isEmpty else { return "–" }
            let median = format.format(s.median)
            if s.samples.count < 2 { return median }
            return "\(median) [\(format.format(s.min))–\(format.format(s.max))]"
        case .failed(let reason): return "failed: \(reason)"
        case .notApplicable: return "n/a"
        }
    }
}

public struct CompareRow: Sendable, Equatable {
    public var name: String
    /// One per column of the table, in order.
    public var cells: [CompareCell]

    public init(name: String, cells: [CompareCell]) {
        self.name = name
        self.cells = cells
    }
}

/// A ratio line under a table: row `subject` ÷ row `baseline`, column by column.
public struct CompareRatio: Sendable, Equatable {
    public var label: String
    public var subject: Int
    public var baseline: Int

    public init(label: String, subject: Int, baseline: Int) {
        self.label = label
        self.subject = subject
        self.baseline = baseline
    }
}

/// Rows = paths, columns = workloads.
public struct CompareTable: Sendable, Equatable {
    public var title: String
    public var columns: [CompareColumn]
    public var rows: [CompareRow]
    public var ratios: [CompareRatio]

    public init(title: String, columns: [CompareColumn], rows: [CompareRow], ratios: [CompareRatio] = []) {
        self.title = title
        self.columns = columns
        self.rows = rows
        self.ratios = ratios
    }

    /// Median of `subject` ÷ median of `baseline` in column `column`; nil unless both have figures.
    public func ratio(_ r: CompareRatio, column: Int) -> Double? {
        guard r.subject < rows.count, r.baseline < rows.count,
              let a = rows[r.subject].cells[column].stats, let b = rows[r.baseline].cells[column].stats,
              b.median != 0 else { return nil }
        return a.median / b.median
    }

    /// The cells of a ratio line as text ("1.12×", "–").
    public func ratioTexts(_ r: CompareRatio) -> [String] {
        columns.indices.map { c in ratio(r, column: c).map(ValueFormat.ratio) ?? "–" }
    }
}

/// Where and how the figures were taken (the head of results.md).
public struct MachineDescription: Sendable, Equatable {
    public var date: String
    public var hostname: String
    public var cores: Int
    public var cpuModel: String
    public var kernel: String
    public var lighttpdVersion: String

    public init(date: String, hostname: String, cores: Int, cpuModel: String, kernel: String, lighttpdVersion: String) {
        self.date = date
        self.hostname = hostname
        self.cores = cores
        self.cpuModel = cpuModel
        self.kernel = kernel
        self.lighttpdVersion = lighttpdVersion
    }
}

/// Everything one `switchyard-bench compare` run produced.
public struct CompareReport: Sendable, Equatable {
    public var machine: MachineDescription
    public var runs: Int
    /// The command that produced it, e.g. "switchyard-bench compare --quick".
    public var command: String
    /// How long each measurement ran ("1 s warm-up + 5 s measured").
    public var timing: String
    public var tables: [CompareTable]
    public var notes: [String]

    public init(machine: MachineDescription, runs: Int, command: String, timing: String, tables: [CompareTable], notes: [String] = []) {
        self.machine = machine
        self.runs = runs
        self.command = command
        self.timing = timing
        self.tables = tables
        self.notes = notes
    }

    /// The sentence every rendering carries.
    public var sharingNote: String {
        "client and server share \(machine.cores) \(machine.cores == 1 ? "core" : "cores"); figures are medians of \(runs) \(runs == 1 ? "run" : "runs"), min–max in brackets"
    }
}
