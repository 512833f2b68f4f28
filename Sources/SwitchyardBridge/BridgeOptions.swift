import SwitchyardOS

/// Which wire protocol a bridge speaks towards the front end. Only the connection class and a few
/// words in messages differ; listening, spawning and relaying are shared.
public enum BridgeProtocol: Sendable {
    case scgi
    case fastCGI

    /// The executable name, used as the log prefix and in `--help` (lighttpd's companion tools).
    public var programName: String {
        switch self {
        case .scgi: return "scgi-cgi"
        case .fastCGI: return "fcgi-cgi"
        }
    }
}

/// Where the bridge gets its listening socket from.
/// Where the listening socket comes from (shared with the echo app).
public typealias BridgeListenSource = ListenSource

/// The parsed command line. Kept apart from the runtime so it can be unit-tested and so the
/// runtime only ever sees validated values.
public struct BridgeOptions: Equatable, Sendable {
    public var listen: BridgeListenSource = .inheritedStdin
    /// Concurrent CGI processes; beyond it SCGI answers 503 and FastCGI FCGI_OVERLOADED.
    public var maxChildren: Int = 256

    public init() {}

    /// What the command line asks for.
    public enum Action: Equatable, Sendable {
        case run(BridgeOptions)
        case help
        case version
    }

    public struct UsageError: Error, CustomStringConvertible, Sendable {
        public var description: String
        init(_ d: String) { description = d }
    }

    /// Parses arguments (without argv[0]). Accepts `--opt value` and `--opt=value`.
    public static func parse(_ arguments: [String]) throws -> Action {
        var options = BridgeOptions()
        var i = 0
        func value(_ name: String, inline: String?) throws -> String {
            if let inline { return inline }
            i += 1
            guard i < arguments.count else { throw UsageError("option \(name) needs a value") }
            return arguments[i]
        }
        while i < arguments.count {
            var arg = arguments[i]
            var inline: String? = nil
            if arg.hasPrefix("--"), let eq = arg.firstIndex(of: "=") {
                inline = String(arg[arg.index(after: eq)...])
                arg = String(arg[..<eq])
            }
            switch arg {
            case "-h", "--help":
                return .help
            case "-v", "--version":
                return .version
            case "-c", "--max-children":
                let text = try value(arg, inline: inline)
                guard let n = Int(text), n > 0 else { throw UsageError("\(arg): not a positive number: \(text)") }
                options.maxChildren = n
            case "-l", "--listen":
                let text = try value(arg, inline: inline)
                guard let colon = text.lastIndex(of: ":"), Int(text[text.index(after: colon)...]) != nil else {
                    throw UsageError("\(arg): expected HOST:PORT or :PORT, got \(text)")
                }
                options.listen = .tcp(text)
            case "-s", "--socket":
                let text = try value(arg, inline: inline)
                guard !text.isEmpty else { throw UsageError("\(arg): empty path") }
                options.listen = .unix(text)
            default:
                throw UsageError("unknown argument: \(arguments[i])")
            }
            i += 1
        }
        return .run(options)
    }

    public static func usage(for proto: BridgeProtocol) -> String {
        let name = proto.programName
        let wire = proto == .scgi ? "SCGI" : "FastCGI"
        return """
        Usage: \(name) [options]
        Runs the CGI program named by SCRIPT_FILENAME for every \(wire) request, one process per
        request, and relays its stdin/stdout. Carries upgraded (WebSocket) requests: after the
        declared body every further byte from the front end goes to the CGI, unmodified.

        By default the listening socket is fd 0, as lighttpd's "bin-path" and spawn-fcgi pass it.
          --socket PATH, -s PATH        listen on a unix socket (a stale file is removed)
          --listen HOST:PORT, -l ...    listen on TCP (":PORT" = all addresses)
          --max-children N, -c N        concurrent CGI processes (default 256)
          -h, --help                    this text
          -v, --version                 print the version
        SIGTERM/SIGINT: stop accepting, TERM the CGIs (KILL after 5 s), exit 0.
        """
    }
}

/// The bridges' version (kept here: the bridge target does not depend on the server target).
public enum BridgeVersion {
    public static let string = "0.1.0"
}
