/// Configuration keys Switchyard understands. Anything else is reported as a warning naming the
/// key and where it was set, so a typo or a lighttpd feature we lack never passes silently.
enum KnownKeys {
    static let all: Set<String> = [
        "server.bind", "server.port", "server.document-root", "server.modules", "server.errorlog",
        "server.tag", "server.max-read-idle", "server.max-write-idle", "server.max-keep-alive-idle",
        "server.max-keep-alive-requests", "server.max-connections", "server.max-request-size",
        "server.max-request-field-size",
        "server.pid-file", "server.username", "server.groupname", "server.indexfiles",
        "server.event-loops", "server.event-handler", "server.follow-symlink", "server.stat-cache-engine", "server.graceful-shutdown-timeout", "server.upgrade-relay", "server.listen-backlog",
        "server.systemd-socket-activation", "server.h2proto", "server.h2c", "server.upload-dirs",
        "server.h2-max-concurrent-streams", "server.h2-initial-window-size", "server.h2-max-frame-size",
        "accesslog.filename", "mimetype.assign", "index-file.names", "static-file.exclude-extensions",
        "cgi.assign", "cgi.script-directories", "cgi.execute-x-only", "cgi.upgrade", "cgi.limits", "cgi.local-redir",
        "scgi.server", "scgi.balance", "scgi.debug", "scgi.map-extensions", "scgi.protocol",
        "fastcgi.server", "fastcgi.balance", "fastcgi.debug", "fastcgi.map-extensions",
        "url.redirect", "url.redirect-code", "url.rewrite", "url.rewrite-once", "url.rewrite-repeat",
        "url.rewrite-if-not-file", "url.rewrite-repeat-if-not-file", "url.access-deny", "url.access-allow",
        "setenv.add-request-header", "setenv.set-request-header", "setenv.add-environment", "setenv.set-environment",
        "setenv.add-response-header", "setenv.set-response-header", "alias.url", "expire.url", "expire.mimetypes",
        "auth.backend", "auth.backend.htpasswd.userfile", "auth.require", "extforward.forwarder", "extforward.headers",
        "proxy.server", "proxy.balance", "proxy.debug", "proxy.map-extensions", "proxy.header", "proxy.forwarded",
        "proxy.replace-http-host",
        "wstunnel.server", "wstunnel.balance", "wstunnel.debug", "wstunnel.map-extensions", "wstunnel.frame-type",
        "wstunnel.origins", "wstunnel.ping-interval", "wstunnel.max-message-size",
        "wstunnel.permessage-deflate",
        "ssl.engine", "ssl.pemfile", "ssl.privkey", "ssl.ca-file", "ssl.cipher-list", "ssl.openssl.ssl-conf-cmd",
        "ssl.honor-cipher-order",
        "websocket.origins", "websocket.ping-interval",
        "status.status-url", "status.statistics-url", "status.config-url", "status.metrics-url",
    ]

    /// lighttpd keys Switchyard accepts but that change nothing here, with why: a config that sets
    /// them gets a warning saying so instead of the value being parsed and silently unused.
    static let withoutEffect: [String: String] = [
        "server.stream-request-body": "request bodies are always streamed to backends (lighttpd's 2)",
        "server.stream-response-body": "response bodies are always streamed to clients with backpressure (lighttpd's 2)",
    ]

    /// Modules whose settings are parsed and checked (so `-t` reports their errors) but that do not
    /// serve requests yet: they get their own warning instead of "not available".
    static let parsedOnly: Set<String> = []

    /// Modules that exist; others in server.modules get a warning (accepted, not loaded).
    static let modules: Set<String> = [
        "mod_cgi", "mod_scgi", "mod_fastcgi", "mod_proxy", "mod_wstunnel", "mod_accesslog", "mod_access", "mod_redirect",
        "mod_rewrite", "mod_setenv", "mod_alias", "mod_auth", "mod_authn_file", "mod_extforward", "mod_staticfile",
        "mod_indexfile", "mod_dirlisting", "mod_openssl", "mod_status", "mod_expire",
    ]
}
