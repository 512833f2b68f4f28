import SwitchyardOS
import SwitchyardHTTP
import SwitchyardGatewayCodecs

extension BackendRuntime {
    /// A stream carrying one proxied request to `hs`: the request head is encoded here (its Host
    /// and the response mapping depend on the host chosen), the exchange is given the matching
    /// `ProxyResponseHeadDecoder`, and the request goes out on a pooled keep-alive connection
    /// (`BackendConnectionPool`), or, for a WebSocket upgrade, on a connection of its own.
    /// `fresh`: never an idle pooled connection (the stale-connection retry).
    func openProxyStream(_ request: BackendRequest, options: ProxyHeaderOptions, host hs: HostState, address: SocketAddress,
                         label: String, debug: Int, exchange: GatewayExchange, fresh: Bool) throws -> Result<OpenedStream, BackendFailure> {
        let config = hs.config
        exchange.debug = debug
        if request.info.method == "CONNECT" {
            return try openConnectTunnel(request, host: hs, address: address, label: label, debug: debug, exchange: exchange)
        }
        // A unix socket has no authority of its own: the client's Host stays unless replaced by "localhost".
        let authority = config.socket == nil ? config.addressDescription : "localhost"
        let head: ProxyRequestHead
        do {
            head = try request.proxyRequestHead(backendAuthority: authority, options: options, keepAlive: true)
        } catch {
            return .failure(.encodeFailed("\(label): \(error)"))
        }
        let isHead = request.info.method == "HEAD"
        let clientHost = request.info.headers.first { HTTPFieldTokens.name($0.name, is: "host") }?.value
        let mapper = ProxyResponseHeaderMapper(options: options, clientHost: clientHost, backendHost: head.backendHost,
                                               clientIsHTTPS: request.info.scheme == "https")
        let codec = ProxyHTTPCodec(head: head, requestIsHead: isHead)
        exchange.useHeadDecoder(FramedProxyHeadDecoder(
            decoder: ProxyResponseHeadDecoder(mapper: mapper, requestIsUpgrade: head.isUpgrade, requestIsHead: isHead, yieldsInterimHeads: true),
            codec: codec))
        if debug > 0 {
            worker.errorLog.info(label, "proxy debug: \(request.info.method) \(request.info.requestURI) from \(request.info.remoteAddr) to backend \(config.addressDescription)")
            worker.errorLog.info(label, "proxy debug: request line sent: \(GatewayExchange.requestLine(head.bytes))")
        }
        if head.isUpgrade {
            // A WebSocket lives as long as it likes: it never holds a place in the keep-alive pool.
            if config.maxConnections > 0 && hs.active >= config.maxConnections { return .failure(busy(hs, label)) }
            let stream = try connectedStream(codec, address: address, label: label)
            stream.loadHost = hs
            if debug > 0 { worker.errorLog.info(label, "proxy debug: upgrade request on a new connection of its own") }
            return start(stream, request, label: label, reused: false)
        }
        let pool = hs.proxy
        let checkout = try pool.checkout(fresh: fresh) { () throws -> FDBackendStream in
            let stream = try connectedStream(codec, address: address, label: label)
            stream.onClose = { [weak pool, unowned stream] _ in pool?.remove(stream) }
            stream.onReusable = { [weak pool] s in
                guard let pool else { return false }
                pool.checkin(s)
                return true
            }
            return stream
        }
        guard case .leased(let stream, let reused) = checkout else { return .failure(busy(hs, label)) }
        if stream.isIdle { stream.reuse(codec: codec) }
        if debug > 0 {
            worker.errorLog.info(label, reused ? "proxy debug: reusing a pooled keep-alive connection (\(pool.count) open to this host in this worker)"
                                               : "proxy debug: new connection (\(pool.count) open to this host in this worker)")
        }
        exchange.onFinish = { [weak hs] _ in hs?.active -= 1 }
        return start(stream, request, label: label, reused: reused)
    }

    /// lighttpd's `proxy_create_env_connect`: a CONNECT (routed here only with `proxy.header`
    /// connect) is not forwarded. The host itself is the tunnel's destination (the request's
    /// authority plays no part); once the connection is up the exchange answers `200 OK` and relays
    /// raw bytes both ways, like an upgraded WebSocket (`GatewayExchange.openConnectTunnel`).
    private func openConnectTunnel(_ request: BackendRequest, host hs: HostState, address: SocketAddress, label: String,
                                   debug: Int, exchange: GatewayExchange) throws -> Result<OpenedStream, BackendFailure> {
        if hs.config.maxConnections > 0 && hs.active >= hs.config.maxConnections { return .failure(busy(hs, label)) }
        exchange.connectTunnel = true
        if debug > 0 {
            worker.errorLog.info(label, "proxy debug: CONNECT \(request.info.requestURI) from \(request.info.remoteAddr): tunnel to backend \(hs.config.addressDescription)")
        }
        let stream = try connectedStream(RawTunnelCodec(), address: address, label: label)
        stream.loadHost = hs
        return start(stream, request, label: label, reused: false)
    }

    private func start(_ stream: FDBackendStream, _ request: BackendRequest, label: String, reused: Bool) -> Result<OpenedStream, BackendFailure> {
        do { try stream.start(request) } catch {
            stream.closeUnregistered()
            return .failure(.encodeFailed("\(label): \(error)"))
        }
        return .success(OpenedStream(stream: stream, reused: reused))
    }
}
