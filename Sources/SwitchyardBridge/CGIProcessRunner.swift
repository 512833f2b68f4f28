import Glibc
import SwitchyardOS
import SwitchyardGatewayCodecs

/// One CGI process and the relay of its pipes, shared by the SCGI and FastCGI bridges.
///
/// The process is started by `PipedChild`, as mod_cgi starts its CGIs: the child gets blocking
/// pipe ends (CGIs such as the seed `ws_echo.py` quit on EAGAIN and read one frame field per
/// `read()`); our ends are non-blocking and sit on the loop. stderr is the bridge's own stderr,
/// which the gateway logs.
///
/// Backpressure in both directions, memory bounded per request:
/// - stdin: bytes the pipe does not take are queued; `stdinHasRoom` turns false at `stdinBound`
///   and the owner stops reading the front end until `cgiStdinDrained`.
/// - stdout: the owner calls `pauseStdout()` when its socket is behind; we then stop reading the
///   pipe (the CGI blocks in `write`), at most `readChunk` bytes are in hand at a time.
///
/// Paused or idle descriptors are taken off epoll rather than registered with an empty mask:
/// epoll reports HUP/ERR regardless of the mask, and with level triggering a hung-up pipe we are
/// not reading would wake the loop forever.
///
/// Requests can queue stdin before `start` (FastCGI STDIN may trail PARAMS in the same read);
/// the queue is flushed once the process exists.
final class CGIProcessRunner: EventHandler {
    static let stdinBound = 256 * 1024
    static let readChunk = 64 * 1024
    static let pipeSize: Int32 = 1 << 20

    let context: BridgeContext
    weak var delegate: CGIProcessRunnerDelegate?
    /// For log lines.
    private(set) var scriptPath = ""

    private var child: ChildProcess?
    private var stdinFD: Int32 = -1
    private var stdoutFD: Int32 = -1
    private let stdinQueue = ByteBuffer(capacity: 4096)
    private let readBuffer = ByteBuffer(capacity: CGIProcessRunner.readChunk)
    private var started = false
    private var stdinCloseRequested = false
    /// stdin is gone (closed by us or by the CGI): further input is discarded.
    private var stdinDone = false
    private var stdinRegistered = false
    private var stdinWasFull = false
    private var stdoutPaused = false
    private var stdoutRegistered = false
    private(set) var stdoutEOF = false
    private(set) var exitStatus: ExitStatus?
    private var finishedReported = false
    private var detached = false

    init(context: BridgeContext) {
        self.context = context
    }

    // MARK: starting

    /// Checks that `path` names an executable regular file: 404 when absent, 403 otherwise.
    static func checkScript(_ path: String?) -> CGISpawnError? {
        guard let path, !path.isEmpty else { return CGISpawnError(status: 500, "request has no SCRIPT_FILENAME") }
        guard path.hasPrefix("/") else { return CGISpawnError(status: 500, "SCRIPT_FILENAME is not absolute: \(path)") }
        var st = stat()
        if stat(path, &st) != 0 {
            let e = errno
            if e == ENOENT || e == ENOTDIR { return CGISpawnError(status: 404, "no such script: \(path)") }
            return CGISpawnError(status: 403, "cannot stat \(path): \(String(cString: strerror(e)))")
        }
        guard st.st_mode & S_IFMT == S_IFREG else { return CGISpawnError(status: 403, "not a regular file: \(path)") }
        guard access(path, X_OK) == 0 else { return CGISpawnError(status: 403, "not executable: \(path)") }
        return nil
    }

    /// Spawns `SCRIPT_FILENAME` with the request's variables (plus PATH when the request has
    /// none), in the script's directory.
    func start(environment: CGIEnvironment) throws(CGISpawnError) {
        precondition(!started)
        let script = environment["SCRIPT_FILENAME"]
        if let problem = CGIProcessRunner.checkScript(script) { throw problem }
        let path = script!
        scriptPath = path
        var env = environment
        if !env.contains("PATH") { env.set("PATH", context.fallbackPath) }

        let slash = path.lastIndex(of: "/")!
        let dir = slash == path.startIndex ? "/" : String(path[..<slash])
        let ctx = context
        let piped: PipedChild
        do {
            // stderr is inherited: the bridge's own, which the gateway logs. The real exit
            // handler is installed below, once the pid is known.
            piped = try PipedChild.spawn(path: path, arguments: [path], environment: env.envpBytes(), workingDirectory: dir,
                                         pipeSize: CGIProcessRunner.pipeSize, stderr: 2, on: context.loop) { _ in }
        } catch {
            throw CGISpawnError(status: 500, "cannot run \(path): \(error)")
        }
        let spawned = piped.process
        // The pidfd watcher reaps; the context counts it until then, whatever happens to us.
        let pid = spawned.pid
        context.childStarted(spawned)
        spawned.setOnExit { [weak self] status in
            if case .signaled(let sig) = status, sig != SIGTERM && sig != SIGKILL {
                ctx.log.error("\(path): child \(status)")
            }
            ctx.childExited(pid)
            self?.childExited(status)
        }
        child = spawned
        stdinFD = piped.stdinWrite
        stdoutFD = piped.stdoutRead
        started = true
        if detached { release(); return }
        updateStdoutRegistration()
        if stdinDone {
            closeStdinNow()
        } else {
            flushStdin()
        }
    }

    // MARK: stdin

    /// False while the stdin queue is at its bound: stop feeding until `cgiStdinDrained`.
    var stdinHasRoom: Bool { stdinDone || stdinQueue.readableBytes < CGIProcessRunner.stdinBound }

    /// Queues request bytes for the CGI (written at once when the pipe takes them). Bytes after
    /// stdin was closed, or after the CGI stopped reading, are dropped.
    ///
    /// With `flush: false` the bytes are only queued, so that consecutive pieces (FastCGI STDIN
    /// records from one read) reach the pipe in one `write`: CGIs that do one `read()` per
    /// WebSocket frame field (the seed `ws_echo.py`) then see a frame whole. Call `flushStdin()`.
    func writeStdin(_ bytes: UnsafeRawBufferPointer, flush: Bool = true) {
        guard !stdinDone, !stdinCloseRequested, bytes.count > 0 else { return }
        if !flush {
            stdinQueue.append(bytes)
            if stdinQueue.readableBytes >= CGIProcessRunner.stdinBound { flushStdin() }
            if !stdinHasRoom { stdinWasFull = true }
            return
        }
        if started && stdinQueue.isEmpty {
            switch Syscall.write(stdinFD, bytes.baseAddress!, bytes.count) {
            case .bytes(let n):
                if n == bytes.count { return }
                stdinQueue.append(UnsafeRawBufferPointer(rebasing: bytes[n...]))
            case .wouldBlock, .eof:
                stdinQueue.append(bytes)
            case .error:
                stdinGone()
                return
            }
        } else {
            stdinQueue.append(bytes)
        }
        if !stdinHasRoom { stdinWasFull = true }
        updateStdinRegistration()
    }

    /// Closes the CGI's stdin once the queued bytes are written (the CGI sees EOF).
    func closeStdin() {
        guard !stdinDone, !stdinCloseRequested else { return }
        stdinCloseRequested = true
        if started && stdinQueue.isEmpty { closeStdinNow() }
    }

    /// Writes queued stdin bytes now (as far as the pipe takes them).
    func flushStdin() {
        guard started, !stdinDone else { return }
        while !stdinQueue.isEmpty {
            switch Syscall.write(stdinFD, stdinQueue.readPointer, stdinQueue.readableBytes) {
            case .bytes(let n):
                stdinQueue.consume(n)
            case .wouldBlock, .eof:
                updateStdinRegistration()
                notifyIfDrained()
                return
            case .error:
                stdinGone()
                return
            }
        }
        if stdinCloseRequested { closeStdinNow() } else { updateStdinRegistration() }
        notifyIfDrained()
    }

    private func notifyIfDrained() {
        guard stdinWasFull, stdinHasRoom else { return }
        stdinWasFull = false
        delegate?.cgiStdinDrained(self)
    }

    /// EPIPE or an error on stdin: the CGI no longer reads (it may have exited early). Stop
    /// writing but keep draining its stdout: its last words may still be in the pipe.
    private func stdinGone() {
        stdinQueue.clear()
        closeStdinNow()
        if stdinWasFull {
            stdinWasFull = false
            delegate?.cgiStdinDrained(self)
        }
    }

    private func closeStdinNow() {
        stdinDone = true
        stdinQueue.clear()
        if stdinRegistered { context.loop.unregister(fd: stdinFD); stdinRegistered = false }
        if stdinFD >= 0 { Syscall.close(stdinFD); stdinFD = -1 }
    }

    private func updateStdinRegistration() {
        guard started, stdinFD >= 0 else { return }
        let want = !stdinQueue.isEmpty
        if want && !stdinRegistered {
            do { try context.loop.register(fd: stdinFD, events: .output, handler: self); stdinRegistered = true }
            catch { context.log.error("epoll: \(error)"); stdinGone() }
        } else if !want && stdinRegistered {
            context.loop.unregister(fd: stdinFD)
            stdinRegistered = false
        }
    }

    // MARK: stdout

    func pauseStdout() {
        guard !stdoutPaused else { return }
        stdoutPaused = true
        updateStdoutRegistration()
    }

    func resumeStdout() {
        guard stdoutPaused else { return }
        stdoutPaused = false
        updateStdoutRegistration()
    }

    private func updateStdoutRegistration() {
        guard started, stdoutFD >= 0 else { return }
        let want = !stdoutPaused && !stdoutEOF
        if want && !stdoutRegistered {
            do { try context.loop.register(fd: stdoutFD, events: .input, handler: self); stdoutRegistered = true }
            catch { context.log.error("epoll: \(error)"); stdoutClosed() }
        } else if !want && stdoutRegistered {
            context.loop.unregister(fd: stdoutFD)
            stdoutRegistered = false
        }
    }

    /// Reads what the pipe holds, a bounded number of rounds unless it hung up (then to EOF: the
    /// last data and the hang-up can come in one event).
    private func readStdout(hangup: Bool) {
        var rounds = 0
        while stdoutFD >= 0 && !stdoutPaused && !detached {
            rounds += 1
            if rounds > 8 && !hangup { return }
            readBuffer.clear()
            switch readBuffer.read(from: stdoutFD, minimumSpace: CGIProcessRunner.readChunk, maximum: CGIProcessRunner.readChunk) {
            case .bytes:
                delegate?.cgiStdout(self, readBuffer.readable)
            case .wouldBlock:
                return
            case .eof:
                stdoutClosed()
                return
            case .error(let e):
                context.log.error("\(scriptPath): read(stdout): \(String(cString: strerror(e)))")
                stdoutClosed()
                return
            }
        }
    }

    private func stdoutClosed() {
        guard !stdoutEOF else { return }
        stdoutEOF = true
        if stdoutRegistered { context.loop.unregister(fd: stdoutFD); stdoutRegistered = false }
        Syscall.close(stdoutFD)
        stdoutFD = -1
        delegate?.cgiStdoutClosed(self)
        reportFinishedIfDone()
    }

    // MARK: events

    func handleEvent(fd: Int32, events: IOEvents) {
        if fd == stdinFD && stdinRegistered {
            if events.contains(.error) && !events.contains(.output) { stdinGone(); return }
            flushStdin()
            return
        }
        if fd == stdoutFD && stdoutRegistered {
            readStdout(hangup: events.contains(.hangup) || events.contains(.error))
        }
    }

    // MARK: ending

    private func childExited(_ status: ExitStatus) {
        exitStatus = status
        child = nil
        reportFinishedIfDone()
    }

    private func reportFinishedIfDone() {
        guard stdoutEOF, let status = exitStatus, !finishedReported else { return }
        finishedReported = true
        delegate?.cgiFinished(self, status: status)
    }

    var isRunning: Bool { child?.isRunning ?? false }

    /// The owner is done with the request (response complete): close our pipe ends and forget
    /// the owner. The process is left to finish on its own (and is reaped when it does).
    func release() {
        detached = true
        delegate = nil
        closeStdinNow()
        if stdoutFD >= 0 {
            if stdoutRegistered { context.loop.unregister(fd: stdoutFD); stdoutRegistered = false }
            Syscall.close(stdoutFD)
            stdoutFD = -1
        }
    }

    /// The front end went away or aborted: release, and TERM the process group (KILL after 5 s).
    func abort() {
        release()
        child?.terminate(grace: 5)
    }
}
