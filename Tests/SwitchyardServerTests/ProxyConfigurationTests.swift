import Foundation
import Testing
@testable import SwitchyardServer
import SwitchyardConfig
import SwitchyardGatewayCodecs
import SwitchyardWebSocket

/// The seed configs, found from this file's path (`<repo>/../shared/seeds/lighttpd/`). On CI
/// (`CI=true`) a missing seed directory is a failure, not a skip.
enum ServerSeeds {
    static let directory: String = {
        let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent().resolvingSymlinksInPath()
        return tests.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("../shared/seeds/lighttpd").standardizedFileURL.path
    }()
    static var available: Bool { FileManager.default.fileExists(atPath: directory) }
    static var shouldRun: Bool { available || ProcessInfo.processInfo.environment["CI"] == "true" }

    /// Loads a seed exactly as `switchyard -t -f <seed>` does.
    static func load(_ name: String) throws -> (Server, [ConfigDiagnostic])? {
        guard available else {
            Issue.record("seed directory \(directory) is missing (CI=true)")
            return nil
        }
        return try Server.load(configPath: directory + "/" + name)
    }
}

func resolve(_ text: String, matching: [Int] = []) throws -> RequestSettings {
    let doc = try ConfigParser.parse(text: text, fileName: "t.conf", baseDirectory: "/tmp", environment: [:])
    let resolver = SettingsResolver(document: doc, server: try ServerSettings(document: doc))
    _ = try resolver.validateAll()
    return try resolver.resolve(matching: matching)
}

/// The error text a config produces, or nil if it is accepted.
func configError(_ text: String) -> String? {
    do { _ = try resolve(text); return nil } catch { return "\(error)" }
}

@Suite(.enabled(if: ServerSeeds.shouldRun, "seed configs not found (set CI=true to make this a failure)"))
struct ProxySeedConfigTests {
    @Test func proxySeed() throws {
        guard let (server, warnings) = try ServerSeeds.load("proxy.conf") else { return }
        let proxy = try #require(server.globalSettings.proxy)
        #expect(proxy.routes.map(\.match) == ["/"])
        let host = try #require(proxy.routes.first?.hosts.first)
        #expect(host.host == "127.0.0.1" && host.port == 8081)
        #expect(proxy.header.upgrade && !proxy.header.connectMethod && proxy.header.forwarded.isEmpty)
        #expect(proxy.balance == .fair && proxy.route(forPath: "/ws/x")?.match == "/")
        #expect(proxy.location.file.hasSuffix("proxy.conf") && proxy.location.line == 5)
        // mod_proxy is served now: no "not served yet" (nor "not available") warning for it.
        #expect(!warnings.contains { $0.message.contains("mod_proxy") })
        let table = try #require(server.globalSettings.proxyTable)
        #expect(table.wireProtocol == .proxy && table.proxyHeader?.upgrade == true)
        #expect(table.routes.first?.hosts.first.map { !$0.checkLocal && $0.upgrade } == true)
        #expect(server.globalSettings.wstunnel == nil)
    }

    /// Served now, so start-up checks its bin-path: the seed's `/tmp/echo.pl` is pointed at the
    /// seed `echo.pl` itself (the only change), as the e2e test does.
    @Test func wstunnelSeed() throws {
        let path = ServerSeeds.directory + "/wstunnel.conf"
        guard ServerSeeds.available else { Issue.record("seed directory \(ServerSeeds.directory) is missing (CI=true)"); return }
        let echo = ServerSeeds.directory + "/../echo.pl"
        let text = try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(of: "\"/tmp/echo.pl\"", with: "\"\(echo)\"")
        let tunnel = try #require(try resolve(text).wstunnel)
        let host = try #require(tunnel.routes.first?.hosts.first)
        #expect(tunnel.routes.map(\.match) == ["/ws/"])
        #expect(host.socket == "/tmp/echo.sock" && host.binPath == echo && host.maxProcs == 1)
        #expect(tunnel.frameType == .text && tunnel.origins.isEmpty && tunnel.pingInterval == 0)
        #expect(tunnel.route(forPath: "/ws/echo") != nil && tunnel.route(forPath: "/other") == nil)
    }

    @Test func novncSeedInsideAConditional() throws {
        guard let (server, _) = try ServerSeeds.load("novnc-wstunnel.conf") else { return }
        #expect(server.globalSettings.wstunnel == nil)
        let scoped = try server.config.resolver.resolve(matching: [0])
        let tunnel = try #require(scoped.wstunnel)
        #expect(tunnel.frameType == .binary)
        #expect(tunnel.routes.map(\.match) == [""])
        #expect(tunnel.routes.first?.hosts.first?.port == 5900)
        #expect(tunnel.route(forPath: "/websockify") != nil)
    }
}

@Suite struct ProxyConfigurationTests {
    @Test func everyProxyKeyIsTyped() throws {
        let s = try resolve("""
        server.modules = ( "mod_proxy" )
        proxy.server = ( "/app/" => ( ( "host" => "10.0.0.1", "port" => 8000 ), ( "host" => "10.0.0.2", "port" => 8000 ) ),
                         ".php" => ( ( "socket" => "/run/php.sock" ) ) )
        proxy.balance = "round-robin"
        proxy.debug = 2
        proxy.replace-http-host = "enable"
        proxy.forwarded = ( "for" => 1, "proto" => "enable", "host" => 0, "by" => 1, "remote_user" => 1 )
        proxy.map-extensions = ( ".php5" => ".php" )
        proxy.header = ( "upgrade" => "enable", "connect" => "enable", "https-remap" => "enable",
                         "map-host-request" => ( "-" => "backend.internal" ), "map-host-response" => ( "-" => "-" ),
                         "map-urlpath" => ( "/app/" => "/", "/app/static/" => "/assets/" ) )
        """)
        let p = try #require(s.proxy)
        #expect(p.routes.count == 2 && p.routes[0].hosts.count == 2 && p.routes[1].hosts[0].socket == "/run/php.sock")
        #expect(p.balance == .roundRobin && p.debug == 2)
        #expect(p.route(forPath: "/x/index.php5")?.match == ".php")
        let expected = ProxyHeaderOptions(upgrade: true, connectMethod: true, mapHostRequest: [("-", "backend.internal")],
                                          mapHostResponse: [("-", "-")], mapURLPath: [("/app/", "/"), ("/app/static/", "/assets/")],
                                          httpsRemap: true, forwarded: [.for, .proto, .by, .remoteUser], replaceHTTPHost: true)
        #expect(p.header == expected)
    }

    /// lighttpd's key is "connect"; "connect-method" (an earlier Switchyard spelling) still works.
    @Test(arguments: ["connect", "connect-method"])
    func connectOption(_ key: String) throws {
        let s = try resolve("""
        server.modules = ( "mod_proxy" )
        proxy.server = ( "" => ( ( "host" => "127.0.0.1", "port" => 22 ) ) )
        proxy.header = ( "\(key)" => "enable" )
        """)
        #expect(try #require(s.proxy).header.connectMethod)
    }

    @Test func wstunnelKeys() throws {
        let s = try resolve("""
        server.modules = ( "mod_wstunnel" )
        wstunnel.server = ( "/ws/" => ( ( "host" => "127.0.0.1", "port" => 9000 ) ) )
        wstunnel.frame-type = "binary"
        wstunnel.origins = ( "example.org", "https://app.test" )
        wstunnel.ping-interval = 30
        wstunnel.balance = "sticky"
        wstunnel.debug = "enable"
        """)
        let t = try #require(s.wstunnel)
        #expect(t.frameType == .binary && t.origins == ["example.org", "https://app.test"] && t.pingInterval == 30)
        #expect(t.balance == .sticky && t.debug == 1)
        #expect(t.maxMessageSize == WStunnelSettings.defaultMaxMessageSize)
        #expect(t.table.wireProtocol == .wstunnel && t.table.route(forPath: "/ws/x")?.route.hosts.first?.port == 9000)
    }

    @Test func wstunnelPermessageDeflate() throws {
        let base = "server.modules = ( \"mod_wstunnel\" )\nwstunnel.server = ( \"/\" => ( ( \"host\" => \"a\", \"port\" => 1 ) ) )\n"
        #expect(try resolve(base).wstunnel?.deflate == nil)
        #expect(try resolve(base + "wstunnel.permessage-deflate = \"disable\"").wstunnel?.deflate == nil)
        let on = try #require(try resolve(base + "wstunnel.permessage-deflate = \"enable\"").wstunnel?.deflate)
        #expect(on.serverMaxWindowBits == 12 && on.memoryLevel == 5 && !on.serverNoContextTakeover)
        let tuned = try #require(try resolve(base + """
        wstunnel.permessage-deflate = ( "server-max-window-bits" => 10, "client-max-window-bits" => 9,
                                        "server-no-context-takeover" => "enable", "mem-level" => 3, "level" => 1 )
        """).wstunnel?.deflate)
        #expect(tuned == PerMessageDeflateConfig(serverMaxWindowBits: 10, clientMaxWindowBits: 9, serverNoContextTakeover: true,
                                                 memoryLevel: 3, compressionLevel: 1))
        #expect(configError(base + "wstunnel.permessage-deflate = ( \"window\" => 9 )")?.contains("unknown option") == true)
        #expect(configError(base + "wstunnel.permessage-deflate = ( \"server-max-window-bits\" => 8 )") != nil)
    }

    /// The tunnel's table is handed to the supervisor with the SCGI/FastCGI ones (bin-path spawning).
    @Test func wstunnelTableIsSupervisedAndMaxMessageSizeIsKiB() throws {
        let doc = try ConfigParser.parse(text: """
        server.modules = ( "mod_wstunnel" )
        wstunnel.server = ( "/ws/" => ( ( "socket" => "/tmp/x.sock", "bin-path" => "/bin/true" ) ) )
        wstunnel.max-message-size = 64
        """, fileName: "t.conf", baseDirectory: "/tmp", environment: [:])
        let resolver = SettingsResolver(document: doc, server: try ServerSettings(document: doc))
        let tables = try resolver.validateAll()
        #expect(tables.contains { $0.wireProtocol == .wstunnel && $0.routes.first?.hosts.first?.binPath == "/bin/true" })
        #expect(try resolver.resolve(matching: []).wstunnel?.maxMessageSize == 64 * 1024)
        #expect(configError("server.modules = ( \"mod_wstunnel\" )\nwstunnel.server = ( \"/\" => ( ( \"host\" => \"a\", \"port\" => 1 ) ) )\nwstunnel.max-message-size = 0")?
                    .contains("wstunnel.max-message-size") == true)
    }

    @Test func withoutTheModuleNothingIsParsed() throws {
        let s = try resolve(#"proxy.server = ( "/" => ( ( "host" => "127.0.0.1", "port" => 1 ) ) )"#)
        #expect(s.proxy == nil)
    }

    @Test(arguments: [
        (#"proxy.server = ( "/" => "x" )"#, "must be a non-empty array"),
        (#"proxy.server = ( "/" => ( ( "host" => "127.0.0.1" ) ) )"#, "needs \"socket\" or \"host\" + \"port\""),
        (#"proxy.server = ( "/" => ( ( "host" => "a", "port" => 70000 ) ) )"#, "port"),
        (#"proxy.header = ( "upgrade" => "maybe" )"#, "proxy.header \"upgrade\" must be \"enable\" or \"disable\""),
        (#"proxy.header = ( "connect" => "yes please" )"#, "proxy.header \"connect\" must be \"enable\" or \"disable\""),
        (#"proxy.header = ( "map-urlpath" => ( "app" => "/" ) )"#, "is not a URL path"),
        (#"proxy.header = ( "map-host-request" => "x" )"#, "map-host-request\" must be an array"),
        (#"proxy.header = ( "rewrite" => "enable" )"#, "unknown option \"rewrite\""),
        (#"proxy.header = ( "upgrade" => 1, "upgrade" => 0 )"#, "duplicate array key"),
        (#"proxy.forwarded = ( "for" => 1, "client" => 1 )"#, "unknown parameter \"client\""),
        (#"proxy.forwarded = ( "for" => "perhaps" )"#, "must be enable/disable"),
        (#"proxy.replace-http-host = "sometimes""#, "proxy.replace-http-host must be"),
        (#"proxy.balance = "random""#, "balance must be one of"),
        (#"proxy.debug = 70000"#, "proxy.debug"),
    ])
    func proxyErrorsCarryFileAndLine(_ line: String, _ message: String) throws {
        let text = "server.modules = ( \"mod_proxy\" )\n" + (line.hasPrefix("proxy.server") ? "" : #"proxy.server = ( "/" => ( ( "host" => "127.0.0.1", "port" => 1 ) ) )"# + "\n") + line + "\n"
        let error = try #require(configError(text), "accepted: \(line)")
        #expect(error.contains(message), "\(error)")
        #expect(error.contains("t.conf:"), "\(error)")
    }

    @Test(arguments: [
        (#"wstunnel.frame-type = "utf8""#, "wstunnel.frame-type must be"),
        (#"wstunnel.origins = ( "" )"#, "wstunnel.origins must be"),
        (#"wstunnel.ping-interval = 100000"#, "wstunnel.ping-interval"),
        (#"wstunnel.ping-interval = "often""#, "must be an integer"),
        (#"wstunnel.map-extensions = ( ".a" => ( "x" ) )"#, "wstunnel.map-extensions entries"),
    ])
    func wstunnelErrorsCarryFileAndLine(_ line: String, _ message: String) throws {
        let text = "server.modules = ( \"mod_wstunnel\" )\n" + #"wstunnel.server = ( "/ws/" => ( ( "socket" => "/tmp/x.sock" ) ) )"# + "\n" + line + "\n"
        let error = try #require(configError(text), "accepted: \(line)")
        #expect(error.contains(message) && error.contains("t.conf:3"), "\(error)")
    }
}

@Suite struct BackendRequestProxyTests {
    @Test func bodyFramingFollowsWhatTheClientSent() throws {
        let get = BackendRequest(info: CGIRequestInfo(method: "GET", headers: [("Host", "h")]), bodyLength: 0)
        #expect(get.proxyBodyFraming == ProxyBodyFraming.none)
        let empty = BackendRequest(info: CGIRequestInfo(method: "POST", headers: [("Host", "h"), ("content-length", "0")]), bodyLength: 0)
        #expect(empty.proxyBodyFraming == .length(0))
        let chunked = BackendRequest(info: CGIRequestInfo(method: "POST", headers: [("Host", "h"), ("Transfer-Encoding", "chunked")]), bodyLength: nil)
        #expect(chunked.proxyBodyFraming == .chunked)
        let head = try chunked.proxyRequestHead(backendAuthority: "127.0.0.1:8081", options: .init())
        let text = String(decoding: head.bytes, as: UTF8.self)
        #expect(text.hasPrefix("POST / HTTP/1.1\r\nHost: h\r\n") && text.contains("\r\nTransfer-Encoding: chunked\r\n") && head.chunkedBody)
    }
}
