import Testing
@testable import SwitchyardServer
import SwitchyardConfig
import SwitchyardHTTP2
import SwitchyardOS

@Suite("configuration number ranges")
struct ConfigLimitsTests {
    func settings(_ text: String) throws -> ServerSettings {
        let doc = try ConfigParser.parse(text: text, fileName: "n.conf", baseDirectory: "/tmp", environment: [:])
        return try ServerSettings(document: doc)
    }

    /// `key = value` on line 2 is refused with a ConfigError at that line whose message holds `message`.
    func expectRefused(_ key: String, _ value: String, _ message: String) throws {
        do {
            _ = try settings("server.tag = \"t\"\n\(key) = \"\(value)\"\n")
            Issue.record("\(key) = \(value) accepted")
        } catch let e as ConfigError {
            #expect(e.location.file == "n.conf" && e.location.line == 2, "\(e)")
            #expect(e.message.contains(message), "\(e)")
        }
    }

    /// Every ranged key at both bounds is accepted, one past either bound is a ConfigError at the
    /// key's line naming the range.
    @Test func everyServerKeyAtAndPastItsBounds() throws {
        for (key, range) in ConfigLimits.server.sorted(by: { $0.key < $1.key }) {
            for v in [range.lowerBound, range.upperBound] {
                _ = try settings("server.tag = \"t\"\n\(key) = \"\(v)\"\n")
            }
            for v in [range.lowerBound - 1, range.upperBound + 1] {
                try expectRefused(key, "\(v)", "allowed \(range.lowerBound)...\(range.upperBound)")
            }
        }
    }

    /// The `server.h2-*` keys reach the HTTP/2 session, which advertises them in its SETTINGS; the
    /// header list size follows `server.max-request-field-size`.
    @Test func http2KeysBecomeTheSessionsSettings() throws {
        let defaults = try settings("server.tag = \"t\"\n").http2Limits
        #expect(defaults.maxConcurrentStreams == 32 && defaults.initialStreamWindow == 65_535 && defaults.maxFrameSize == 16_384)
        #expect(defaults.maxHeaderListSize == 8192 + 32 * 256)
        let limits = try settings("""
            server.h2-max-concurrent-streams = 3
            server.h2-initial-window-size = 1048576
            server.h2-max-frame-size = 65536
            server.max-request-field-size = 16384

            """).http2Limits
        let session = HTTP2ServerSession(limits: limits)
        guard case .settings(false, let advertised)? = try HTTP2FrameDecoder().decode(session.output)?.frame.payload else {
            Issue.record("no SETTINGS first")
            return
        }
        for (id, value) in [(HTTP2Setting.maxConcurrentStreams, 3), (HTTP2Setting.initialWindowSize, 1 << 20),
                            (HTTP2Setting.maxFrameSize, 65_536), (HTTP2Setting.maxHeaderListSize, 16_384 + 32 * 256)] {
            #expect(advertised.contains(HTTP2Setting(id, UInt32(value))), "setting \(id)")
        }
    }

    /// `server.event-handler` takes lighttpd's "linux-sysepoll" (the default) or "io_uring"; any
    /// other value (lighttpd's "poll", "libev", a typo) is an error at its line, not a silent epoll.
    @Test func eventHandlerValues() throws {
        #expect(try settings("server.tag = \"t\"\n").eventHandler == .epoll)
        #expect(try settings("server.event-handler = \"io_uring\"\n").eventHandler == .ioUring)
        #expect(try settings("server.event-handler = \"linux-sysepoll\"\n").eventHandler == .epoll)
        for bad in ["poll", "io-uring", ""] {
            try expectRefused("server.event-handler", bad, "server.event-handler must be \"linux-sysepoll\" or \"io_uring\"")
        }
    }

    /// `server.stat-cache-engine`: lighttpd's default "simple", "disable" (and "none"); lighttpd's
    /// notification engines are taken as "simple"; anything else is an error at its line.
    @Test func statCacheEngineValues() throws {
        #expect(try settings("server.tag = \"t\"\n").statCacheEngine == .simple)
        for (value, engine) in [("simple", StatCacheEngine.simple), ("inotify", .simple), ("fam", .simple),
                                ("disable", .disable), ("none", .disable)] {
            #expect(try settings("server.stat-cache-engine = \"\(value)\"\n").statCacheEngine == engine, "\(value)")
        }
        for bad in ["Simple", "off", ""] {
            try expectRefused("server.stat-cache-engine", bad, "server.stat-cache-engine must be \"simple\", \"disable\"")
        }
    }

    @Test func hostPortOutOfRange() throws {
        let doc = try ConfigParser.parse(text: "fastcgi.server = ( \"/x/\" => (( \"host\" => \"127.0.0.1\", \"port\" => 99999 )) )\n",
                                         fileName: "h.conf", baseDirectory: "/tmp", environment: [:])
        #expect(throws: ConfigError.self) {
            _ = try GatewayRouteTable.parse(doc.global["fastcgi.server"]!, key: "fastcgi.server", wireProtocol: .fastcgi,
                                            balance: .fair, debug: 0, mapExtensions: [])
        }
    }

    @Test func secondsSaturate() {
        #expect(Seconds.nanoseconds(-1) == 0)
        #expect(Seconds.nanoseconds(2) == 2_000_000_000)
        #expect(Seconds.nanoseconds(Int.max) == UInt64.max)
        #expect(Seconds.deadline(UInt64.max - 5, plus: 1) == UInt64.max)
    }
}
