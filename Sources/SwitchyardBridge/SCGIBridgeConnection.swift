import Glibc
import SwitchyardOS
import SwitchyardGatewayCodecs

/// One SCGI connection = one request = one CGI process.
///
/// After the header netstring the connection is a plain byte pipe to the CGI. Unlike lighttpd's
/// scgi-cgi 0.1.1, which forwards exactly CONTENT_LENGTH bytes and so can never carry a
/// WebSocket, an upgrade request (HTTP_UPGRADE present) forwards every byte the front end sends
/// until it half-closes, immediately and unmodified, in both directions. A classic request gets
/// CONTENT_LENGTH bytes and then EOF on stdin (CGIs read to EOF); anything beyond is dropped.
/// The response ends when the CGI's stdout reaches EOF: flush, half-close, close.
final class SCGIBridgeConnection: BridgeConnection, BridgeSocketDelegate, CGIProcessRunnerDelegate {
    private enum Phase { case header, body, finishing, closed }

    let context: BridgeContext
    let socket: BridgeSocket
    private var decoder = SCGIRequestDecoder()
    private var phase = Phase.header
    private var runner: CGIProcessRunner?
    private var upgrade = false
    /// Declared body bytes not yet forwarded (non-upgrade requests).
    private var bodyRemaining = 0
    private var receivedAnything = false

    init(fd: Int32, context: BridgeContext) {
        self.context = context
        socket = BridgeSocket(fd: fd, loop: context.loop, inputLimit: 256 * 1024)
        socket.delegate = self
        context.adopt(self)
        socket.start()
    }

    // MARK: front end -> CGI

    func socketReceived(_ socket: BridgeSocket) {
        receivedAnything = true
        switch phase {
        case .header:
            do {
                guard let (env, consumed) = try decoder.feed(socket.inBuffer.readable) else {
                    socket.inBuffer.consume(socket.inBuffer.readableBytes)  // the decoder kept a copy
                    return
                }
                socket.inBuffer.consume(consumed)
                startRequest(env)
                if phase == .body { forwardBody() }
            } catch {
                // Nothing was started and the socket is fine: the front end gets a 400 saying why.
                socket.inBuffer.consume(socket.inBuffer.readableBytes)
                respondWithError(CGISpawnError(status: 400, "malformed SCGI request: \(error)"))
            }
        case .body:
            forwardBody()
        case .finishing, .closed:
            socket.inBuffer.consume(socket.inBuffer.readableBytes)
        }
    }

    private func startRequest(_ env: CGIEnvironment) {
        bodyRemaining = Int(env["CONTENT_LENGTH"] ?? "0") ?? 0
        upgrade = !(env["HTTP_UPGRADE"] ?? "").isEmpty
        guard context.canSpawn else {
            respondWithError(CGISpawnError(status: 503, "too many CGI processes (\(context.options.maxChildren))"))
            return
        }
        let runner = CGIProcessRunner(context: context)
        runner.delegate = self
        do {
            try runner.start(environment: env)
        } catch {
            respondWithError(error)
            return
        }
        self.runner = runner
        phase = .body
        if !upgrade && bodyRemaining == 0 { runner.closeStdin() }
    }

    private func respondWithError(_ error: CGISpawnError) {
        context.log.error("\(error.message) -> \(error.status)")
        phase = .finishing
        socket.write(error.cgiResponse)
        socket.finishAfterFlush(linger: context.shuttingDown ? 0.2 : 5)
    }

    /// Moves buffered front-end bytes to the CGI's stdin, pausing the socket when stdin is full.
    private func forwardBody() {
        guard phase == .body, let runner else { return }
        let input = socket.inBuffer
        if input.readableBytes > 0 {
            if upgrade {
                runner.writeStdin(input.readable)
                input.consume(input.readableBytes)
            } else {
                let n = min(bodyRemaining, input.readableBytes)
                if n > 0 {
                    runner.writeStdin(UnsafeRawBufferPointer(start: input.readPointer, count: n))
                    bodyRemaining -= n
                    if bodyRemaining == 0 { runner.closeStdin() }
                }
                input.consume(input.readableBytes)  // bytes past CONTENT_LENGTH are not part of a classic request
            }
        }
        if !runner.stdinHasRoom { socket.pauseInput() }
    }

    func socketReadClosed(_ socket: BridgeSocket) {
        switch phase {
        case .header:
            if receivedAnything { context.log.error("SCGI connection closed in the middle of the request header") }
            phase = .closed
            socket.closeNow(error: nil)
        case .body:
            if !upgrade && bodyRemaining > 0 {
                context.log.error("front end closed with \(bodyRemaining) body bytes missing")
            }
            runner?.closeStdin()
        case .finishing, .closed:
            break
        }
    }

    func cgiStdinDrained(_ runner: CGIProcessRunner) {
        forwardBody()
        if runner.stdinHasRoom { socket.resumeInput() }
    }

    // MARK: CGI -> front end

    func cgiStdout(_ runner: CGIProcessRunner, _ bytes: UnsafeRawBufferPointer) {
        socket.write(bytes)
        if socket.isBehind { runner.pauseStdout() }
    }

    func socketWritable(_ socket: BridgeSocket) {
        runner?.resumeStdout()
    }

    func cgiStdoutClosed(_ runner: CGIProcessRunner) {
        // End of response. The process is left to exit on its own (stdin closes now) and is reaped.
        runner.release()
        self.runner = nil
        guard phase == .body else { return }
        phase = .finishing
        socket.finishAfterFlush(linger: context.shuttingDown ? 0.2 : 5)
    }

    func cgiFinished(_ runner: CGIProcessRunner, status: ExitStatus) {}

    // MARK: end

    func beginShutdown() {
        if phase == .header && !receivedAnything {
            phase = .closed
            socket.closeNow(error: nil)
        }
    }

    func socketClosed(_ socket: BridgeSocket, error: Int32?) {
        if let error, phase == .body, !socket.readClosed {
            context.log.error("front end connection lost: \(String(cString: strerror(error)))")
        }
        phase = .closed
        // Front end gone while the CGI still runs: it has nobody to talk to.
        runner?.abort()
        runner = nil
        context.release(self)
    }
}
