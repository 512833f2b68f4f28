import Glibc
import SwitchyardOS
import SwitchyardHTTP
import SwitchyardWebSocket

/// mod_wstunnel's wire "protocol": nothing. The backend is a plain socket program (the seed
/// `echo.pl`, a VNC server) that gets the WebSocket payload as bytes and writes bytes back.
/// mod_proxy's CONNECT tunnel uses it too: the client's bytes as they are, a FIN as a half-close.
final class RawTunnelCodec: BackendCodec {
    var isTransparent: Bool { true }
    var passesBodyThrough: Bool { true }
    var passesResponseThrough: Bool { true }
    var name: String { "wstunnel" }
    func encodeRequestStart(_ request: BackendRequest, keepConnection: Bool, out: ByteBuffer) {}
    func encodeBody(_ bytes: UnsafeRawBufferPointer, out: ByteBuffer) { out.append(bytes) }
    /// The client's CLOSE (or FIN): the backend sees the end of its input, and may still answer.
    func encodeBodyEnd(upgraded: Bool, out: ByteBuffer) -> Bool { true }
    func encodeAbort(out: ByteBuffer) -> Bool { false }
    func decode(_ bytes: UnsafeRawBufferPointer, _ sink: (BackendEvent) -> Void) throws -> Int {
        sink(.stdout(bytes))
        return bytes.count
    }
}

/// Routing a request to `wstunnel.server` and connecting the tunnel to one of the route's hosts,
/// with the same balancing, disable-time and spawned-backend backoff as SCGI/FastCGI.
extension BackendRuntime {
    /// nil when no tunnel route matches, or the request is not a WebSocket upgrade: like lighttpd's
    /// mod_wstunnel, other requests under the prefix go on to the next module (static files), so
    /// `count.html` can sit next to `/ws/`.
    func routeTunnel(_ settings: WStunnelSettings, context: RequestContext, connection: any ClientExchange) -> RoutedRequest? {
        let head = context.head
        guard let match = settings.table.route(forPath: context.path), head.upgradeOffers("websocket") else { return nil }
        let stats = worker.stats.route(settings.table.statsIDs[match.index])
        func fixed(_ status: Int, _ headers: [(String, String)] = []) -> RoutedRequest {
            var r = RoutedRequest(handler: FixedResponseHandler(status: status, connection: connection, extraHeaders: headers),
                                  wantsBody: false, bodyLimit: 0)
            r.stats = stats
            return r
        }
        let label = "wstunnel \(match.route.match)"
        let origin = WebSocketOriginPolicy(allowed: settings.origins).evaluate(origin: head.headers.first("Origin"))
        if let status = origin.status {
            if settings.debug > 0 { worker.errorLog.info(label, "Origin \(head.headers.first("Origin") ?? "(none)") refused: \(status)") }
            return fixed(status)
        }
        let fields = head.headers.map { (name: $0.name, value: $0.value) }
        let evaluated = WebSocketServerHandshake.evaluate(method: head.method, isHTTP11: head.version == .http1_1, headers: fields,
                                                          options: .init(subprotocols: ["binary", "base64"], deflate: settings.deflate))
        let acceptance: WebSocketServerHandshake.Acceptance
        switch evaluated {
        case .failure(let rejection):
            if settings.debug > 0 { worker.errorLog.info(label, "handshake refused: \(rejection.reason)") }
            return fixed(rejection.status, rejection.headers.map { ($0.key, $0.value) })
        case .success(let a): acceptance = a
        }
        var codec: PerMessageDeflateCodec?
        if let parameters = acceptance.deflate {
            do { codec = try PerMessageDeflateCodec(parameters: parameters, config: settings.deflate ?? .init()) } catch {
                worker.errorLog.error(label, "permessage-deflate: \(error)")
                return fixed(500)
            }
        }
        let exchange = WebSocketTunnelExchange(connection: connection, settings: settings, acceptance: acceptance, label: label,
                                               deflate: codec)
        var tried = Set<Int>()
        // The exchange hands itself to the closure: a weak capture of it would give it a side
        // table, and every retain and release of it while it relays would take the slow path.
        exchange.connectNext = { [weak self] exchange in
            guard let self else { return false }
            return self.connectTunnel(exchange, settings: settings, routeIndex: match.index, context: context, tried: &tried)
        }
        guard exchange.connectNext?(exchange) == true else {
            exchange.connectNext = nil
            worker.errorLog.error(label, "no backend host could be reached: 503")
            return fixed(503)
        }
        var routed = RoutedRequest(handler: exchange, wantsBody: false, bodyLimit: 0)
        routed.stats = stats
        return routed
    }

    /// Connects to the next untried host; false when none is left. A host whose connect fails at
    /// once is disabled for its disable-time and the next one is tried.
    private func connectTunnel(_ exchange: WebSocketTunnelExchange, settings: WStunnelSettings, routeIndex: Int,
                               context: RequestContext, tried: inout Set<Int>) -> Bool {
        let table = settings.table
        let route = table.routes[routeIndex]
        while let i = pick(table: table, route: route, routeIndex: routeIndex, context: context, exclude: tried) {
            tried.insert(i)
            let config = route.hosts[i]
            let hs = hostState(config, table: table, routeIndex: routeIndex, hostIndex: i, generation: context.settings.generation)
            let hostLabel = "\(exchange.label) \(config.addressDescription)"
            if config.binPath != nil, let why = worker.serverInstance.backendAvailability.unavailableReason(config.addressDescription) {
                worker.errorLog.error(hostLabel, why)
                continue
            }
            if config.maxConnections > 0 && hs.active >= config.maxConnections { continue }
            guard let address = hs.address else { continue }
            do {
                let stream = try connectedStream(RawTunnelCodec(), address: address, label: hostLabel)
                hs.active += 1
                stream.loadHost = hs
                exchange.attach(stream, connectTimeout: config.connectTimeout, onFailure: { [weak self, weak hs] why in
                    if let self, let hs { self.disable(hs, reason: why) }
                })
                if table.debug > 0 { worker.errorLog.info(hostLabel, "tunnel connect\(stream.isConnecting ? "ing" : "ed")") }
                return true
            } catch {
                if let e = error as? SystemError, e.errno == EMFILE || e.errno == ENFILE {
                    worker.errorLog.error(hostLabel, "\(error)")
                    return false
                }
                disable(hs, reason: "\(error)")
            }
        }
        return false
    }
}
