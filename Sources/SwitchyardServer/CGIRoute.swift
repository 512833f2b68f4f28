import Glibc
import SwitchyardOS
import SwitchyardHTTP
import SwitchyardGatewayCodecs

/// mod_cgi: finds the script for a request under the document root (splitting PATH_INFO the way
/// lighttpd does), spawns it with pipes, and hands the exchange to `GatewayExchange`.
enum CGIRoute {
    static func route(cgi: CGISettings, context: RequestContext, connection: any ClientExchange) -> RoutedRequest? {
        let root = context.root
        guard let (scriptBelowRoot, scriptFile, pathInfo) = locateScript(root: root, path: context.physicalPath) else { return nil }
        let scriptURL = context.urlPrefix + scriptBelowRoot
        guard let (interpreter, statsID) = cgi.assignment(for: scriptFile) else { return nil }
        let worker = connection.worker
        let stats = statsID >= 0 ? worker.stats.route(statsID) : nil
        func fixed(_ status: Int, _ log: String) -> RoutedRequest {
            worker.errorLog.error("cgi \(scriptFile)", log)
            var r = RoutedRequest(handler: FixedResponseHandler(status: status, connection: connection), wantsBody: false, bodyLimit: 0)
            r.stats = stats
            return r
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
        if upgradeCandidate, context.settings.websocket.checksOrigins, let status = context.settings.websocket.refusal(context.head, label: "cgi \(scriptFile)", log: worker.errorLog) {
            // websocket.origins: refused before the script is spawned.
            return RoutedRequest(handler: FixedResponseHandler(status: status, connection: connection), wantsBody: false, bodyLimit: 0)
        }
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
        let dir = String(scriptFile[..<(scriptFile.lastIndex(of: "/") ?? scriptFile.endIndex)])
        let program = CGIProgram(path: interpreter.isEmpty ? scriptFile : interpreter,
                                 arguments: interpreter.isEmpty ? [scriptFile] : [interpreter, scriptFile],
                                 directory: dir.isEmpty ? "/" : dir, label: label)
        do {
            try start(program, env: env, request: BackendRequest(info: info, bodyLength: info.contentLength),
                      exchange: exchange, worker: worker)
        } catch {
            return fixed(500, "spawn failed: \(error)")
        }
        var routed = RoutedRequest(handler: exchange, wantsBody: true, bodyLimit: context.settings.maxRequestSize)
        routed.stats = stats
        return routed
    }

    struct CGIProgram {
        var path: String
        var arguments: [String]
        var directory: String
        var label: String
    }

    /// Spawns the program with pipes and attaches it to the exchange. On any failure nothing is left
    /// behind: descriptors closed, the child (if it started) stopped and still reaped.
    private static func start(_ program: CGIProgram, env: CGIEnvironment, request: BackendRequest,
                              exchange: GatewayExchange, worker: Worker) throws {
        let label = program.label
        let children = worker.cgiChildren
        let piped = try PipedChild.spawn(path: program.path, arguments: program.arguments, environment: env.envpBytes(),
                                         workingDirectory: program.directory, pipeSize: 1 << 20, stderr: nil,
                                         on: worker.loop) { _ in }
        let child = piped.process
        children.add(child)
        let stream = FDBackendStream(loop: worker.loop, codec: CGIPipeCodec(), readFD: piped.stdoutRead,
                                     writeFD: piped.stdinWrite, connecting: false, label: label)
        let stderrReader = StderrReader(fd: piped.stderrRead, loop: worker.loop, log: worker.errorLog, label: label)
        // Keep the stderr reader alive until the child has been reaped; the cycle child -> callback
        // -> child ends when the callback runs.
        child.setOnExit { status in
            _ = stderrReader
            children.exited(child, label: label)
            if case .signaled(let sig) = status, sig != SIGTERM && sig != SIGKILL {
                worker.errorLog.warning(label, "child \(status)")
            }
        }
        do {
            try stream.register()
            try stderrReader.register()
        } catch {
            stream.closeUnregistered()
            stderrReader.close()
            child.terminate(grace: CGIChildren.killGrace)
            throw error
        }
        exchange.attach(stream)
        exchange.onFinish = { [weak child] clean in
            if let child { children.exchangeEnded(child, clean: clean) }
        }
        do { try stream.start(request) } catch {
            exchange.abort()   // closes the stream, stops the child
            throw error
        }
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
    private var lines = LineSplitter()
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
                buf.withUnsafeBytes { lines.feed(UnsafeRawBufferPointer(rebasing: $0[..<n])) { log.stderrLine(label, $0) } }
            case .wouldBlock:
                return
            case .eof, .error:
                lines.finish { log.stderrLine(label, $0) }
                close()
            }
        }
    }

    func close() {
        guard !closed else { return }
        closed = true
        loop.unregister(fd: fd)
        Glibc.close(fd)
    }
}
