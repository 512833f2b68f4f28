import SwitchyardHTTP
import SwitchyardGatewayCodecs

extension CGIRequestInfo {
    /// Fills the RFC 3875 request description from a routed request. Every gateway (CGI, SCGI,
    /// uwsgi, FastCGI) builds its variables through this one function and `CGIEnvironmentBuilder`.
    static func from(context: RequestContext, connection: any ClientExchange, scriptName: String, scriptFilename: String,
                     pathInfo: String, documentRoot: String, allowUpgrade: Bool) -> CGIRequestInfo {
        let head = context.head
        var headers: [(name: String, value: String)] = []
        headers.reserveCapacity(head.headers.count)
        for (name, value) in head.headers {
            // lighttpd's rule: without an upgrade-enabled route the backend never sees Upgrade,
            // so it cannot answer 101.
            if !allowUpgrade && (CGIEnvironmentBuilder.asciiCaseInsensitiveEquals(name, "upgrade")
                                 || CGIEnvironmentBuilder.asciiCaseInsensitiveEquals(name, "http2-settings")) { continue }
            headers.append((name, value))
        }
        let local = connection.local
        let serverPort = local?.port ?? connection.listener.port
        var info = CGIRequestInfo(
            serverSoftware: connection.worker.server.tag,
            serverName: context.host.isEmpty ? (connection.localHost.isEmpty ? "localhost" : connection.localHost) : context.host,
            serverAddr: connection.localHost,
            serverPort: serverPort,
            serverProtocol: head.version == .http1_0 ? "HTTP/1.0" : "HTTP/1.1",
            method: head.method,
            // CONNECT's authority-form target ("host:port") is its request URI (only a proxy sees one).
            requestURI: head.target.hasPrefix("/") || head.method == "CONNECT" ? head.target
                : (head.path + (head.query.map { "?" + $0 } ?? "")),
            scheme: context.scheme,
            isTLS: context.scheme == "https",
            scriptName: scriptName,
            scriptFilename: scriptFilename,
            pathInfo: pathInfo,
            queryString: context.query,
            documentRoot: documentRoot,
            remoteAddr: context.remoteIP,
            remotePort: connection.remote?.port ?? 0,
            contentLength: head.contentLength,
            headers: headers)
        info.redirectStatus = 200
        if let user = context.remoteUser { info.extra += [("AUTH_TYPE", "Basic"), ("REMOTE_USER", user)] }
        // lighttpd's mod_openssl names: SSL_get_version, the cipher's OpenSSL name and its bits.
        if let tls = connection.tls, let version = tls.protocolVersion, let cipher = tls.cipherName {
            info.extra += [("SSL_PROTOCOL", version), ("SSL_CIPHER", cipher)]
            if let bits = tls.cipherBits {
                info.extra += [("SSL_CIPHER_USEKEYSIZE", String(bits.used)), ("SSL_CIPHER_ALGKEYSIZE", String(bits.possible))]
            }
        }
        info.extra += context.settings.setenv.environment
        return info
    }

    /// True when the request asks for a WebSocket upgrade the way RFC 6455 requires.
    static func wantsWebSocket(_ head: HTTPRequestHead) -> Bool {
        guard head.version == .http1_1, head.method == "GET" else { return false }
        return head.upgradeOffers("websocket") && head.connectionTokens.contains("upgrade")
    }
}
