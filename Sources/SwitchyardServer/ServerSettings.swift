import Glibc
import SwitchyardConfig
import SwitchyardHTTP
import SwitchyardHTTP2
import SwitchyardOS

/// Server-wide settings, read once from the global scope of the configuration. Everything a request
/// may override through a conditional lives in `RequestSettings` instead.
public struct ServerSettings: Sendable {
    public var bind = "127.0.0.1"
    public var port = 8080
    public var extraSockets: [String] = []          // $SERVER["socket"] blocks
    public var modules: [String] = []
    public var errorLogPath: String? = nil
    public var accessLogPath: String? = nil
    public var tag = "switchyard/\(SwitchyardVersion.string)"
    public var maxReadIdle = 60
    public var maxWriteIdle = 360
    public var maxKeepAliveIdle = 5
    public var maxKeepAliveRequests = 1000
    public var maxConnections = 0                   // 0 = limited only by RLIMIT_NOFILE
    public var maxRequestFieldSize = 8192
    public var pidFile: String? = nil
    public var username: String? = nil
    public var groupname: String? = nil
    public var eventLoops = 0                        // 0 = one per usable CPU (affinity mask)
    /// The event loops' readiness source (lighttpd's `server.event-handler`): "linux-sysepoll"
    /// (epoll, the default: io_uring did not win by 10 %, see README "Event handler") or "io_uring".
    public var eventHandler = EventHandlerKind.epoll
    public var gracefulShutdownTimeout = 8
    /// lighttpd's `server.stat-cache-engine`: how long a static file's stat(2) is trusted.
    public var statCacheEngine = StatCacheEngine.simple
    /// Use listening sockets passed by systemd (`LISTEN_FDS`). On by default: the variables only
    /// count when `LISTEN_PID` names this very process, which only a deliberate activation does.
    public var socketActivation = true
    public var upgradeRelay = "splice"               // "splice" or "copy" for transparent upgraded streams
    public var listenBacklog: Int32 = 1024
    /// HTTP/2 over TLS, chosen by ALPN `h2` (lighttpd's `server.h2proto`, enabled by default as in 1.4.x).
    public var h2proto = true
    /// HTTP/2 over plain TCP with prior knowledge: a connection that opens with the client preface
    /// (lighttpd's `server.h2c`, enabled by default; only with `h2proto`, as in lighttpd).
    public var h2c = true
    /// Where request bodies that must be collected before they are sent on go once they outgrow
    /// memory (SCGI/uwsgi with a body of unknown length, `RequestBodySpool`); the first directory
    /// that takes a temporary file is used (lighttpd's `server.upload-dirs`, default `/var/tmp`).
    public var uploadDirs = ["/var/tmp"]
    /// HTTP/2 bounds (`server.h2-*` keys; lighttpd has no keys for them). The header list size
    /// follows `server.max-request-field-size` (see `ServerSettings.http2Limits`).
    public var h2MaxConcurrentStreams = ServerSettings.defaultH2MaxConcurrentStreams
    public var h2InitialWindowSize = 65_535
    public var h2MaxFrameSize = 16_384

    /// Streams one HTTP/2 connection may have open at once. Each can hold a file descriptor (a
    /// file being sent) or run a CGI, so this multiplies what one client connection costs: 100
    /// (nginx/Apache) is a lot for a gateway that spawns programs; lighttpd allows 8. 32 keeps a
    /// page with its WebSockets (the demo opens 7 beside the page) and its assets on one connection.
    public static let defaultH2MaxConcurrentStreams = 32

    public init() {}

    init(document: ConfigDocument) throws {
        func entry(_ key: String) -> ConfigEntry? { document.global[key] }
        // Every numeric key has a range (ConfigLimits): -t rejects what would trap later.
        func int(_ key: String) throws -> Int? {
            guard let e = entry(key) else { return nil }
            guard let range = ConfigLimits.server[key] else { preconditionFailure("no range for \(key)") }
            return try ConfigLimits.int(e, key: key, range: range)
        }
        func string(_ key: String) throws -> String? {
            guard let e = entry(key) else { return nil }
            if let s = e.value.stringValue { return s }
            if let i = e.value.intValue { return String(i) }
            throw ConfigError(location: e.location, message: "\(key) must be a string")
        }
        if let v = try string("server.bind") { bind = v }
        if let v = try int("server.port") { port = v }
        if let e = entry("server.modules") { modules = e.value.stringList ?? [] }
        if let v = try string("server.errorlog"), !v.isEmpty { errorLogPath = v }
        if let v = try string("accesslog.filename"), !v.isEmpty { accessLogPath = v }
        if let v = try string("server.tag") { tag = v }
        if let v = try int("server.max-read-idle") { maxReadIdle = v }
        if let v = try int("server.max-write-idle") { maxWriteIdle = v }
        if let v = try int("server.max-keep-alive-idle") { maxKeepAliveIdle = v }
        if let v = try int("server.max-keep-alive-requests") { maxKeepAliveRequests = v }
        if let v = try int("server.max-connections") { maxConnections = v }
        if let v = try int("server.max-request-field-size") { maxRequestFieldSize = v }
        if let v = try string("server.pid-file"), !v.isEmpty { pidFile = v }
        if let v = try string("server.username"), !v.isEmpty { username = v }
        if let v = try string("server.groupname"), !v.isEmpty { groupname = v }
        if let v = try int("server.event-loops") { eventLoops = v }
        if let v = try string("server.event-handler") {
            guard let kind = EventHandlerKind(rawValue: v) else {
                throw ConfigError(location: entry("server.event-handler")!.location,
                                  message: "server.event-handler must be \"linux-sysepoll\" or \"io_uring\" (got \"\(v)\")")
            }
            eventHandler = kind
        }
        if let v = try int("server.graceful-shutdown-timeout") { gracefulShutdownTimeout = v }
        if let v = try string("server.stat-cache-engine") {
            guard let engine = StatCacheEngine(configValue: v) else {
                throw ConfigError(location: entry("server.stat-cache-engine")!.location,
                                  message: "server.stat-cache-engine must be \"simple\", \"disable\" (or lighttpd's \"inotify\"/\"fam\", taken as \"simple\") (got \"\(v)\")")
            }
            statCacheEngine = engine
        }
        if let v = try string("server.upgrade-relay") {
            guard v == "splice" || v == "copy" else {
                throw ConfigError(location: entry("server.upgrade-relay")!.location, message: "server.upgrade-relay must be \"splice\" or \"copy\"")
            }
            upgradeRelay = v
        }
        if let v = try int("server.listen-backlog") { listenBacklog = Int32(v) }
        if let e = entry("server.h2proto") { h2proto = try GatewayRoutes.bool(e, "server.h2proto") }
        if let e = entry("server.h2c") { h2c = try GatewayRoutes.bool(e, "server.h2c") }
        if let e = entry("server.upload-dirs") {
            guard let dirs = e.value.stringList, !dirs.isEmpty, !dirs.contains(where: { !$0.hasPrefix("/") }) else {
                throw ConfigError(location: e.location, message: "server.upload-dirs must be a list of absolute directory paths")
            }
            uploadDirs = dirs
        }
        if let v = try int("server.h2-max-concurrent-streams") { h2MaxConcurrentStreams = v }
        if let v = try int("server.h2-initial-window-size") { h2InitialWindowSize = v }
        if let v = try int("server.h2-max-frame-size") { h2MaxFrameSize = v }
        if let v = try string("server.systemd-socket-activation") {
            guard v == "enable" || v == "disable" else {
                throw ConfigError(location: entry("server.systemd-socket-activation")!.location,
                                  message: "server.systemd-socket-activation must be \"enable\" or \"disable\"")
            }
            socketActivation = v == "enable"
        }
        for i in document.serverSocketContexts {
            let condition = document.contexts[i].condition
            try Self.checkSocketPort(condition.pattern, at: condition.location)
            extraSockets.append(condition.pattern)
        }
    }
}

/// How long a static file's stat(2) is trusted (`server.stat-cache-engine`, lighttpd's key).
public enum StatCacheEngine: Sendable, Equatable {
    /// lighttpd's default: a path stat'ed in the current second of the worker's clock is not stat'ed
    /// again within that second, so a hot cached file costs no system call but the send; a change to
    /// the file shows from the next second on (as with lighttpd's "simple" engine).
    case simple
    /// One stat(2) per request: a change shows on the very next request (`StaticFileCache`).
    case disable

    init?(configValue: String) {
        switch configValue {
        case "simple", "inotify", "fam": self = .simple   // no change notification here: a second, as "simple"
        case "disable", "none": self = .disable
        default: return nil
        }
    }
}

extension ServerSettings {
    /// The limits every HTTP/2 session of this configuration enforces (and advertises in its SETTINGS).
    /// SETTINGS_MAX_HEADER_LIST_SIZE is not a key of its own: a request head must fit
    /// `server.max-request-field-size` as HTTP/1.1 text anyway (HTTP/2 requests are mapped to it),
    /// and HPACK counts 32 bytes per field where that text counts 4, so the list may be larger by
    /// 32 bytes for each field the HTTP/1.1 parser allows; anything bigger could never pass.
    public var http2Limits: HTTP2Limits {
        var limits = HTTP2Limits()
        limits.maxConcurrentStreams = h2MaxConcurrentStreams
        limits.initialStreamWindow = h2InitialWindowSize
        limits.maxFrameSize = h2MaxFrameSize
        limits.maxHeaderListSize = maxRequestFieldSize + 32 * HTTPParserLimits().maxHeaderCount
        return limits
    }

    /// `$SERVER["socket"] == "host:port"`: the port must fit 16 bits (else the listener could
    /// not be created; checked here so -t reports it at the block's location).
    static func checkSocketPort(_ text: String, at location: ConfigSourceLocation) throws {
        guard !text.hasPrefix("/") else { return }
        let afterBracket = text.lastIndex(of: "]").map { text[text.index(after: $0)...] } ?? text[...]
        guard let colon = afterBracket.lastIndex(of: ":") else { return }
        let digits = afterBracket[afterBracket.index(after: colon)...]
        guard let port = Int(digits) else {
            throw ConfigError(location: location, message: "$SERVER[\"socket\"] \"\(text)\": the port is not a number")
        }
        _ = try ConfigLimits.check(port, key: "$SERVER[\"socket\"] port", range: 0...65_535, at: location)
    }
}

public enum SwitchyardVersion {
    public static let string = "0.1.0"
}
