import Glibc
import SwitchyardOS
import SwitchyardBenchCore

/// One HTTP/2 connection of `h2ws` on a blocking socket (TLS with ALPN h2 through the project's
/// `TLSTransport` in client mode, or h2c with prior knowledge): the sans-I/O `H2WebSocketClient`
/// plus reads and writes. Blocking is enough here: each connection has a thread of its own and
/// waits for its echoes; a receive timeout turns a stalled server into an error, not a hang.
final class H2WebSocketConnection {
    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    let fd: Int32
    let tls: TLSTransport?
    var client = H2WebSocketClient()
    let buffer = ByteBuffer(capacity: 64 << 10)
    let authority: String
    let scheme: String

    init(port: Int, tlsContext: TLSClientContext?, timeoutSeconds: Int = 10) throws(Failure) {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard s >= 0 else { throw Failure("socket: \(String(cString: strerror(errno)))") }
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        setsockopt(s, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard ok == 0 else {
            let why = String(cString: strerror(errno))
            Glibc.close(s)
            throw Failure("connect to 127.0.0.1:\(port): \(why)")
        }
        fd = s
        authority = "127.0.0.1:\(port)"
        scheme = tlsContext == nil ? "http" : "https"
        guard let tlsContext else {
            tls = nil
            return
        }
        do {
            tls = try TLSTransport(fd: s, client: tlsContext, serverName: nil)
        } catch {
            Glibc.close(s)
            throw Failure("TLS: \(error)")
        }
        guard case .bytes = tls!.handshake() else {
            let why = tls!.failureReason ?? "handshake failed"
            tls!.close()
            throw Failure("TLS handshake with 127.0.0.1:\(port): \(why)")
        }
        guard tls!.negotiatedALPN == "h2" else {
            let got = tls!.negotiatedALPN ?? "none"
            tls!.close()
            throw Failure("127.0.0.1:\(port) did not choose h2 by ALPN (got \(got))")
        }
    }

    func close() {
        if let tls { tls.close() } else { Glibc.close(fd) }
    }

    /// Sends everything the client has queued.
    func flush() throws(Failure) {
        let bytes = client.takeOutput()
        var sent = 0
        while sent < bytes.count {
            let r: IOResult = bytes.withUnsafeBytes { raw in
                let rest = UnsafeRawBufferPointer(rebasing: raw[sent...])
                if let tls { return tls.send(rest, UnsafeRawBufferPointer(start: nil, count: 0), more: false) }
                let n = Glibc.send(fd, rest.baseAddress, rest.count, Int32(MSG_NOSIGNAL))
                return n >= 0 ? .bytes(n) : (errno == EAGAIN ? .wouldBlock : .error(errno))
            }
            switch r {
            case .bytes(let n): sent += n
            case .wouldBlock: throw Failure("send timed out")
            case .eof: throw Failure("the server closed the connection")
            case .error(let e): throw Failure("send: \(String(cString: strerror(e)))")
            }
        }
    }

    /// One read (blocking up to the receive timeout); the events it completed.
    func receive() throws(Failure) -> [H2WebSocketClient.Event] {
        buffer.clear()
        let r = tls.map { $0.receive(into: buffer, minimumSpace: 64 << 10) } ?? buffer.read(from: fd, minimumSpace: 64 << 10)
        switch r {
        case .bytes(let n) where n > 0: break
        case .bytes, .eof: throw Failure("the server closed the connection")
        case .wouldBlock: throw Failure("no answer within the receive timeout")
        case .error(let e): throw Failure("receive: \(tls?.failureReason ?? String(cString: strerror(e)))")
        }
        do {
            return try client.receive(buffer.readable)
        } catch {
            throw Failure(error.description)
        }
    }

    /// Waits for the server's SETTINGS (RFC 8441 needs SETTINGS_ENABLE_CONNECT_PROTOCOL first).
    func awaitSettings() throws(Failure) {
        try flush()
        while !client.settingsReceived { _ = try receive() }
        try flush()
        guard client.connectProtocolEnabled else { throw Failure("the server does not allow extended CONNECT (RFC 8441)") }
    }

    /// Opens `count` WebSocket streams on `path` and waits until each answered 200; their ids.
    func openWebSockets(_ count: Int, path: String) throws(Failure) -> [UInt32] {
        var ids: [UInt32] = []
        for _ in 0..<count {
            do { ids.append(try client.openWebSocket(authority: authority, path: path, scheme: scheme)) } catch { throw Failure(error.description) }
        }
        try flush()
        var waiting = Set(ids)
        while !waiting.isEmpty {
            for event in try receive() {
                switch event {
                case .opened(let id, let status):
                    guard status == 200 else { throw Failure("CONNECT \(path) answered \(status), expected 200") }
                    waiting.remove(id)
                case .closed(let id, let code) where waiting.contains(id):
                    throw Failure("stream \(id) ended before its 200 (\(code.map { "\($0)" } ?? "END_STREAM"))")
                case .goAway(_, let code): throw Failure("GOAWAY \(code) while opening streams")
                default: break
                }
            }
            try flush()
        }
        return ids
    }
}
