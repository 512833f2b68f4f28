/// The command line, parsed and checked. Parsing is pure (no I/O) so it can be unit-tested.
public struct BenchOptions {
    public var mode: BenchMode = .pingpong
    public var url: String = ""
    public var connections = 1
    public var size = 16
    public var binary = false
    public var duration = 5.0
    public var inFlight = 1
    public var interval = 1.0
    public var origin: String? = nil
    public var warmup = 1.0
    public var threads = 1
    public var lenient = false
    public var json = false
    /// Bound on connect + handshake, on a close reply (upgrades) and on waiting for an echo.
    public var timeout = 10.0
    /// Progress line on stderr: nil = automatic (terminal and run longer than 3 s).
    public var progress: Bool? = nil
    /// `--server-pid`: a process (the gateway) whose CPU time over the measured interval and whose
    /// resident memory before the run and at its end are reported (Linux /proc).
    public var serverPID: Int32? = nil
    /// `--resume` (handshakes): each connection offers the TLS session its previous one saved.
    public var resume = false
    /// `--source-addresses`: local addresses bound before connect, round-robin per connection
    /// (empty: the kernel picks, one source address). See SourceAddressList.
    public var sourceAddresses: [String] = []

    /// Largest accepted message size (the frame decoder's limit is twice this, for echoes that grow).
    public static let maxSize = 256 << 20

    public init() {}

    public enum ParseOutcome {
        case run(BenchOptions)
        case help
    }

    public struct UsageError: Error, CustomStringConvertible {
        public var description: String
        public init(_ d: String) { description = d }
    }

    public static let usage = """
    usage: switchyard-bench MODE [options] ws://HOST:PORT/PATH   (wss:// over TLS)
           switchyard-bench handshakes [options] https://HOST:PORT/PATH   (or http://)
           switchyard-bench compare [--quick] [--runs N] [--duration S] [--out DIR]
           switchyard-bench h2ws [--connections N] [--streams S] [--size B] [-d S] [-w S] [--hold N]
                                 [--server-pid PID] https://HOST:PORT/PATH   (or http:// for h2c)
           switchyard-bench scale [--connections max,1000] [--paths nfcgi,nscgi] [--interval S]

    WebSocket load generator: masked client frames, every echoed byte verified.

    modes:
      pingpong   -c connections, one message of -s bytes in flight each
      pipeline   -p messages in flight per connection (throughput)
      upgrades   connect, handshake, one echo, CLOSE, wait for CLOSE or EOF; -c at a time
      hold       open -c connections, keep them -d seconds, one message every -i seconds each
      handshakes connect, TLS handshake (https://), GET PATH with Connection: close, read the
                 response to EOF, close; -c at a time (the server's certificate is not verified)

    options:
      -c, --connections N  connections (pingpong, pipeline, hold) or concurrent upgrades (default 1)
      -s, --size SIZE      payload bytes per message; k/m suffixes are binary (default 16)
      -b, --binary         binary messages (default text: 7-bit ASCII payloads)
      -d, --duration SECS  measured time (default 5)
      -w, --warmup SECS    time before measuring, not counted (default 1)
      -p, --pipeline K     messages in flight per connection (pipeline; default 16)
      -i, --interval SECS  seconds between messages of one connection (hold; default 1)
      -o, --origin ORIGIN  Origin header (default http://HOST:PORT)
      -t, --threads N      event-loop threads; connections are spread over them (default 1)
          --timeout SECS   limit for connect+handshake, for an echo and for a close reply (default 10)
          --server-pid PID also report that process's CPU time over the measured interval (per
                           message) and its resident memory before the run and at its end (/proc)
          --source-addresses LIST
                           bind each connection to one of these local addresses first, round-robin
                           (comma list and ranges: 127.0.0.2-127.0.0.9 or 127.0.0.2-9), so a run can
                           open more than the ~28 000 ephemeral ports of one source address
          --resume         handshakes: resume each connection's previous TLS session (ticket)
          --lenient        accept masked server frames (the seed ws_echo.py masks its echoes)
          --json           print one JSON object on stdout instead of the table
          --progress       force the one-line progress display on stderr
          --no-progress    never show it (default: shown when stderr is a terminal and the run is > 3 s)
      -h, --help           this text

    compare: start switchyard (one instance per backend path) and lighttpd on generated configs,
    run the same workload matrix on every path and write results.md and chart.svg
    (switchyard-bench compare --help).

    h2ws: WebSockets over HTTP/2 (RFC 8441 extended CONNECT): N connections with S streams each,
    one B-byte binary message in flight per stream, every echo checked (compare's h2 rows); with
    --hold N: N streams held open, S per connection, and the server's VmRSS growth per stream.
    One JSON line out.

    scale: hold as many WebSockets as the descriptor limit allows on one native FastCGI and one
    native SCGI app, with latency percentiles and memory per connection (switchyard-bench scale --help).

    Exit status: 0 when every connection and message succeeded, 1 when there were errors or
    mismatches, 2 for a usage error or when the first connection cannot be made.
    """

    /// Parses `arguments` (without the program name).
    public static func parse(_ arguments: [String]) throws(UsageError) -> ParseOutcome {
        var options = BenchOptions()
        var positional: [String] = []
        var pipelineGiven = false
        var i = 0

        func value(_ name: String, inline: String?) throws(UsageError) -> String {
            if let inline { return inline }
            i += 1
            guard i < arguments.count else { throw UsageError("option \(name) needs a value") }
            return arguments[i]
        }
        func positiveInt(_ name: String, _ text: String) throws(UsageError) -> Int {
            guard let n = Int(text), n > 0 else { throw UsageError("\(name): expected a positive integer, got \"\(text)\"") }
            return n
        }
        func seconds(_ name: String, _ text: String, allowZero: Bool) throws(UsageError) -> Double {
            guard let s = parseSeconds(text), s.isFinite, allowZero ? s >= 0 : s > 0 else {
                throw UsageError("\(name): expected \(allowZero ? "a non-negative" : "a positive") number of seconds, got \"\(text)\"")
            }
            return s
        }

        while i < arguments.count {
            let arg = arguments[i]
            var name = arg
            var inline: String? = nil
            if arg.hasPrefix("--"), let eq = arg.firstIndex(of: "=") {
                name = String(arg[..<eq])
                inline = String(arg[arg.index(after: eq)...])
            } else if arg.count > 2, arg.hasPrefix("-"), !arg.hasPrefix("--"), "csdwpiot".contains(arg.dropFirst().first!) {
                name = String(arg.prefix(2))        // -c16
                inline = String(arg.dropFirst(2))
            }
            switch name {
            case "-h", "--help": return .help
            case "-c", "--connections": options.connections = try positiveInt(name, value(name, inline: inline))
            case "-s", "--size":
                let text = try value(name, inline: inline)
                guard let n = ByteSize.parse(text) else { throw UsageError("\(name): expected a size such as 16, 4k or 1m, got \"\(text)\"") }
                guard n <= maxSize else { throw UsageError("\(name): \(text) is larger than the limit of \(ByteSize.format(maxSize))") }
                options.size = n
            case "-b", "--binary": options.binary = true
            case "-d", "--duration": options.duration = try seconds(name, value(name, inline: inline), allowZero: false)
            case "-w", "--warmup": options.warmup = try seconds(name, value(name, inline: inline), allowZero: true)
            case "-p", "--pipeline":
                options.inFlight = try positiveInt(name, value(name, inline: inline))
                pipelineGiven = true
            case "-i", "--interval": options.interval = try seconds(name, value(name, inline: inline), allowZero: false)
            case "-o", "--origin": options.origin = try value(name, inline: inline)
            case "-t", "--threads": options.threads = try positiveInt(name, value(name, inline: inline))
            case "--timeout": options.timeout = try seconds(name, value(name, inline: inline), allowZero: false)
            case "--server-pid":
                let text = try value(name, inline: inline)
                guard let pid = Int32(text), pid > 0 else { throw UsageError("\(name): expected a process id, got \"\(text)\"") }
                options.serverPID = pid
            case "--source-addresses":
                let text = try value(name, inline: inline)
                do {
                    options.sourceAddresses = try SourceAddressList.parse(text)
                } catch {
                    throw UsageError("\(name): \(error)")
                }
            case "--lenient": options.lenient = true
            case "--resume": options.resume = true
            case "--json": options.json = true
            case "--progress": options.progress = true
            case "--no-progress": options.progress = false
            default:
                if arg.hasPrefix("-") && arg.count > 1 { throw UsageError("unknown option \(arg)") }
                positional.append(arg)
            }
            i += 1
        }

        guard let modeName = positional.first else { throw UsageError("missing MODE (pingpong, pipeline, upgrades, hold or handshakes)") }
        guard let mode = BenchMode(rawValue: modeName) else {
            throw UsageError("unknown mode \"\(modeName)\" (expected pingpong, pipeline, upgrades, hold or handshakes)")
        }
        options.mode = mode
        guard positional.count >= 2 else {
            throw UsageError(mode == .handshakes ? "missing URL (https://HOST:PORT/PATH)" : "missing URL (ws://HOST:PORT/PATH)")
        }
        guard positional.count == 2 else { throw UsageError("unexpected argument \"\(positional[2])\"") }
        options.url = positional[1]
        switch mode {
        case .pipeline: if !pipelineGiven { options.inFlight = 16 }
        case .pingpong, .upgrades, .hold, .handshakes:
            if pipelineGiven && options.inFlight != 1 { throw UsageError("-p applies to pipeline mode only") }
            options.inFlight = 1
        }
        if options.resume && mode != .handshakes { throw UsageError("--resume applies to handshakes mode only") }
        if options.threads > options.connections { options.threads = options.connections }
        return .run(options)
    }

    /// "5", "0.5", "2s", "250ms".
    public static func parseSeconds(_ text: String) -> Double? {
        if text.hasSuffix("ms"), let v = Double(text.dropLast(2)) { return v / 1000 }
        if text.hasSuffix("s"), let v = Double(text.dropLast()) { return v }
        return Double(text)
    }
}
