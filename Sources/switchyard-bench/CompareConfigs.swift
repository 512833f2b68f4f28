/// The generated gateway configurations (lighttpd's language for both servers).
enum CompareConfigs {
    static func q(_ s: String) -> String {
        "\"" + s.replacingAll("\\", "\\\\").replacingAll("\"", "\\\"") + "\""
    }

    static func switchyardHead(www: String, port: Int, name: String, temporary: String) -> String {
        """
        server.document-root = \(q(www))
        server.bind = "127.0.0.1"
        server.port = \(port)
        server.event-loops = 1
        server.max-keep-alive-requests = 100000
        server.errorlog = \(q(temporary + "/" + name + "-error.log"))
        server.modules = ("mod_cgi", "mod_scgi", "mod_fastcgi", "mod_proxy", "mod_wstunnel")

        """
    }

    /// `--event-handler`: the readiness source of every Switchyard (nil: the default).
    static func eventHandler(_ name: String?) -> String {
        name.map { "server.event-handler = \(q($0))\n" } ?? ""
    }

    static func lighttpdHead(www: String, port: Int, name: String, temporary: String) -> String {
        """
        server.document-root = \(q(www))
        server.bind = "127.0.0.1"
        server.port = \(port)
        server.max-keep-alive-requests = 100000
        server.max-fds = 16384
        server.max-connections = 8192
        server.errorlog = \(q(temporary + "/" + name + "-error.log"))
        server.modules = ("mod_cgi", "mod_scgi", "mod_fastcgi", "mod_proxy", "mod_wstunnel")

        """
    }

    /// The CGIs are symlinked into the document root from the repository; Switchyard runs a CGI
    /// whose real path is elsewhere only from a listed directory (README: CGI scripts and symlinks).
    static func scriptDirectories(of programs: [String]) -> String {
        let dirs = programs.map { p in p.lastIndex(of: "/").map { String(p[..<$0]) } ?? "." }
        return "cgi.script-directories = (" + dirs.map(q).joined(separator: ", ") + ")\n"
    }

    /// mod_cgi on `prefix`, the files executed themselves, upgrades allowed.
    static func cgiRoute(prefix: String) -> String {
        """
        $HTTP["url"] =^ \(q(prefix)) {
            cgi.assign = ("" => "")
            cgi.upgrade = "enable"
        }

        """
    }

    /// One spawned SCGI/FastCGI host (`bin-path` listening on `socket`), upgrades allowed.
    static func gatewayRoute(table: String, prefix: String, socket: String, binPath: String, extra: String = "") -> String {
        """
        \(table).server = (\(q(prefix)) => ((
            "socket" => \(q(socket)), "bin-path" => \(q(binPath)), "check-local" => "disable", \(extra)"upgrade" => 1
        )))

        """
    }

    /// mod_proxy on `prefix` to the HTTP echo app on 127.0.0.1:`port`, WebSocket upgrades relayed.
    static func proxyRoute(prefix: String, port: Int) -> String {
        """
        proxy.server = (\(q(prefix)) => (( "host" => "127.0.0.1", "port" => \(port) )))
        proxy.header = ( "upgrade" => "enable" )

        """
    }

    /// mod_wstunnel on `prefix`: the gateway is the WebSocket server, the raw echo app (spawned by
    /// `bin-path`, listening on `socket`) gets the payload bytes; text frames, as lighttpd's default.
    static func tunnelRoute(prefix: String, socket: String, binPath: String) -> String {
        """
        wstunnel.server = (\(q(prefix)) => (( "socket" => \(q(socket)), "bin-path" => \(q(binPath)), "max-procs" => 1 )))
        wstunnel.frame-type = "text"

        """
    }

    /// lighttpd: WebSocket upgrades through mod_cgi; SCGI and FastCGI (plain requests only: 1.4.69
    /// has no upgrade there) through our bridges. Its mod_proxy and mod_wstunnel rows run in
    /// instances of their own (`proxyRoute`, `tunnelRoute`), so each starts fresh like ours.
    static func lighttpdRoutes(setup: CompareSetup, temporary: String) -> String {
        cgiRoute(prefix: "/cgi/") + """
        scgi.server = ("/scgi/" => ((
            "socket" => \(q(temporary + "/lighttpd-scgi.sock")), "bin-path" => \(q(setup.scgiCGI)), "check-local" => "disable", "max-procs" => 1
        )))
        fastcgi.server = ("/fcgi/" => ((
            "socket" => \(q(temporary + "/lighttpd-fcgi.sock")), "bin-path" => \(q(setup.fcgiCGI)), "check-local" => "disable", "max-procs" => 1
        )))

        """
    }
}

extension String {
    func replacingAll(_ target: Character, _ replacement: String) -> String {
        var out = ""
        for ch in self {
            if ch == target { out += replacement } else { out.append(ch) }
        }
        return out
    }
}
