import Glibc
import SwitchyardOS
import SwitchyardBenchCore

/// The TLS rows: switchyard and lighttpd (mod_openssl) on https:// and wss:// with the same
/// certificate (made by Fixtures/tools/demo-cert.sh, as `make run` does: ECDSA P-256), the same
/// protocol floor and the same TLS 1.3 cipher suite, the CGI echo behind both.
extension CompareCommand {
    /// The `ssl.*` lines both gateways get, word for word.
    static func tlsSettings(certificates dir: String) -> String {
        """
        server.modules += ("mod_openssl")
        ssl.engine = "enable"
        ssl.pemfile = \(CompareConfigs.q(dir + "/server.crt"))
        ssl.privkey = \(CompareConfigs.q(dir + "/server.key"))
        ssl.cipher-list = "ECDHE+AESGCM"
        ssl.openssl.ssl-conf-cmd = ("MinProtocol" => "TLSv1.2", "Ciphersuites" => "TLS_AES_256_GCM_SHA384")

        """
    }

    func prepareTLS(www: String) throws(CompareFailure) {
        let wantSwitchyard = options.paths.isEmpty || Self.wanted(gateway: "tls", by: options.paths)
        let wantLighttpd = setup.lighttpd != nil && (options.paths.isEmpty || Self.wanted(gateway: "lighttpd-tls", by: options.paths))
        guard wantSwitchyard || wantLighttpd else { return }
        var missing: String? = nil
        let lighttpdMissing = setup.lighttpd == nil ? "lighttpd is not installed"
            : access("/usr/lib/lighttpd/mod_openssl.so", R_OK) != 0 ? "lighttpd's mod_openssl is not installed (apt-get install lighttpd-mod-openssl)" : nil
        let dir = temporary + "/tls"
        let certified = (try? Subprocess.run(["/bin/bash", setup.root + "/Fixtures/tools/demo-cert.sh", dir], timeout: 30,
                                             scratch: temporary + "/scratch"))?.status == 0
        if !certified { missing = "cannot make a certificate (Fixtures/tools/demo-cert.sh needs the openssl command)" }
        let client: TLSClientContext
        do { client = try TLSClientContext() } catch { throw CompareFailure("TLS client context: \(error)") }
        func add(_ name: String, _ kind: CompareGateway.Kind) throws(CompareFailure) {
            guard let p = HTTPProbe.freePort() else { throw CompareFailure("no free port") }
            let head = kind == .lighttpd ? CompareConfigs.lighttpdHead(www: www, port: p, name: name, temporary: temporary)
                                         : CompareConfigs.switchyardHead(www: www, port: p, name: name, temporary: temporary)
                                             + CompareConfigs.eventHandler(options.eventHandler)
                                           + CompareConfigs.scriptDirectories(of: [setup.echoCGI, setup.helloCGI])
            let g = try CompareGateway(name: name, kind: kind, port: p, readyPath: "/cgi/hello",
                                       config: head + Self.tlsSettings(certificates: dir) + CompareConfigs.cgiRoute(prefix: "/cgi/"),
                                       directory: temporary)
            g.tls = client
            gateways[name] = g
        }
        if missing == nil && wantLighttpd && lighttpdMissing == nil { try add("lighttpd-tls", .lighttpd) }
        if missing == nil && wantSwitchyard { try add("tls", .switchyard) }
        tlsPaths = []
        if setup.lighttpd != nil && (options.paths.isEmpty || wantLighttpd) {
            tlsPaths.append(WebSocketPath(name: "lighttpd mod_openssl + mod_cgi", gateway: "lighttpd-tls", urlPath: "/cgi/echo",
                                          missing: missing ?? lighttpdMissing))
        }
        if wantSwitchyard {
            tlsPaths.append(WebSocketPath(name: "switchyard TLS + CGI", gateway: "tls", urlPath: "/cgi/echo", missing: missing))
        }
        for path in tlsPaths {
            tlsResults.row(path.name)
            if let reason = path.missing {
                for c in CompareTLSWorkload.columns.indices { tlsResults.markNotApplicable(row: path.name, column: c, reason: reason) }
            }
        }
    }

    /// The TLS workloads on every TLS path; false when interrupted.
    func runTLS(run: Int, failedGateways: [String: String]) -> Bool {
        let paths = rotate(tlsPaths.filter { $0.missing == nil }, by: run - 1)
        for workload in CompareTLSWorkload.allCases {
            for path in paths {
                guard let g = gateways[path.gateway] else { continue }
                if let reason = failedGateways[path.gateway] {
                    for c in workload.columns { tlsResults.fail(row: path.name, column: c, reason: reason) }
                    continue
                }
                let url = workload.isHandshake ? "https://127.0.0.1:\(g.port)/ready.txt" : "wss://127.0.0.1:\(g.port)\(path.urlPath)"
                let arguments = workload.benchArguments(duration: options.duration, warmup: options.warmup)
                guard let outcome = runLoadGenerator(arguments, url: url, gateway: g, pathName: path.name, workload: "tls-" + workload.rawValue, run: run) else {
                    return false
                }
                switch outcome.flatMap({ workload.figures(json: $0.json, exitCode: $0.output.status, stderr: $0.output.stderr) }) {
                case .success(let figures):
                    for (c, v) in figures { tlsResults.add(row: path.name, column: c, value: v) }
                    let main = workload.columns[0], column = CompareTLSWorkload.columns[main]
                    log("  \(workload.label.padded(12)) \(path.name.padded(38)) \(column.format.format(figures[main] ?? 0)) \(column.unit)")
                case .failure(let f):
                    for c in workload.columns { tlsResults.fail(row: path.name, column: c, reason: f.description) }
                    logFailure(workload.label, path.name, f, outcome)
                }
            }
        }
        return true
    }

    /// The tables with rows, in order (a --paths run may leave some empty); the chart shows the first.
    func reportTables(_ wsTable: CompareTable, _ plainTable: CompareTable) -> [CompareTable] {
        var ratios: [CompareRatio] = []
        if let s = tlsPaths.firstIndex(where: { $0.gateway == "tls" }), let b = tlsPaths.firstIndex(where: { $0.gateway == "lighttpd-tls" }) {
            ratios.append(CompareRatio(label: "switchyard TLS ÷ lighttpd mod_openssl", subject: s, baseline: b))
        }
        let tlsTable = tlsResults.table(title: "TLS: handshakes (one small static GET each) and WebSocket echo over wss:// through CGI",
                                        ratios: ratios)
        let tables = [wsTable, plainTable, tlsTable, h2Table].filter { !$0.rows.isEmpty }
        return tables.isEmpty ? [wsTable] : tables
    }

    var tlsNotes: [String] {
        guard !tlsPaths.isEmpty else { return [] }
        return [
            "TLS rows: both gateways get the same certificate (ECDSA P-256 from Fixtures/tools/demo-cert.sh), TLS 1.2 as the floor and TLS_AES_256_GCM_SHA384 as the only TLS 1.3 suite (the load client offers TLS 1.3 and X25519, so every connection is TLS 1.3 with that suite). A handshake cycle is connect, TLS handshake, GET /ready.txt (6 bytes) with `Connection: close`, the response read to its Content-Length, close; 8 cycles at a time; gateway CPU per handshake = the gateway's user+system time over the run ÷ cycles. Resumed: each connection offers the ticket its previous one received (a run fails unless 90 % resume). The client does not verify the certificate (no signature check on its side). Switchyard encrypts in user space (no kernel TLS on this machine) and relays upgraded TLS streams with copies (no splice); the wss rows run the same C echo CGI (one process per connection) behind both. Nothing is pinned and the machine is shared: conn/s, msg/s and MB/s move a lot between runs; the CPU-per-handshake columns are the steadier comparison.",
        ]
    }
}
