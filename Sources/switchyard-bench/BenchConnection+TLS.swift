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

    /// handshakes mode: checks the head (status 200) once, then counts the body off; the cycle
    /// ends when the Content-Length is in, as a browser's would, without waiting for the server's
    /// close (whose timing after a close_notify differs between servers). Without a
    /// Content-Length it ends at the server's close (`handleEOF`).
    func processResponse(now: UInt64) {
        if !responseChecked {
            let bytes = input.readable
            guard let end = HTTPResponseHead.end(of: bytes) else {
                if input.readableBytes > 16 << 10 { fail("response head from \(target) longer than 16 KiB") }
                return
            }
            guard let head = HTTPResponseHead(bytes.prefix(end)), head.status == 200 else {
                fail("GET \(context.url.path) from \(target) did not answer 200:\n" + BenchConnection.quoted(input.readable))
                return
            }
            input.consume(end)
            bodyRemaining = head.contentLength ?? -1
            responseChecked = true
        }
        if bodyRemaining >= 0 {
            let n = min(input.readableBytes, bodyRemaining)
            bodyRemaining -= n
            if bodyRemaining == 0 {
                cycleDone(now: now)
                return
            }
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

/// The two things handshakes mode needs of a response head: where it ends and what it says.
struct HTTPResponseHead {
    let status: Int
    let contentLength: Int?

    /// Offset just past the blank line ending the head, nil while incomplete.
    static func end(of bytes: UnsafeRawBufferPointer) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for i in 3..<bytes.count where bytes[i] == 0x0A && bytes[i - 1] == 0x0D && bytes[i - 2] == 0x0A && bytes[i - 3] == 0x0D {
            return i + 1
        }
        return nil
    }

    init?(_ bytes: Slice<UnsafeRawBufferPointer>) {
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\r\n")
        guard let first = lines.first, first.hasPrefix("HTTP/1."), let code = first.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else {
            return nil
        }
        status = code
        contentLength = lines.dropFirst().first(where: { $0.lowercased().hasPrefix("content-length:") })
            .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: " \t")) }
    }
}
