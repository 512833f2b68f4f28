import SwitchyardGatewayCodecs

extension BackendRequest {
    /// How the body goes to a proxied server: chunked when its length is unknown, no framing at all
    /// when there is no body and the client sent no Content-Length (a GET stays a plain GET), else
    /// the length.
    var proxyBodyFraming: ProxyBodyFraming {
        guard let length = bodyLength else { return .chunked }
        if length == 0 && !info.headers.contains(where: { HTTPFieldTokens.name($0.name, is: "content-length") }) {
            return .none
        }
        return .length(length)
    }

    /// This request as the HTTP/1.1 head a reverse proxy sends to `backendAuthority` (the host's
    /// `host:port`, used as Host with `proxy.replace-http-host`).
    func proxyRequestHead(backendAuthority: String, options: ProxyHeaderOptions, remoteUser: String? = nil,
                          keepAlive: Bool = true) throws(ProxyRequestError) -> ProxyRequestHead {
        try ProxyRequestHeadEncoder.encode(info, body: proxyBodyFraming, backendAuthority: backendAuthority,
                                           remoteUser: remoteUser, keepAlive: keepAlive, options: options)
    }
}
