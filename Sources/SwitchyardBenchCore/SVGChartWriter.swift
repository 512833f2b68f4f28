/// chart.svg, written by hand (no libraries): a legend with one colour per path, then one panel per
/// workload (column) with one bar per path (row), each panel on its own scale (bar height relative to
/// the largest figure in that panel) and every bar labelled with its median. Costs (lower is better)
/// say so in the panel title. A failed or not-applicable cell gets a short text instead of a bar.
public enum SVGChartWriter {
    public static let palette = ["#7f7f7f", "#1f77b4", "#aec7e8", "#ff7f0e", "#2ca02c", "#98df8a", "#d62728", "#9467bd",
                                 "#8c564b", "#e377c2", "#17becf", "#bcbd22"]

    public static func render(_ fullTable: CompareTable, subtitle: String) -> String {
        let charted = fullTable.columns.indices.filter { fullTable.columns[$0].inChart }
        let table = CompareTable(title: fullTable.title, columns: charted.map { fullTable.columns[$0] },
                                 rows: fullTable.rows.map { row in CompareRow(name: row.name, cells: charted.map { row.cells[$0] }) })
        let panelsPerRow = min(4, max(table.columns.count, 1))
        let panelWidth = 250
        let panelHeight = 250
        let plotTop = 80          // inside a panel: title lines, then room for the value labels
        let plotBottom = 220
        let margin = 20
        let legendItemWidth = 235
        let legendPerRow = max((panelsPerRow * panelWidth) / legendItemWidth, 1)
        let legendRows = (table.rows.count + legendPerRow - 1) / legendPerRow
        let legendTop = 64
        let panelsTop = legendTop + legendRows * 20 + 16
        let panelRows = (table.columns.count + panelsPerRow - 1) / panelsPerRow
        let width = margin * 2 + panelsPerRow * panelWidth
        let height = panelsTop + panelRows * panelHeight + margin

        var s: [String] = []
        s.append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
        s.append("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">")
        s.append("<rect x=\"0\" y=\"0\" width=\"\(width)\" height=\"\(height)\" fill=\"#ffffff\"/>")
        s.append(text(x: margin, y: 28, escape(table.title), size: 18, weight: "bold"))
        s.append(text(x: margin, y: 48, escape(subtitle), size: 11, fill: "#555555"))

        // Legend.
        for (i, row) in table.rows.enumerated() {
            let x = margin + (i % legendPerRow) * legendItemWidth
            let y = legendTop + (i / legendPerRow) * 20
            s.append("<rect class=\"legend\" x=\"\(x)\" y=\"\(y)\" width=\"12\" height=\"12\" fill=\"\(color(i))\"/>")
            s.append(text(x: x + 17, y: y + 11, escape(row.name), size: 12))
        }

        // Panels.
        for (c, column) in table.columns.enumerated() {
            let px = margin + (c % panelsPerRow) * panelWidth
            let py = panelsTop + (c / panelsPerRow) * panelHeight
            s.append("<g class=\"panel\" transform=\"translate(\(px),\(py))\">")
            s.append("<rect x=\"2\" y=\"0\" width=\"\(panelWidth - 8)\" height=\"\(panelHeight - 8)\" fill=\"#fafafa\" stroke=\"#dddddd\"/>")
            s.append(text(x: 10, y: 18, escape(column.title), size: 13, weight: "bold"))
            s.append(text(x: 10, y: 34, escape(column.unit + (column.higherIsBetter ? ", higher is better" : ", lower is better")),
                          size: 10, fill: "#555555"))
            let values = table.rows.map { $0.cells[c].stats?.median }
            let top = values.compactMap { $0 }.max() ?? 0
            let n = max(table.rows.count, 1)
            let slot = Double(panelWidth - 28) / Double(n)
            let barWidth = max(slot * 0.72, 2)
            let plotHeight = Double(plotBottom - plotTop)
            s.append("<line x1=\"10\" y1=\"\(plotBottom)\" x2=\"\(panelWidth - 14)\" y2=\"\(plotBottom)\" stroke=\"#999999\"/>")
            for (r, row) in table.rows.enumerated() {
                let x = 14 + slot * Double(r) + (slot - barWidth) / 2
                let cx = x + barWidth / 2
                let cell = row.cells[c]
                if let v = values[r] {
                    let h = top > 0 ? max(v / top * plotHeight, v > 0 ? 1 : 0) : 0
                    let y = Double(plotBottom) - h
                    s.append("<rect class=\"bar\" x=\"\(fmt(x))\" y=\"\(fmt(y))\" width=\"\(fmt(barWidth))\" height=\"\(fmt(h))\" fill=\"\(color(r))\">"
                             + "<title>\(escape(row.name)): \(escape(cell.text(column.format))) \(escape(column.unit))</title></rect>")
                    s.append(rotated(x: cx + 3.5, y: y - 3, escape(column.format.format(v)), size: 10))
                } else {
                    let label: String
                    switch cell {
                    case .failed: label = "failed"
                    default: label = "n/a"
                    }
                    s.append(rotated(x: cx + 3.5, y: Double(plotBottom) - 3, label, size: 10, fill: "#b00000"))
                }
            }
            s.append("</g>")
        }
        s.append("</svg>")
        return s.joined(separator: "\n") + "\n"
    }

    static func color(_ i: Int) -> String { palette[i % palette.count] }

    static func text(x: Int, y: Int, _ content: String, size: Int, weight: String? = nil, fill: String = "#222222") -> String {
        let w = weight.map { " font-weight=\"\($0)\"" } ?? ""
        return "<text x=\"\(x)\" y=\"\(y)\" font-size=\"\(size)\"\(w) fill=\"\(fill)\">\(content)</text>"
    }

    /// A label reading bottom-up, its start at (x, y).
    static func rotated(x: Double, y: Double, _ content: String, size: Int, fill: String = "#222222") -> String {
        "<text class=\"value\" x=\"\(fmt(x))\" y=\"\(fmt(y))\" font-size=\"\(size)\" fill=\"\(fill)\" transform=\"rotate(-90 \(fmt(x)) \(fmt(y)))\">\(content)</text>"
    }

    static func fmt(_ v: Double) -> String { NumberFormat.fixed(v, decimals: 1) }

    /// Text for XML character data and attribute values.
    public static func escape(_ s: String) -> String {
        var out = ""
        for ch in s {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.append(ch)
            }
        }
        return out
    }
}
