import SwitchyardOS
/// The parsed command line; the runtime only ever sees validated values.
struct EchoAppOptions: Equatable, Sendable {
    var proto: EchoProtocol
    var listen: ListenSource = .inheritedStdin

    enum Action: Equatable, Sendable {
        case run(EchoAppOptions)
        case help
    }

    struct UsageError: Error, CustomStringConvertible, Sendable {
        var description: String
        init(_ d: String) { description = d }
    }

    /// Parses arguments (without argv[0]); accepts `--opt value` and `--opt=value`.
    static func parse(_ arguments: [String]) throws -> Action {
        var proto: EchoProtocol?
        var listen = ListenSource.inheritedStdin
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
            case "-p", "--protocol":
                let text = try value(arg, inline: inline)
                guard let p = EchoProtocol(rawValue: text.lowercased()) else {
                    throw UsageError("\(arg): expected scgi, fastcgi, http or raw, got \(text)")
                }
                proto = p
            case "-l", "--listen":
                let text = try value(arg, inline: inline)
                guard let colon = text.lastIndex(of: ":"), Int(text[text.index(after: colon)...]) != nil else {
                    throw UsageError("\(arg): expected HOST:PORT or :PORT, got \(text)")
                }
                listen = .tcp(text)
            case "-s", "--socket":
                let text = try value(arg, inline: inline)
                guard !text.isEmpty else { throw UsageError("\(arg): empty path") }
                listen = .unix(text)
            default:
                throw UsageError("unknown argument: \(arguments[i])")
            }
            i += 1
        }
        guard let proto else { throw UsageError("--protocol scgi|fastcgi|http|raw is required") }
        return .run(EchoAppOptions(proto: proto, listen: listen))
    }

    static let usage = """
    Usage: switchyard-echo-app --protocol scgi|fastcgi|http|raw [--socket PATH | --listen HOST:PORT]
    A long-running WebSocket echo application behind an SCGI or FastCGI gateway, a reverse proxy
    (http) or a WebSocket tunnel (raw): one process and one event loop serve every connection. A request with 'Upgrade: websocket' and a
    Sec-WebSocket-Key is answered 101 and then echoed (RFC 6455: client frames unmasked and sent
    back unmasked with the same FIN/opcode, PING -> PONG, CLOSE -> CLOSE with the same code).
    Any other request gets 200 text/plain "echo-app ok METHOD URI" followed by its body.

    By default the listening socket is fd 0, as the gateway's "bin-path" and spawn-fcgi pass it.
      --protocol P, -p P            scgi, fastcgi, http (HTTP/1.1 itself: 101 then echo, keep-alive
                                    for plain requests) or raw (every byte echoed back) (required)
      --socket PATH, -s PATH        listen on a unix socket (a stale file is removed)
      --listen HOST:PORT, -l ...    listen on TCP (":PORT" = all addresses)
      -h, --help                    this text
    FastCGI: FCGI_MPXS_CONNS=1 (many requests per connection), FCGI_KEEP_CONN, FCGI_ABORT_REQUEST.
    SIGTERM/SIGINT: exit 0.
    """
}
