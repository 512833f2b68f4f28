import Testing
@testable import SwitchyardServer
import SwitchyardConfig

/// mod_status' texts from a hand-made snapshot: no sockets, exact output.
@Suite("status pages and metrics text")
struct StatusTextTests {
    func snapshot() -> StatusSnapshot {
        var w1 = WorkerSnapshot()
        w1.requests = 7
        w1.acceptedConnections = 3
        w1.bytesSent = 4000
        w1.phases = ["k", "U", "h"]
        w1.routes[0] = RouteCounts(requests: 5, responses5xx: 1, upgrades: 2, openUpgraded: 1, bytesFromClients: 100, bytesToClients: 90)
        w1.hosts = [BackendHostCounts(module: "fastcgi", route: "/ws/", host: "/tmp/a.sock", active: 1, disabledForSeconds: 0)]
        var w2 = WorkerSnapshot()
        w2.requests = 2
        w2.bytesSent = 1000
        w2.phases = ["U", "r"]
        w2.routes[0] = RouteCounts(requests: 1, responses5xx: 0, upgrades: 1, openUpgraded: 1, bytesFromClients: 10, bytesToClients: 9)
        w2.routes[1] = RouteCounts(requests: 4)
        w2.hosts = [BackendHostCounts(module: "fastcgi", route: "/ws/", host: "/tmp/a.sock", active: 2, disabledForSeconds: 1.5)]
        let names = [RouteName(module: "fastcgi", match: "/ws/"), RouteName(module: "cgi", match: "a\"b\\c\nd")]
        var s = StatusSnapshot(workers: [w1, w2], names: { $0 < names.count ? names[$0] : nil })
        s.uptimeSeconds = 42
        s.now = 1_796_430_000   // 2026-12-05 00:20:00 UTC
        s.processes = [BackendProcessInfo(host: "/tmp/a.sock", program: "/bin/app", slot: 0, pid: 123, restarts: 2, state: "running")]
        return s
    }

    @Test func workersAddUp() {
        let s = snapshot()
        #expect(s.requests == 9 && s.acceptedConnections == 3 && s.eventLoops == 2)
        #expect(s.scoreboard == "kUhUr")
        #expect(s.routes.map(\.name.module) == ["cgi", "fastcgi"])   // sorted by module, then match
        #expect(s.routes[1].counts == RouteCounts(requests: 6, responses5xx: 1, upgrades: 3, openUpgraded: 2,
                                                   bytesFromClients: 110, bytesToClients: 99))
        #expect(s.hosts.count == 1 && s.hosts[0].active == 3 && s.hosts[0].disabledForSeconds == 1.5)
    }

    @Test func autoFormatIsLighttpds() {
        #expect(StatusText.auto(snapshot()) == """
            Total Accesses: 9
            Total kBytes: 4
            Uptime: 42
            BusyServers: 4
            IdleServers: 1
            Scoreboard: kUhUr
            UpgradedStreams: 2

            """)
    }

    @Test func labelValuesAreEscaped() {
        #expect(StatusText.escapeLabel("a\"b\\c\nd") == "a\\\"b\\\\c\\nd")
        #expect(StatusText.escapeLabel("plain /ws/ ☃") == "plain /ws/ ☃")
        #expect(StatusText.labelSet([("route", "x\"y"), ("host", "h")]) == "{route=\"x\\\"y\",host=\"h\"}")
        #expect(StatusText.labelSet([]) == "")
    }

    @Test func prometheusExposition() {
        let text = StatusText.prometheus(snapshot())
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.contains("# HELP switchyard_route_websockets_open Upgraded streams (WebSockets) of the route open now."))
        #expect(lines.contains("# TYPE switchyard_route_websockets_open gauge"))
        #expect(lines.contains("# TYPE switchyard_route_upgrades_total counter"))
        #expect(lines.contains("switchyard_route_websockets_open{module=\"fastcgi\",route=\"/ws/\"} 2"))
        #expect(lines.contains("switchyard_route_upgraded_received_bytes_total{module=\"fastcgi\",route=\"/ws/\"} 110"))
        #expect(lines.contains("switchyard_route_upgraded_sent_bytes_total{module=\"fastcgi\",route=\"/ws/\"} 99"))
        #expect(lines.contains("switchyard_route_requests_total{module=\"cgi\",route=\"a\\\"b\\\\c\\nd\"} 4"))
        #expect(lines.contains("switchyard_connections{state=\"upgraded\"} 2"))
        #expect(lines.contains("switchyard_connections{state=\"keep-alive\"} 1"))
        #expect(lines.contains("switchyard_backend_disabled_seconds{module=\"fastcgi\",route=\"/ws/\",host=\"/tmp/a.sock\"} 1.5"))
        #expect(lines.contains("switchyard_backend_process_up{host=\"/tmp/a.sock\",program=\"/bin/app\",slot=\"0\"} 1"))
        #expect(lines.contains("switchyard_backend_process_restarts_total{host=\"/tmp/a.sock\",program=\"/bin/app\",slot=\"0\"} 2"))
        // Every sample line names a metric whose TYPE came before it, and every TYPE appears once.
        var typed = Set<String>()
        for line in lines {
            if line.hasPrefix("# TYPE ") {
                let name = String(line.split(separator: " ")[2])
                #expect(!typed.contains(name))
                typed.insert(name)
            } else if !line.hasPrefix("#") {
                let name = String(line.prefix { $0 != "{" && $0 != " " })
                #expect(typed.contains(name), "\(line)")
                #expect(name.hasPrefix("switchyard_"))
            }
        }
    }

    @Test func statisticsLines() {
        let lines = StatusText.statistics(snapshot()).split(separator: "\n").map(String.init)
        #expect(lines.contains("fastcgi.route./ws/.websockets-open: 2"))
        #expect(lines.contains("fastcgi.backend./ws/./tmp/a.sock.load: 3"))
        #expect(lines.contains("fastcgi.backend./ws/./tmp/a.sock.disabled: 1"))
        #expect(lines.contains("backend.process./tmp/a.sock.0.restarts: 2"))
        #expect(lines.allSatisfy { $0.contains(": ") })
    }

    @Test func htmlEscapesNames() {
        let html = StatusText.html(snapshot(), hostname: "<h>")
        #expect(html.contains("&lt;h&gt;"))
        #expect(html.contains("a&quot;b\\c\nd"))
        #expect(html.contains("disabled until 2026-12-05 00:20:02 UTC (2 s)"), "\(html)")
    }

    @Test func urlsParseInsideModuleOnly() throws {
        func parse(_ text: String) throws -> StatusURLs {
            let doc = try ConfigParser.parse(text: text, fileName: "t.conf", baseDirectory: "/", environment: [:])
            let modules = doc.global["server.modules"]?.value.stringList ?? []
            return try StatusURLs.parse(modules: modules, entry: { doc.global[$0] })
        }
        let urls = try parse("server.modules = (\"mod_status\")\nstatus.metrics-url = \"/metrics\"\nstatus.status-url = \"\"\n")
        #expect(urls.page(for: "/metrics") == .metrics && urls.status == nil)
        #expect(try parse("status.metrics-url = \"/metrics\"\n").isEmpty)   // without mod_status: nothing
        #expect(throws: ConfigError.self) { try parse("server.modules = (\"mod_status\")\nstatus.config-url = \"cfg\"\n") }
        do {
            _ = try parse("server.modules = (\"mod_status\")\n\nstatus.status-url = 3\n")
            Issue.record("accepted a number")
        } catch let error as ConfigError {
            #expect("\(error)".contains("t.conf:3"), "\(error)")
        }
    }
}
