import Glibc

/// The texts mod_status pages are made of, from a `StatusSnapshot`: lighttpd's `?auto` lines, the
/// statistics page's `key: value` lines, Prometheus' text exposition, and the HTML pages.
/// Pure functions, so they are tested without sockets.
enum StatusText {
    /// `status.status-url?auto`: lighttpd's machine-readable lines (what its munin/collectd
    /// plugins parse), then Switchyard's own.
    static func auto(_ s: StatusSnapshot) -> String {
        var out = "Total Accesses: \(s.requests)\n"
        out += "Total kBytes: \(s.bytesSent / 1024)\n"
        out += "Uptime: \(s.uptimeSeconds)\n"
        let idle = s.count(.keepAlive)
        out += "BusyServers: \(s.openConnections - idle)\n"
        out += "IdleServers: \(idle)\n"
        out += "Scoreboard: \(s.scoreboard)\n"
        out += "UpgradedStreams: \(s.count(.upgraded))\n"
        return out
    }

    /// `status.statistics-url`: one `key: value` line per counter, lighttpd's form
    /// (`fastcgi.backend.<route>.<host>.load`). Names from the configuration go into keys with
    /// spaces, colons and control characters replaced by "_", so each counter stays one line.
    static func statistics(_ s: StatusSnapshot) -> String {
        var out = ""
        for r in s.routes {
            let p = "\(r.name.module).route.\(keyPart(r.name.match))."
            let c = r.counts
            out += "\(p)requests: \(c.requests)\n\(p)responses-5xx: \(c.responses5xx)\n"
            out += "\(p)upgrades: \(c.upgrades)\n\(p)websockets-open: \(c.openUpgraded)\n"
            out += "\(p)bytes-from-clients: \(c.bytesFromClients)\n\(p)bytes-to-clients: \(c.bytesToClients)\n"
        }
        for h in s.hosts {
            let p = "\(h.module).backend.\(keyPart(h.route)).\(keyPart(h.host))."
            out += "\(p)load: \(h.active)\n\(p)disabled: \(h.disabledForSeconds > 0 ? 1 : 0)\n"
        }
        for p in s.processes {
            let k = "backend.process.\(keyPart(p.host)).\(p.slot)."
            out += "\(k)pid: \(p.pid.map(String.init) ?? "0")\n\(k)restarts: \(p.restarts)\n\(k)up: \(p.pid == nil ? 0 : 1)\n"
        }
        return out
    }

    static func keyPart(_ v: String) -> String {
        String(String.UnicodeScalarView(v.unicodeScalars.map { $0.value <= 0x20 || $0 == ":" || $0.value == 0x7F ? "_" : $0 }))
    }

    // MARK: Prometheus

    /// Prometheus text exposition format 0.0.4: HELP and TYPE once per metric, then its samples.
    static func prometheus(_ s: StatusSnapshot) -> String {
        var out = ""
        func metric(_ name: String, _ type: String, _ help: String, _ samples: [(labels: [(String, String)], value: String)]) {
            out += "# HELP switchyard_\(name) \(help)\n# TYPE switchyard_\(name) \(type)\n"
            for sample in samples {
                out += "switchyard_\(name)\(labelSet(sample.labels)) \(sample.value)\n"
            }
        }
        metric("uptime_seconds", "gauge", "Seconds since the server started.", [([], "\(s.uptimeSeconds)")])
        metric("requests_total", "counter", "Requests received (all routes).", [([], "\(s.requests)")])
        metric("connections_accepted_total", "counter", "Client connections accepted.", [([], "\(s.acceptedConnections)")])
        metric("sent_bytes_total", "counter", "Bytes written to clients (counted as each request or connection ends).",
               [([], "\(s.bytesSent)")])
        metric("connections", "gauge", "Open client connections by state.",
               ConnectionPhase.allCases.map { ([("state", $0.name)], "\(s.count($0))") })
        func perRoute(_ name: String, _ type: String, _ help: String, _ value: (RouteCounts) -> Int) {
            metric(name, type, help, s.routes.map { ([("module", $0.name.module), ("route", $0.name.match)], "\(value($0.counts))") })
        }
        perRoute("route_requests_total", "counter", "Requests routed to the route.") { $0.requests }
        perRoute("route_responses_5xx_total", "counter", "5xx responses of the route.") { $0.responses5xx }
        perRoute("route_upgrades_total", "counter", "Connections the route upgraded (101).") { $0.upgrades }
        perRoute("route_websockets_open", "gauge", "Upgraded streams (WebSockets) of the route open now.") { $0.openUpgraded }
        perRoute("route_upgraded_received_bytes_total", "counter", "Bytes upgraded streams read from clients.") { $0.bytesFromClients }
        perRoute("route_upgraded_sent_bytes_total", "counter", "Bytes upgraded streams sent to clients.") { $0.bytesToClients }
        let hostLabels: (BackendHostCounts) -> [(String, String)] = { [("module", $0.module), ("route", $0.route), ("host", $0.host)] }
        metric("backend_active_requests", "gauge", "Requests in progress at the backend host.",
               s.hosts.map { (hostLabels($0), "\($0.active)") })
        metric("backend_disabled_seconds", "gauge", "Seconds the backend host stays disabled after a failure (0: enabled).",
               s.hosts.map { (hostLabels($0), number($0.disabledForSeconds)) })
        let procLabels: (BackendProcessInfo) -> [(String, String)] = { [("host", $0.host), ("program", $0.program), ("slot", "\($0.slot)")] }
        metric("backend_process_up", "gauge", "1 while the bin-path process of the slot runs.",
               s.processes.map { (procLabels($0), $0.pid == nil ? "0" : "1") })
        metric("backend_process_restarts_total", "counter", "Restarts of the bin-path process slot.",
               s.processes.map { (procLabels($0), "\($0.restarts)") })
        return out
    }

    static func labelSet(_ labels: [(String, String)]) -> String {
        guard !labels.isEmpty else { return "" }
        return "{" + labels.map { "\($0.0)=\"\(escapeLabel($0.1))\"" }.joined(separator: ",") + "}"
    }

    /// A label value as the exposition format wants it: backslash, double quote and line feed escaped.
    static func escapeLabel(_ v: String) -> String {
        var out = ""
        for ch in v.unicodeScalars {
            switch ch {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }

    static func number(_ d: Double) -> String {
        d == d.rounded() ? String(Int(d)) : String(d)
    }

    // MARK: HTML

    /// "2026-12-05 00:40:12 UTC".
    static func utc(_ seconds: Int) -> String {
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday)) \(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) UTC"
    }

    static func escapeHTML(_ v: String) -> String {
        var out = ""
        for ch in v {
            switch ch {
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "&": out += "&amp;"
            case "\"": out += "&quot;"
            default: out.append(ch)
            }
        }
        return out
    }

    static func html(_ s: StatusSnapshot, hostname: String) -> String {
        var out = "<!DOCTYPE html>\n<html><head><title>Status</title></head><body>\n"
        out += "<h1>Server-Status (switchyard/\(SwitchyardVersion.string))</h1>\n<table>\n"
        out += "<tr><td>Hostname</td><td>\(escapeHTML(hostname))</td></tr>\n<tr><td>Uptime</td><td>\(s.uptimeSeconds) s</td></tr>\n"
        out += "<tr><td>Requests</td><td>\(s.requests) req</td></tr>\n<tr><td>Traffic</td><td>\(s.bytesSent) byte</td></tr>\n<tr><td>Event loops</td><td>\(s.eventLoops)</td></tr>\n</table>\n"
        out += "<h2>Connections</h2>\n<p>legend: " + ConnectionPhase.allCases.map { "\($0.rawValue) = \($0.name)" }.joined(separator: ", ")
        out += "</p>\n<pre>\(s.scoreboard)</pre>\n<table>\n"
        for p in ConnectionPhase.allCases { out += "<tr><td>\(p.name)</td><td>\(s.count(p))</td></tr>\n" }
        out += "</table>\n<h2>Routes</h2>\n<table>\n<tr><th>module</th><th>route</th><th>requests</th><th>5xx</th><th>upgrades</th>"
        out += "<th>open WebSockets</th><th>bytes from clients</th><th>bytes to clients</th></tr>\n"
        for r in s.routes {
            let c = r.counts
            out += "<tr><td>\(r.name.module)</td><td>\(escapeHTML(r.name.match))</td><td>\(c.requests)</td><td>\(c.responses5xx)</td>"
            out += "<td>\(c.upgrades)</td><td>\(c.openUpgraded)</td><td>\(c.bytesFromClients)</td><td>\(c.bytesToClients)</td></tr>\n"
        }
        out += "</table>\n<h2>Backends</h2>\n<table>\n<tr><th>module</th><th>route</th><th>host</th><th>active</th><th>state</th></tr>\n"
        for h in s.hosts {
            let left = h.disabledForSeconds.rounded(.up)
            let state = left > 0 ? "disabled until \(utc(s.now + Int(left))) (\(number(left)) s)" : "enabled"
            out += "<tr><td>\(h.module)</td><td>\(escapeHTML(h.route))</td><td>\(escapeHTML(h.host))</td><td>\(h.active)</td><td>\(state)</td></tr>\n"
        }
        out += "</table>\n<h2>Backend processes</h2>\n<table>\n<tr><th>host</th><th>program</th><th>slot</th><th>pid</th><th>state</th><th>restarts</th></tr>\n"
        for p in s.processes {
            out += "<tr><td>\(escapeHTML(p.host))</td><td>\(escapeHTML(p.program))</td><td>\(p.slot)</td><td>\(p.pid.map(String.init) ?? "-")</td>"
            out += "<td>\(escapeHTML(p.state))</td><td>\(p.restarts)</td></tr>\n"
        }
        return out + "</table>\n</body></html>\n"
    }

    /// `status.config-url`: the modules loaded and the server-wide settings that shape the report.
    static func config(_ s: StatusSnapshot, settings: ServerSettings) -> String {
        var out = "<!DOCTYPE html>\n<html><head><title>Configuration</title></head><body>\n<h1>Server-Config (switchyard/\(SwitchyardVersion.string))</h1>\n<table>\n"
        out += "<tr><td>Event loops</td><td>\(s.eventLoops)</td></tr>\n<tr><td>Upgrade relay</td><td>\(escapeHTML(settings.upgradeRelay))</td></tr>\n"
        out += "<tr><td>Max connections</td><td>\(settings.maxConnections)</td></tr>\n<tr><th colspan=\"2\">Modules</th></tr>\n"
        for m in s.modules { out += "<tr><td colspan=\"2\">\(escapeHTML(m))</td></tr>\n" }
        return out + "</table>\n</body></html>\n"
    }
}
