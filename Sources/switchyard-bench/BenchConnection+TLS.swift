import Glibc
import SwitchyardOS

/// wss:// and https:// (the project's `TLSTransport` in client mode), and handshakes mode's plain
/// GET: connect, handshake, one request with `Connection: close`, the response read up to the
/// server's close. With `--resume` each connection offers the session its previous one saved, so
/// the cycle measures abbreviated handshakes (counted in `stats.resumed` when the server agreed).
extension BenchConnection {
    /// Starts the TLS session on the connected socket.
    func startTLS() {
        guard let client = context.tls else { return }
        do {
            tls = try TLSTransport(fd: fd, client: client, serverName: context.url.host,
                                   resuming: context.options.resume ? savedSession : nil)
        } catch {
            fail("TLS with \(target): \(error)")
            return
        }
        state = .tlsHandshaking
        continueTLSHandshake()
    }

    func continueTLSHandshake() {
        guard let tls else { return }
        switch tls.handshake() {
        case .bytes:
            startRequest()
        case .wouldBlock:
            worker.loop.setInterest(fd: fd, tls.wantsWritability ? [.input, .output] : .input)
        case .eof:
            fail("\(target) closed the connection during the TLS handshake")
        case .error(let e):
            fail("TLS handshake with \(target) failed: \(tls.failureReason ?? String(cString: strerror(e)))")
        }
    }

    /// One read into `input`, decrypted when the connection runs over TLS.
    @inline(__always)
    func receiveSome() -> IOResult {
        if let tls { return tls.receive(into: input, minimumSpace: context.readChunk) }
        return input.read(from: fd, minimumSpace: context.readChunk)
    }

    /// One write from `output` (consuming what was sent), encrypted over TLS.
    @inline(__always)
    func sendSome() -> IOResult {
        guard let tls else { return output.write(to: fd) }
        guard output.readableBytes > 0 else { return .bytes(0) }
        let r = tls.send(output.readable, UnsafeRawBufferPointer(start: nil, count: 0), more: false)
        switch r {
        case .bytes(let n):
            output.consume(n)
            return r
        case .eof:
            return .error(EPIPE)   // the peer is gone: the caller's write loop must not spin on it
        case .wouldBlock, .error:
            return r
        }
    }

    /// handshakes mode: checks the status line once, then discards whatever follows (the body is
    /// read only so that the server's close comes after it).
    func processResponse() {
        if !responseChecked {
            guard input.readableBytes >= 12 else { return }
            let head = Array(input.readable.prefix(12))
            let ok = head.starts(with: Array("HTTP/1.".utf8)) && Array(head[8..<12]) == Array(" 200".utf8)
            guard ok else {
                fail("GET \(context.url.path) from \(target) did not answer 200:\n" + BenchConnection.quoted(input.readable))
                return
            }
            responseChecked = true
        }
        input.clear()
    }

    /// --resume: keeps the newest session (TLS 1.3 tickets arrive after the handshake, so this
    /// runs when the cycle is over) for the next connection.
    func saveSession() {
        guard context.options.resume, let tls, let session = tls.session else { return }
        savedSession = session
    }
}
