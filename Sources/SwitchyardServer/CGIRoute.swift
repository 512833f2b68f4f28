import Glibc
import SwitchyardOS
import SwitchyardHTTP
import SwitchyardGatewayCodecs

/// mod_cgi: finds the script for a request under the document root (splitting PATH_INFO the way
/// lighttpd does), spawns it with pipes, and hands the exchange to `GatewayExchange`.
enum CGIRoute {
    static func route(cgi: CGISettings, context: RequestContext, connection: HTTPConnection) -> RoutedRequest? {
        let root = context.settings.documentRoot
        guard let (scriptURL, scriptFile, pathInfo) = locateScript(root: root, path: context.path) else { return nil }
        guard let interpreter = cgi.interpreter(for: scriptFile) else { return nil }
        let worker = connection.worker
        func fixed(_ status: Int, _ log: String) -> RoutedRequest {
            worker.errorLog.error("cgi \(scriptFile)", log)
            return RoutedRequest(handler: FixedResponseHandler(status: status, connection: connection), wantsBody: false, bodyLimit: 0)
        }
        if let reason = CGIScriptGuard.denial(scriptFile: scriptFile, root: root, settings: context.settings, cgi: cgi) {
            return fixed(403, reason)
        }
        if interpreter.isEmpty || cgi.executeXOnly {
            if access(scriptFile, X_OK) != 0 {
                return fixed(403, "not executable (cgi.execute-x-only / no interpreter): 403")
            }
        }
        let allowUpgrade = cgi.upgrade
        let upgradeCandidate = allowUpgrade && CGIRequestInfo.wantsWebSocket(context.head)
        var info = CGIRequestInfo.from(context: context, connection: connection, scriptName: scriptURL,
                                       scriptFilename: scriptFile, pathInfo: pathInfo, documentRoot: root,
                                       allowUpgrade: upgradeCandidate)
        if context.head.isChunked { info.contentLength = nil }
        var env = CGIEnvironmentBuilder.build(info)
        // The only variable taken from the gateway's own environment (lighttpd passes PATH too, and
        // nothing else unless configured): a CGI needs PATH to find its helpers.
        env.set("PATH", worker.serverInstance.childPath)
        if context.head.isChunked {
            // The body is de-chunked on the fly; its length is not known in advance (lighttpd
            // buffers to learn it; we stream and let the script read to EOF).
            _ = env.remove("CONTENT_LENGTH")
        }

        if env.spawnSize > CGIEnvironment.maxSpawnSize {
            return fixed(431, "request headers make a CGI environment of \(env.spawnSize) bytes, over \(CGIEnvironment.maxSpawnSize): 431")
        }
        let label = "cgi \(scriptFile)"
        let nph = scriptFile.split(separator: "/").last.map { $0.hasPrefix("nph-") } ?? false
        let exchange = GatewayExchange(connection: connection, context: context, label: label,
                                       upgradeCandidate: upgradeCandidate, localRedirect: cgi.localRedirect,
                                       nph: nph, readTimeout: cgi.readTimeout, writeTimeout: cgi.writeTimeout)
        do {
            let stdinPipe = try Pipe.make(size: 1 << 20)
            let stdoutPipe: (read: Int32, write: Int32)
            do { stdoutPipe = try Pipe.make(size: 1 << 20) } catch { close(stdinPipe.read); close(stdinPipe.write); throw error }
            let stderrPipe: (read: Int32, write: Int32)
            do { stderrPipe = try Pipe.make() } catch {
                close(stdinPipe.read); close(stdinPipe.write); close(stdoutPipe.read); close(stdoutPipe.write); throw error
            }
            // The child's ends must be blocking (the seed ws_echo.py quits on EAGAIN).
            Socket.setNonBlocking(stdinPipe.read, false)
            Socket.setNonBlocking(stdoutPipe.write, false)
            Socket.setNonBlocking(stderrPipe.write, false)
            let dir = String(scriptFile[..<(scriptFile.lastIndex(of: "/") ?? scriptFile.endIndex)])
            let args = interpreter.isEmpty ? [scriptFile] : [interpreter, scriptFile]
            let request = SpawnRequest(path: interpreter.isEmpty ? scriptFile : interpreter, arguments: args,
                                       environmentBytes: env.envpBytes(), stdin: stdinPipe.read, stdout: stdoutPipe.write,
                                       stderr: stderrPipe.write, workingDirectory: dir.isEmpty ? "/" : dir)
            let child: ChildProcess
            do {
                child = try ChildProcess.spawn(request, on: worker.loop) { status in
                    if case .signaled(let sig) = status, sig != SIGTERM && sig != SIGKILL {
                        worker.errorLog.warning(label, "child \(status)")
                    }
                }
            } catch {
                for fd in [stdinPipe.read, stdinPipe.write, stdoutPipe.read, stdoutPipe.write, stderrPipe.read, stderrPipe.write] { close(fd) }
                return fixed(500, "spawn failed: \(error)")
            }
            close(stdinPipe.read)
            close(stdoutPipe.write)
            close(stderrPipe.write)
            let stream = FDBackendStream(loop: worker.loop, codec: CGIPipeCodec(), readFD: stdoutPipe.read,
                                         writeFD: stdinPipe.write, connecting: false, label: label)
            try stream.register()
            let stderrReader = StderrReader(fd: stderrPipe.read, loop: worker.loop, log: worker.errorLog, label: label)
            try? stderrReader.register()
            exchange.attach(stream)
            exchange.onFinish = { [weak child] clean in
                // A CGI still running when its exchange is over gets TERM, then KILL: at once when
                // the client went away, after 10 s when the response was complete (it may be
                // finishing up after writing its last byte).
                guard let child, child.isRunning else { return }
                worker.loop.schedule(afterSeconds: clean ? 10 : 0.05) { [weak child] in
                    guard let child, child.isRunning else { return }
                    child.terminate(grace: 5)
                }
            }
            // Keep the child (and its stderr reader) alive until it has been reaped.
            child.setOnExit { status in
                _ = stderrReader
                if case .signaled(let sig) = status, sig != SIGTERM && sig != SIGKILL {
                    worker.errorLog.warning(label, "child \(status)")
                }
            }
            try stream.start(env: env, contentLength: context.head.contentLength ?? 0)
        } catch {
            return fixed(500, "cannot start: \(error)")
        }
        return RoutedRequest(handler: exchange, wantsBody: true, bodyLimit: context.settings.maxRequestSize)
    }

    /// Splits the URL path into the script and PATH_INFO by walking up from the full path until a
    /// regular file exists (lighttpd's physical-path rule). Returns nil when nothing under the
    /// document root matches or the path names a directory.
    static func locateScript(root: String, path: String) -> (scriptURL: String, scriptFile: String, pathInfo: String)? {
        var url = path
        var pathInfo = ""
        while true {
            let file = StaticFileHandler.join(root, url)
            var st = stat()
            if stat(file, &st) == 0 {
                if (st.st_mode & S_IFMT) == S_IFREG { return (url, file, pathInfo) }
                return nil
            }
            guard let slash = url.lastIndex(of: "/"), slash != url.startIndex else { return nil }
            pathInfo = String(url[slash...]) + pathInfo
            url = String(url[..<slash])
        }
    }
}

/// Reads a CGI's stderr and writes it to the error log line by line.
final class StderrReader: EventHandler {
    let fd: Int32
    let loop: EventLoop
    let log: ErrorLog
    let label: String
    private var line: [UInt8] = []
    private var closed = false

    init(fd: Int32, loop: EventLoop, log: ErrorLog, label: String) {
        self.fd = fd
        self.loop = loop
        self.log = log
        self.label = label
    }

    func register() throws { try loop.register(fd: fd, events: .input, handler: self) }

    func handleEvent(fd: Int32, events: IOEvents) {
        var buf = [UInt8](repeating: 0, count: 4096)
        while !closed {
            let r = buf.withUnsafeMutableBytes { Syscall.read(fd, $0.baseAddress!, $0.count) }
            switch r {
            case .bytes(let n):
                for b in buf[..<n] {
                    if b == 10 { emit() } else if line.count < 8192 { line.append(b) }
                }
            case .wouldBlock:
                return
            case .eof, .error:
                if !line.isEmpty { emit() }
                closed = true
                loop.unregister(fd: fd)
                close(fd)
            }
        }
    }

    private func emit() {
        if line.last == 13 { line.removeLast() }
        log.error(label, "stderr: " + String(decoding: line, as: UTF8.self))
        line.removeAll(keepingCapacity: true)
    }
}
