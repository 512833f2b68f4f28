/// One `scale` run's figures: from the load generator's JSON (`hold --json --server-pid`) plus
/// the app's memory, read by the driver. Pure: numbers in, text out.
public struct ScaleResult: Equatable, Sendable {
    public var path: String
    /// The row's name; nil: `pathLabels[path]`.
    public var label: String? = nil
    public var requested: Int
    /// Connections open at the end of the measured interval.
    public var held = 0
    public var messagesPerSecond = 0.0
    public var p50 = 0, p99 = 0, p999 = 0, maxLatency = 0   // µs
    public var errors = 0
    public var mismatches = 0
    public var gatewayKiBBefore = 0, gatewayKiBEnd = 0
    public var gatewayCPUMicrosecondsPerMessage = 0.0
    /// The app's VmRSS before the run and its peak (VmHWM) after it, KiB; 0 when unknown.
    public var appKiBBefore = 0, appKiBPeak = 0
    /// Most descriptors open in the gateway / the app during the run (sampled every 0.5 s).
    public var gatewayDescriptors = 0, appDescriptors = 0
    /// The machine's kernel slab (KiB) before the run and at its highest: both ends of every
    /// loopback connection (client and gateway sockets, the app's), machine-wide, so approximate.
    public var slabKiBBefore = 0, slabKiBPeak = 0
    /// Why there are no figures (the load generator failed to run or printed no JSON).
    public var failure: String? = nil

    public init(path: String, requested: Int) {
        self.path = path
        self.requested = requested
    }

    /// Fills the figures from the load generator's JSON object (FlatJSON.parse).
    public init(path: String, requested: Int, json: [String: String]) {
        self.init(path: path, requested: requested)
        func int(_ k: String) -> Int { json[k].flatMap { Int($0) ?? Double($0).map { Int($0) } } ?? 0 }
        func double(_ k: String) -> Double { json[k].flatMap(Double.init) ?? 0 }
        held = int("open_at_end")
        messagesPerSecond = double("messages_per_sec")
        p50 = int("p50_us"); p99 = int("p99_us"); p999 = int("p999_us"); maxLatency = int("max_us")
        errors = int("errors")
        mismatches = int("mismatches")
        gatewayKiBBefore = int("server_rss_kib_before")
        gatewayKiBEnd = int("server_rss_kib_end")
        gatewayCPUMicrosecondsPerMessage = double("server_cpu_us_per_message")
    }

    public var gatewayKiBPerConnection: Double {
        held > 0 ? Double(gatewayKiBEnd - gatewayKiBBefore) / Double(held) : 0
    }

    public var appKiBPerConnection: Double {
        held > 0 && appKiBPeak > 0 ? Double(appKiBPeak - appKiBBefore) / Double(held) : 0
    }

    public var kernelKiBPerConnection: Double {
        held > 0 && slabKiBPeak > 0 ? Double(slabKiBPeak - slabKiBBefore) / Double(held) : 0
    }

    public static let pathLabels = ["nfcgi": "native FastCGI (multiplexed)", "nscgi": "native SCGI"]

    static let headings = ["path", "connections held", "messages/s", "p50 ms", "p99 ms", "p99.9 ms", "max ms",
                           "errors", "gateway fds", "gateway RSS MiB", "gateway KiB/conn", "gateway CPU µs/msg", "app KiB/conn", "kernel KiB/conn"]

    var cells: [String] {
        let label = self.label ?? ScaleResult.pathLabels[path] ?? path
        if let failure { return [label, "\(NumberFormat.grouped(requested)) asked: \(failure)"] + Array(repeating: "", count: 12) }
        func ms(_ us: Int) -> String { NumberFormat.fixed(Double(us) / 1000, decimals: us < 10_000 ? 2 : 1) }
        let held = self.held == requested ? NumberFormat.grouped(self.held)
                                          : "\(NumberFormat.grouped(self.held)) of \(NumberFormat.grouped(requested))"
        return [label, held, NumberFormat.fixed(messagesPerSecond, decimals: 0), ms(p50), ms(p99), ms(p999), ms(maxLatency),
                NumberFormat.grouped(errors + mismatches), NumberFormat.grouped(gatewayDescriptors),
                NumberFormat.fixed(Double(gatewayKiBEnd) / 1024, decimals: 1),
                NumberFormat.fixed(gatewayKiBPerConnection, decimals: 1),
                NumberFormat.fixed(gatewayCPUMicrosecondsPerMessage, decimals: 1),
                appKiBPeak > 0 ? NumberFormat.fixed(appKiBPerConnection, decimals: 1) : "–",
                slabKiBPeak > 0 ? "≈" + NumberFormat.fixed(kernelKiBPerConnection, decimals: 1) : "–"]
    }

    /// Aligned plain text for the terminal.
    public static func text(_ results: [ScaleResult]) -> String {
        let grid = [headings] + results.map(\.cells)
        let widths = headings.indices.map { c in grid.map { $0[c].count }.max() ?? 0 }
        return grid.map { row in
            row.enumerated().map { c, t in
                let pad = String(repeating: " ", count: widths[c] - t.count)
                return c == 0 ? t + pad : pad + t
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    /// A Markdown table (the README's Scale section).
    public static func markdown(_ results: [ScaleResult]) -> String {
        var lines = ["| " + headings.joined(separator: " | ") + " |",
                     "|" + headings.indices.map { $0 == 0 ? "---" : "---:" }.joined(separator: "|") + "|"]
        for r in results { lines.append("| " + r.cells.joined(separator: " | ") + " |") }
        return lines.joined(separator: "\n")
    }
}
