/// `switchyard-bench scale`, parsed: how many WebSockets one gateway holds on one native
/// FastCGI app and on one native SCGI app, every connection sending a small message every few
/// seconds. Pure (no I/O) so it is unit-tested.
public struct ScaleOptions: Equatable, Sendable {
    /// A run's connection count: a number, or as many as the descriptor limit allows.
    public enum Count: Equatable, Sendable {
        case fixed(Int)
        case max
    }

    public static let pathNames = ["nfcgi", "nscgi"]

    public var counts: [Count] = [.max, .fixed(1000)]
    public var paths: [String] = ScaleOptions.pathNames
    /// Seconds between two messages of one connection (the N connections are spread over it).
    public var interval = 5.0
    public var duration = 30.0
    /// Not counted; at least one interval, so every connection has sent before measuring starts.
    public var warmup: Double? = nil
    public var size = 64
    public var threads = 1
    public var timeout = 10.0
    /// Passed through to the load generator (validated here).
    public var sourceAddresses: String? = nil
    public var keepTemporary = false
    /// `server.upgrade-relay` of the SCGI gateway: "copy" (read/write, 2 descriptors per
    /// WebSocket) or "splice" (the default of the gateway: two pipes more, 6 per WebSocket).
    public var relay = "copy"

    public init() {}

    public var effectiveWarmup: Double { warmup ?? max(interval, 2) }

    public enum ParseOutcome: Equatable, Sendable {
        case run(ScaleOptions)
        case help
    }

    public static let usage = """
    usage: switchyard-bench scale [--connections LIST] [--paths nfcgi,nscgi] [--interval S]
                                  [--duration S] [--warmup S] [--size SIZE] [--threads N]
                                  [--source-addresses LIST] [--relay copy|splice] [--timeout S] [--keep]

    For each path and connection count: starts a fresh switchyard (release build, one event loop)
    with one native echo app behind it (switchyard-echo-app, spawned by bin-path), opens the
    connections, every one sending a message of SIZE every S seconds (connection i at phase i/N
    of the interval, so the load is even), and reports connections held, messages/s, round-trip
    p50/p99/p99.9, errors, and the gateway's and the app's resident memory per connection.

      --connections LIST  comma list of counts or "max" (default max,1000); max = as many as the
                          hard descriptor limit (ulimit -Hn) leaves room for in the gateway, which
                          needs 2 per connection on SCGI with the copy relay (client + app
                          socket), 6 with splice (two pipes more) and 1 + 1/64 on multiplexed
                          FastCGI (64 requests per app connection); the load client and the app
                          need 1 each
      --paths LIST        nfcgi (native FastCGI, multiplexed), nscgi (native SCGI); default both
      --interval S        seconds between two messages of one connection (default 5)
      --duration S        measured seconds (default 30)
      --warmup S          seconds after every connection is open, not counted (default: the interval)
      --size SIZE         message size (default 64)
      --threads N         load-generator threads (default 1)
      --source-addresses LIST
                          local addresses for the load generator (127.0.0.2-127.0.0.9): past the
                          ~28 000 ephemeral ports of one source address
      --relay MODE        server.upgrade-relay of the SCGI gateway: copy (default here: fewest
                          descriptors) or splice (the gateway's default)
      --timeout S         connect/handshake and echo limit of the load generator (default 10)
      --keep              keep the temporary directory (configs, logs)
    """

    public static func parse(_ arguments: [String]) throws(BenchOptions.UsageError) -> ParseOutcome {
        var o = ScaleOptions()
        var scan = OptionScanner(arguments)
        while let name = scan.next() {
            switch name {
            case "-h", "--help": return .help
            case "--keep": o.keepTemporary = true
            case "-c", "--connections": o.counts = try parseCounts(scan.value(name))
            case "--paths":
                let text = try scan.value(name)
                let names = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                guard !names.isEmpty, names.allSatisfy(pathNames.contains) else {
                    throw BenchOptions.UsageError("\(name): expected nfcgi and/or nscgi, got \"\(text)\"")
                }
                o.paths = names
            case "-i", "--interval": o.interval = try scan.seconds(name, allowZero: false)
            case "-d", "--duration": o.duration = try scan.seconds(name, allowZero: false)
            case "-w", "--warmup": o.warmup = try scan.seconds(name, allowZero: true)
            case "--timeout": o.timeout = try scan.seconds(name, allowZero: false)
            case "--relay":
                let text = try scan.value(name)
                guard text == "copy" || text == "splice" else { throw BenchOptions.UsageError("\(name): expected copy or splice, got \"\(text)\"") }
                o.relay = text
            case "-s", "--size":
                let text = try scan.value(name)
                guard let n = ByteSize.parse(text), n <= 1 << 20 else {
                    throw BenchOptions.UsageError("\(name): expected a size up to 1m, got \"\(text)\"")
                }
                o.size = n
            case "-t", "--threads":
                let text = try scan.value(name)
                guard let n = Int(text), (1...64).contains(n) else { throw BenchOptions.UsageError("\(name): expected 1...64, got \"\(text)\"") }
                o.threads = n
            case "--source-addresses":
                let text = try scan.value(name)
                do { _ = try SourceAddressList.parse(text) } catch { throw BenchOptions.UsageError("\(name): \(error)") }
                o.sourceAddresses = text
            default:
                throw scan.unexpected
            }
        }
        return .run(o)
    }

    static func parseCounts(_ text: String) throws(BenchOptions.UsageError) -> [Count] {
        var counts: [Count] = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            if item == "max" {
                counts.append(.max)
            } else if let n = Int(item), n > 0, n <= 10_000_000 {
                counts.append(.fixed(n))
            } else {
                throw BenchOptions.UsageError("--connections: expected counts or \"max\", got \"\(text)\"")
            }
        }
        return counts
    }
}

/// How many connections fit in the descriptor limit.
public enum ScalePlan {
    /// Descriptors each process keeps besides its connections (listeners, epoll, eventfds, logs,
    /// the gateway's connections to the app, the load generator's preflight) with room to spare.
    public static let reserve = 100

    /// Requests per multiplexed FastCGI connection the plan assumes: 64, what the gateway gives a
    /// connection when the app announced no FCGI_MAX_REQS. The echo app announces 1000, so the
    /// gateway opens fewer app connections than planned (the plan errs on the safe side).
    public static let fastCGIRequestsPerConnection = 64

    /// Descriptors the gateway holds for `n` WebSockets on `path`: the client sockets; on SCGI
    /// the app socket of each too (one request per connection) and, with the splice relay, a
    /// pipe per direction (socket to socket cannot splice directly); on multiplexed FastCGI one
    /// app connection per 64 WebSockets.
    public static func gatewayDescriptors(path: String, relay: String, connections n: Int) -> Int {
        if path == "nscgi" { return n * (relay == "splice" ? 6 : 2) }
        let perConnection = fastCGIRequestsPerConnection
        return n + (n + perConnection - 1) / perConnection
    }

    /// The most connections every process fits with `limit` descriptors each (the hard limit:
    /// all of them raise their soft limit to it). The app needs one per connection on SCGI, the
    /// load generator one per connection: neither is tighter than the gateway.
    public static func maxConnections(path: String, relay: String, descriptorLimit limit: Int) -> Int {
        let room = limit - reserve
        guard room > 0 else { return 0 }
        var n = room
        while n > 0 && gatewayDescriptors(path: path, relay: relay, connections: n) > room { n -= max(1, n / 1000) }
        while gatewayDescriptors(path: path, relay: relay, connections: n + 1) <= room { n += 1 }
        return n
    }

    public static func resolve(_ count: ScaleOptions.Count, path: String, relay: String, descriptorLimit: Int) -> Int {
        switch count {
        case .fixed(let n): return n
        case .max: return maxConnections(path: path, relay: relay, descriptorLimit: descriptorLimit)
        }
    }
}
