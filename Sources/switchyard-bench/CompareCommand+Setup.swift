import Glibc
import SwitchyardBenchCore

/// Setting up one comparison: the document root, one generated config per gateway, and the rows
/// (WebSocket paths and plain-request paths) the tables will have.
extension CompareCommand {
    func prepare() throws(CompareFailure) {
        let www = try prepareDirectories()
        try addGateways(www: www)
        declareWebSocketPaths()
        declarePlainPaths()
        try prepareTLS(www: www)
        try prepareH2(www: www)
    }

    /// The document root (the CGIs symlinked under every route prefix), scratch and output directories.
    private func prepareDirectories() throws(CompareFailure) -> String {
        let www = temporary + "/www"
        for prefix in ["cgi", "cgicopy", "scgi", "fcgi", "fcgip"] {
            guard CompareFiles.makeDirectories("\(www)/\(prefix)"),
                  symlink(setup.echoCGI, "\(www)/\(prefix)/echo") == 0,
                  symlink(setup.helloCGI, "\(www)/\(prefix)/hello") == 0 else {
                throw CompareFailure("cannot prepare \(www)/\(prefix)")
            }
        }
        guard CompareFiles.write(www + "/ready.txt", "ready\n"), CompareFiles.makeDirectories(temporary + "/scratch"), CompareFiles.makeDirectories(outputDirectory + "/raw") else {
            throw CompareFailure("cannot create \(temporary)/scratch or \(outputDirectory)/raw")
        }
        _ = CompareFiles.write(outputDirectory + "/raw/runs.jsonl", "")
        return www
    }

    /// One gateway per backend path (each with its own CPU and memory figures), and lighttpd.
    private func addGateways(www: String) throws(CompareFailure) {
        func port() throws(CompareFailure) -> Int {
            guard let p = HTTPProbe.freePort() else { throw CompareFailure("no free port") }
            return p
        }
        func add(_ name: String, _ kind: CompareGateway.Kind, ready: String, _ body: String) throws(CompareFailure) {
            let p = try port()
            let config = kind == .lighttpd ? CompareConfigs.lighttpdHead(www: www, port: p, name: name, temporary: temporary)
                                           : CompareConfigs.switchyardHead(www: www, port: p, name: name, temporary: temporary)
                                             + CompareConfigs.eventHandler(options.eventHandler)
                                             + CompareConfigs.scriptDirectories(of: [setup.echoCGI, setup.helloCGI])
            gateways[name] = try CompareGateway(name: name, kind: kind, port: p, readyPath: ready, config: config + body,
                                                directory: temporary)
        }
        let t = temporary
        // The bridges refuse more than 256 concurrent CGIs by default; hold opens 1000.
        let bridgeArgs = " --max-children 4096"
        // The HTTP echo app: the proxies' backend (both gateways reach the same process), and a
        // second one the load client reaches directly (the no-gateway baseline).
        var proxyBackendPort: Int? = nil
        if setup.hasEchoApp {
            for name in ["echohttp", "direct"] {
                let p = try port()
                gateways[name] = try CompareGateway(name: name, kind: .program([setup.echoApp, "--protocol", "http", "--listen", "127.0.0.1:\(p)"]),
                                                    port: p, readyPath: "/ready", config: "", directory: temporary)
                if name == "echohttp" { proxyBackendPort = p }
            }
        }
        if setup.lighttpd != nil {
            try add("lighttpd", .lighttpd, ready: "/cgi/hello", CompareConfigs.lighttpdRoutes(setup: setup, temporary: t))
            if let proxyBackendPort {
                try add("lighttpd-proxy", .lighttpd, ready: "/proxy/ready", CompareConfigs.proxyRoute(prefix: "/proxy/", port: proxyBackendPort))
                try add("lighttpd-wstunnel", .lighttpd, ready: "/ready.txt",
                        CompareConfigs.tunnelRoute(prefix: "/wst/", socket: t + "/lighttpd-wst.sock", binPath: setup.echoApp + " --protocol raw"))
            }
        }
        try add("cgi", .switchyard, ready: "/cgi/hello", CompareConfigs.cgiRoute(prefix: "/cgi/"))
        try add("cgicopy", .switchyard, ready: "/cgicopy/hello", "server.upgrade-relay = \"copy\"\n" + CompareConfigs.cgiRoute(prefix: "/cgicopy/"))
        try add("scgi", .switchyard, ready: "/scgi/hello",
                CompareConfigs.gatewayRoute(table: "scgi", prefix: "/scgi/", socket: t + "/scgi.sock", binPath: setup.scgiCGI + bridgeArgs))
        try add("fcgi", .switchyard, ready: "/fcgi/hello",
                CompareConfigs.gatewayRoute(table: "fastcgi", prefix: "/fcgi/", socket: t + "/fcgi.sock", binPath: setup.fcgiCGI + bridgeArgs))
        try add("fcgip", .switchyard, ready: "/fcgip/hello",
                CompareConfigs.gatewayRoute(table: "fastcgi", prefix: "/fcgip/", socket: t + "/fcgip.sock", binPath: setup.fcgiCGI + bridgeArgs,
                                            extra: "\"multiplex\" => \"disable\", \"connection-pool\" => \"enable\", "))
        if setup.hasEchoApp {
            try add("nscgi", .switchyard, ready: "/nscgi/echo",
                    CompareConfigs.gatewayRoute(table: "scgi", prefix: "/nscgi/", socket: t + "/nscgi.sock",
                                                binPath: setup.echoApp + " --protocol scgi"))
            try add("nfcgi", .switchyard, ready: "/nfcgi/echo",
                    CompareConfigs.gatewayRoute(table: "fastcgi", prefix: "/nfcgi/", socket: t + "/nfcgi.sock",
                                                binPath: setup.echoApp + " --protocol fastcgi"))
        }
        if let proxyBackendPort {
            try add("proxy", .switchyard, ready: "/proxy/ready", CompareConfigs.proxyRoute(prefix: "/proxy/", port: proxyBackendPort))
            // The tunnel answers only WebSocket handshakes; its readiness is the static file.
            try add("wstunnel", .switchyard, ready: "/ready.txt",
                    CompareConfigs.tunnelRoute(prefix: "/wst/", socket: t + "/wst.sock", binPath: setup.echoApp + " --protocol raw"))
        }
        gateways = gateways.filter { name, _ in options.paths.isEmpty || Self.wanted(gateway: name, by: options.paths) }
    }

    private func declareWebSocketPaths() {
        let copyOnly = "relay mode only matters after the upgrade (see the splice row)"
        let noLighttpd = "lighttpd is not installed"
        let tunnelSplits = "the tunnel frames each backend read as one message: a 1 MiB message comes back in pieces"
        webSocketPaths = [
            WebSocketPath(name: "lighttpd mod_cgi", gateway: "lighttpd", urlPath: "/cgi/echo",
                          missing: setup.lighttpd == nil ? noLighttpd : nil),
            WebSocketPath(name: "switchyard CGI (splice)", gateway: "cgi", urlPath: "/cgi/echo"),
            WebSocketPath(name: "switchyard CGI (copy)", gateway: "cgicopy", urlPath: "/cgicopy/echo",
                          skipped: [.upgrades: copyOnly, .hold: copyOnly]),
            WebSocketPath(name: "SCGI via scgi-cgi", gateway: "scgi", urlPath: "/scgi/echo"),
            WebSocketPath(name: "FastCGI via fcgi-cgi, pooled", gateway: "fcgip", urlPath: "/fcgip/echo"),
            WebSocketPath(name: "FastCGI via fcgi-cgi, multiplexed", gateway: "fcgi", urlPath: "/fcgi/echo"),
            WebSocketPath(name: "native SCGI (switchyard-echo-app)", gateway: "nscgi", urlPath: "/nscgi/echo",
                          missing: setup.hasEchoApp ? nil : "switchyard-echo-app is not built"),
            WebSocketPath(name: "native FastCGI (switchyard-echo-app)", gateway: "nfcgi", urlPath: "/nfcgi/echo",
                          missing: setup.hasEchoApp ? nil : "switchyard-echo-app is not built"),
            WebSocketPath(name: "lighttpd mod_proxy → echo-app (HTTP)", gateway: "lighttpd-proxy", urlPath: "/proxy/echo",
                          missing: setup.lighttpd == nil ? noLighttpd : setup.hasEchoApp ? nil : "switchyard-echo-app is not built"),
            WebSocketPath(name: "switchyard proxy → echo-app (HTTP)", gateway: "proxy", urlPath: "/proxy/echo",
                          missing: setup.hasEchoApp ? nil : "switchyard-echo-app is not built"),
            WebSocketPath(name: "lighttpd mod_wstunnel → echo-app (raw)", gateway: "lighttpd-wstunnel", urlPath: "/wst/echo",
                          skipped: [.large: tunnelSplits],
                          missing: setup.lighttpd == nil ? noLighttpd : setup.hasEchoApp ? nil : "switchyard-echo-app is not built"),
            WebSocketPath(name: "switchyard wstunnel → echo-app (raw)", gateway: "wstunnel", urlPath: "/wst/echo",
                          skipped: [.large: tunnelSplits],
                          missing: setup.hasEchoApp ? nil : "switchyard-echo-app is not built"),
            WebSocketPath(name: "direct: load client → echo-app (HTTP), no gateway", gateway: "direct", urlPath: "/echo",
                          missing: setup.hasEchoApp ? nil : "switchyard-echo-app is not built"),
        ].filter { options.paths.isEmpty || Self.wanted(gateway: $0.gateway, by: options.paths) }
        for path in webSocketPaths {
            ws.row(path.name)
            for workload in CompareWorkload.allCases {
                let reason = path.missing ?? path.skipped[workload]
                if let reason { for c in workload.columns { ws.markNotApplicable(row: path.name, column: c, reason: reason) } }
            }
        }
        if !setup.hasEchoApp {
            notes.append("The native SCGI/FastCGI rows were skipped: \(setup.echoApp) is not built (`make release`).")
        }
        if setup.lighttpd == nil { notes.append("lighttpd is not installed: its rows are empty (apt-get install lighttpd).") }
    }

    private func declarePlainPaths() {
        plainPaths = [
            PlainPath(name: "lighttpd mod_cgi", gateway: "lighttpd", urlPath: "/cgi/hello"),
            PlainPath(name: "switchyard mod_cgi", gateway: "cgi", urlPath: "/cgi/hello"),
            PlainPath(name: "lighttpd → SCGI → scgi-cgi", gateway: "lighttpd", urlPath: "/scgi/hello"),
            PlainPath(name: "switchyard → SCGI → scgi-cgi", gateway: "scgi", urlPath: "/scgi/hello"),
            PlainPath(name: "lighttpd → FastCGI → fcgi-cgi", gateway: "lighttpd", urlPath: "/fcgi/hello"),
            PlainPath(name: "switchyard → FastCGI → fcgi-cgi (multiplexed)", gateway: "fcgi", urlPath: "/fcgi/hello"),
        ]
        plainPaths = plainPaths.filter { options.paths.isEmpty || Self.wanted(gateway: $0.gateway, by: options.paths) }
        for p in plainPaths {
            plain.row(p.name)
            if setup.wrk == nil || gateways[p.gateway] == nil {
                for c in plain.columns.indices {
                    plain.markNotApplicable(row: p.name, column: c, reason: setup.wrk == nil ? "wrk is not installed" : "lighttpd is not installed")
                }
            }
        }
    }
}

extension CompareCommand {
    /// `--paths`: the kinds of path named are run; "lighttpd" adds lighttpd's rows of those kinds
    /// (its mod_cgi instance for any CGI/SCGI/FastCGI kind, or when only "lighttpd" is named).
    /// The proxies' HTTP echo backend runs whenever a proxy row does.
    static func wanted(gateway: String, by paths: [String]) -> Bool {
        let lighttpd = paths.contains("lighttpd")
        if paths.contains(gateway) && gateway != "lighttpd" { return true }
        switch gateway {
        case "echohttp": return paths.contains("proxy") || (lighttpd && paths.count == 1)
        case "lighttpd-proxy": return lighttpd && (paths.contains("proxy") || paths.count == 1)
        case "lighttpd-wstunnel": return lighttpd && (paths.contains("wstunnel") || paths.count == 1)
        case "lighttpd-tls": return lighttpd && (paths.contains("tls") || paths.count == 1)
        case "lighttpd-h2": return paths.contains("h2") || (lighttpd && paths.count == 1)   // the h2 rows are a pair
        case "lighttpd":
            let ownInstances = ["lighttpd", "proxy", "wstunnel", "direct", "tls", "h2"]
            return lighttpd && (!paths.allSatisfy { ownInstances.contains($0) } || paths == ["lighttpd"])
        default: return false
        }
    }
}
