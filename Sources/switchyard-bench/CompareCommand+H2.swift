import Glibc
import SwitchyardOS
import SwitchyardBenchCore

/// The HTTP/2 rows (`--paths h2`): switchyard and Debian lighttpd (1.4.69, mod_openssl, whose
/// `server.h2proto` is on by default) over TLS with ALPN h2, with the TLS rows' certificate and
/// settings, the same small static file and the same C echo CGI: h2load static requests/s, RFC 8441
/// WebSocket round trips through the CGI (`switchyard-bench h2ws`, the bench's own HTTP/2 client
/// on the project's codec), and memory per idle RFC 8441 stream.
extension CompareCommand {
    func prepareH2(www: String) throws(CompareFailure) {
        let wantSwitchyard = options.paths.isEmpty || Self.wanted(gateway: "h2", by: options.paths)
        let wantLighttpd = setup.lighttpd != nil && (options.paths.isEmpty || Self.wanted(gateway: "lighttpd-h2", by: options.paths))
        guard wantSwitchyard || wantLighttpd else { return }
        let lighttpdMissing = setup.lighttpd == nil ? "lighttpd is not installed"
            : access("/usr/lib/lighttpd/mod_openssl.so", R_OK) != 0 ? "lighttpd's mod_openssl is not installed (apt-get install lighttpd-mod-openssl)" : nil
        let dir = temporary + "/tls"
        var missing: String? = nil
        if access(dir + "/server.crt", R_OK) != 0 {
            let made = (try? Subprocess.run(["/bin/bash", setup.root + "/Fixtures/tools/demo-cert.sh", dir], timeout: 30,
                                            scratch: temporary + "/scratch"))?.status == 0
            if !made { missing = "cannot make a certificate (Fixtures/tools/demo-cert.sh needs the openssl command)" }
        }
        guard CompareFiles.write(www + CompareH2Workload.staticPath, CompareH2Workload.staticBody) else {
            throw CompareFailure("cannot write \(www)\(CompareH2Workload.staticPath)")
        }
        let probeClient: TLSClientContext   // readiness probes speak HTTP/1.1 over TLS
        do { probeClient = try TLSClientContext() } catch { throw CompareFailure("TLS client context: \(error)") }
        func add(_ name: String, _ kind: CompareGateway.Kind) throws(CompareFailure) {
            guard let p = HTTPProbe.freePort() else { throw CompareFailure("no free port") }
            let head = kind == .lighttpd ? CompareConfigs.lighttpdHead(www: www, port: p, name: name, temporary: temporary)
                                         : CompareConfigs.switchyardHead(www: www, port: p, name: name, temporary: temporary)
                                             + CompareConfigs.eventHandler(options.eventHandler)
                                           + CompareConfigs.scriptDirectories(of: [setup.echoCGI, setup.helloCGI])
            let config = head + Self.tlsSettings(certificates: dir) + "server.h2proto = \"enable\"\n" + CompareConfigs.cgiRoute(prefix: "/cgi/")
            let g = try CompareGateway(name: name, kind: kind, port: p, readyPath: "/cgi/hello", config: config, directory: temporary)
            g.tls = probeClient
            gateways[name] = g
        }
        if missing == nil && wantLighttpd && lighttpdMissing == nil { try add("lighttpd-h2", .lighttpd) }
        if missing == nil && wantSwitchyard { try add("h2", .switchyard) }
        h2Paths = []
        if setup.lighttpd != nil && (options.paths.isEmpty || wantLighttpd) {
            h2Paths.append(WebSocketPath(name: "lighttpd HTTP/2 (mod_openssl + mod_cgi)", gateway: "lighttpd-h2", urlPath: "/cgi/echo",
                                         missing: missing ?? lighttpdMissing))
        }
        if wantSwitchyard {
            h2Paths.append(WebSocketPath(name: "switchyard HTTP/2 (TLS + CGI)", gateway: "h2", urlPath: "/cgi/echo", missing: missing))
        }
        for path in h2Paths {
            h2Results.row(path.name)
            if let reason = path.missing {
                for c in CompareH2Workload.columns.indices { h2Results.markNotApplicable(row: path.name, column: c, reason: reason) }
            } else if setup.h2load == nil {
                for c in CompareH2Workload.staticFile.columns {
                    h2Results.markNotApplicable(row: path.name, column: c, reason: "h2load is not installed (apt-get install nghttp2-client)")
                }
            }
        }
    }

    /// The h2 workloads on every h2 path, idle streams first (fresh gateways); false when interrupted.
    func runH2(run: Int, failedGateways: [String: String]) -> Bool {
        let paths = rotate(h2Paths.filter { $0.missing == nil }, by: run - 1)
        for workload in CompareH2Workload.allCases {
            for path in paths {
                guard let g = gateways[path.gateway] else { continue }
                if let reason = failedGateways[path.gateway] {
                    for c in workload.columns { h2Results.fail(row: path.name, column: c, reason: reason) }
                    continue
                }
                if workload == .staticFile {
                    if let h2load = setup.h2load { measureH2Load(path, gateway: g, h2load: h2load, run: run) }
                    continue
                }
                let url = "https://127.0.0.1:\(g.port)\(path.urlPath)"
                let arguments = workload.benchArguments(duration: options.duration, warmup: options.warmup)
                guard let outcome = runLoadGenerator(arguments, url: url, gateway: g, pathName: path.name, workload: workload.rawValue, run: run) else {
                    return false
                }
                switch outcome.flatMap({ workload.figures(json: $0.json, exitCode: $0.output.status, stderr: $0.output.stderr) }) {
                case .success(let figures):
                    for (c, v) in figures { h2Results.add(row: path.name, column: c, value: v) }
                    let main = workload.columns[0], column = CompareH2Workload.columns[main]
                    log("  \(workload.label.padded(14)) \(path.name.padded(38)) \(column.format.format(figures[main] ?? 0)) \(column.unit)")
                case .failure(let f):
                    for c in workload.columns { h2Results.fail(row: path.name, column: c, reason: f.description) }
                    logFailure(workload.label, path.name, f, outcome)
                }
            }
        }
        return true
    }

    /// h2load on the small static file: a warm-up run, then the measured one with the gateway's
    /// CPU time around it (as `measurePlain` does with wrk).
    func measureH2Load(_ p: WebSocketPath, gateway: CompareGateway, h2load: String, run: Int) {
        let url = "https://127.0.0.1:\(gateway.port)\(CompareH2Workload.staticPath)"
        if options.warmup > 0 {
            _ = try? Subprocess.run([h2load] + CompareH2Workload.h2loadArguments(duration: options.warmup) + [url],
                                    timeout: options.warmup + 30, scratch: temporary + "/scratch")
        }
        let probe = ServerProbe(pid: gateway.pid)
        let cpu0 = probe.cpuSeconds() ?? 0
        let out = try? Subprocess.run([h2load] + CompareH2Workload.h2loadArguments(duration: options.duration) + [url],
                                      timeout: options.duration + 30, scratch: temporary + "/scratch")
        let cpu = (probe.cpuSeconds() ?? cpu0) - cpu0
        var raw = JSONObjectWriter()
        raw.add("run", run)
        raw.add("path", p.name)
        raw.add("workload", "h2load")
        raw.add("output", out?.stdout ?? "")
        raw.add("gateway_cpu_seconds", cpu)
        CompareFiles.append(outputDirectory + "/raw/runs.jsonl", raw.text + "\n")
        let columns = CompareH2Workload.staticFile.columns
        guard let out, let h = H2LoadOutput.parse(out.stdout), out.status == 0, h.failure == nil else {
            let why = out.map { o in H2LoadOutput.parse(o.stdout)?.failure ?? "h2load exit status \(o.status)" } ?? "cannot run h2load"
            for c in columns { h2Results.fail(row: p.name, column: c, reason: why) }
            log("  h2load static   \(p.name.padded(38)) FAILED: \(why)")
            return
        }
        h2Results.add(row: p.name, column: columns[0], value: h.requestsPerSecond)
        h2Results.add(row: p.name, column: columns[1], value: cpu * 1e6 / Double(h.done))
        log("  h2load static  \(p.name.padded(38)) \(NumberFormat.compact(h.requestsPerSecond)) req/s")
    }

    var h2Table: CompareTable {
        var ratios: [CompareRatio] = []
        if let s = h2Paths.firstIndex(where: { $0.gateway == "h2" }), let b = h2Paths.firstIndex(where: { $0.gateway == "lighttpd-h2" }) {
            ratios.append(CompareRatio(label: "switchyard HTTP/2 ÷ lighttpd HTTP/2", subject: s, baseline: b))
        }
        return h2Results.table(title: "HTTP/2 over TLS (ALPN h2): h2load on a 1 KiB static file, RFC 8441 WebSockets through CGI",
                               ratios: ratios)
    }

    var h2Notes: [String] {
        guard !h2Paths.isEmpty else { return [] }
        return [
            "HTTP/2 rows: both gateways over TLS with ALPN h2 (the TLS rows' certificate, protocol floor and cipher suite; lighttpd 1.4.69 with `server.h2proto = \"enable\"`, RFC 8441 through mod_cgi with `cgi.upgrade`). Static: h2load -t1 -c\(CompareH2Workload.h2loadClients) -m\(CompareH2Workload.h2loadStreams) on the same 1 KiB file for the measured seconds, after a warm-up run; every request must succeed with a 2xx; gateway CPU per request = the gateway's user+system time over the run ÷ requests. WebSocket: the bench's own HTTP/2 client (SwitchyardHTTP2's frame codec and HPACK, TLS client in the bench) opens \(CompareH2Workload.streamsPerConnection) RFC 8441 streams on each of 2 connections (lighttpd allows 8 concurrent streams per connection), one 64 B binary message in flight per stream, every echo checked, the same C echo CGI (one process per stream) behind both. Idle: \(CompareH2Workload.holdStreams) streams, \(CompareH2Workload.streamsPerConnection) per connection, each echoed once, on a freshly started gateway; growth of the gateway process's VmRSS ÷ streams (the echo processes not counted).",
        ]
    }
}
