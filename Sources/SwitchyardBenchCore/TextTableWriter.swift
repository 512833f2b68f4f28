/// The comparison as aligned plain text for the terminal: a heading row, a unit row, a row per
/// path and the ratio lines. Columns are as wide as their widest cell.
public enum TextTableWriter {
    public static func render(_ table: CompareTable) -> String {
        var grid: [[String]] = []
        grid.append(["path"] + table.columns.map(\.title))
        grid.append([""] + table.columns.map { $0.higherIsBetter ? $0.unit : "\($0.unit) (lower better)" })
        for row in table.rows {
            grid.append([row.name] + zip(row.cells, table.columns).map { clip($0.text($1.format)) })
        }
        for ratio in table.ratios {
            grid.append([ratio.label] + table.ratioTexts(ratio))
        }
        let widths = (0..<(table.columns.count + 1)).map { c in grid.map { $0[c].count }.max() ?? 0 }
        var lines = [table.title]
        for (r, cells) in grid.enumerated() {
            var line = ""
            for (c, text) in cells.enumerated() {
                let pad = String(repeating: " ", count: widths[c] - text.count)
                line += c == 0 ? text + pad : "  " + pad + text
            }
            lines.append(line)
            if r == 1 { lines.append(String(repeating: "-", count: widths.reduce(0, +) + 2 * (widths.count - 1))) }
        }
        return lines.joined(separator: "\n")
    }

    /// Long failure reasons are cut for the terminal (results.md has them whole).
    static func clip(_ s: String, to width: Int = 36) -> String {
        s.count > width ? String(s.prefix(width - 3)) + "..." : s
    }
}
