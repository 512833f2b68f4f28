import SwitchyardOS

/// What every connection shares: the loop, the log, the protocol, and the set of live
/// connections (which keeps them alive while they are off epoll and lets an idle sweep return
/// buffers that grew for a large message).
final class EchoServer {
    let loop: EventLoop
    let log: EchoLog
    let proto: EchoProtocol
    /// One decoder configuration for every WebSocket (it keeps no per-connection state).
    let echo = WebSocketEcho()
    private var connections: [ObjectIdentifier: EchoConnection] = [:]

    /// Buffers of connections idle this long shrink back to their initial size.
    static let idleTrimNanoseconds: UInt64 = 2_000_000_000
    static let sweepSeconds = 5.0

    init(loop: EventLoop, log: EchoLog, proto: EchoProtocol) {
        self.loop = loop
        self.log = log
        self.proto = proto
    }

    var connectionCount: Int { connections.count }

    func accept(_ fd: Int32, tcp: Bool) {
        if tcp { Socket.setNoDelay(fd) }
        let connection: EchoConnection
        switch proto {
        case .scgi: connection = SCGIEchoConnection(fd: fd, server: self)
        case .fastCGI: connection = FastCGIEchoConnection(fd: fd, server: self)
        case .http: connection = HTTPEchoConnection(fd: fd, server: self)
        case .raw: connection = RawEchoConnection(fd: fd, server: self)
        }
        connections[ObjectIdentifier(connection)] = connection
        connection.start()
    }

    func forget(_ connection: EchoConnection) {
        connections[ObjectIdentifier(connection)] = nil
    }

    func startSweeping() {
        loop.schedule(afterSeconds: EchoServer.sweepSeconds) { [weak self] in
            guard let self else { return }
            let now = EventLoop.monotonicNanoseconds()
            for c in self.connections.values where now &- c.lastActivity > EchoServer.idleTrimNanoseconds {
                c.trimBuffers()
            }
            self.startSweeping()
        }
    }
}
