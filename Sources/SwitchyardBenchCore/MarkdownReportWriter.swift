/// results.md: the machine, the note on shared cores and runs, one Markdown table per
/// `CompareTable` (ratio lines in bold under it), the notes, and a link to the chart.
public enum MarkdownReportWriter {
    public static func render(_ report: CompareReport, chartFile: String? = "chart.svg") -> String {
        let m = report.machine
        var out: [String] = []
        out.append("# Switchyard vs lighttpd: backend protocols side by side")
        out.append("")
        out.append("\(m.date), `\(m.hostname)`: \(m.cores) cores (`nproc`), \(m.cpuModel), Linux \(m.kernel), \(m.lighttpdVersion).")
        out.append("")
        out.append("Note: \(report.sharingNote). \(report.timing). ↓ = lower is better. Produced by `\(report.command)`.")
        for table in report.tables {
            out.append("")
            out.append("## \(table.title)")
            out.append("")
            out.append(tableMarkdown(table))
        }
        if !report.notes.isEmpty {
            out.append("")
            out.append("## Notes")
            out.append("")
            for note in report.notes { out.append("- \(note)") }
        }
        if let chartFile {
            out.append("")
            out.append("![chart](\(chartFile))")
        }
        return out.joined(separator: "\n") + "\n"
    }

    /// One table: header, alignment row (numbers right-aligned), a row per path, the ratio lines.
    public static func tableMarkdown(_ table: CompareTable) -> String {
        var lines: [String] = []
        let heads = table.columns.map { c in "\(c.title) (\(c.unit)\(c.higherIsBetter ? "" : " ↓"))" }
        lines.append("| path | " + heads.map(escape).joined(separator: " | ") + " |")
        lines.append("|---|" + table.columns.map { _ in "---:" }.joined(separator: "|") + "|")
        for row in table.rows {
            let cells = zip(row.cells, table.columns).map { cell, column in escape(cell.text(column.format)) }
            lines.append("| \(escape(row.name)) | " + cells.joined(separator: " | ") + " |")
        }
        for ratio in table.ratios {
            lines.append("| **\(escape(ratio.label))** | " + table.ratioTexts(ratio).map { "**\($0)**" }.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n")
    }

    /// Cell text made safe for a Markdown table: pipes escaped, newlines flattened.
    public static func escape(_ text: String) -> String {
        var out = ""
        for ch in text {
            switch ch {
            case "|": out += "\\|"
            case "\n", "\r": out += " "
            default: out.append(ch)
            }
        }
        return out
    }
}
