import Glibc
import CSwitchyardShims

/// How a child ended.
public enum ExitStatus: Equatable, CustomStringConvertible, Sendable {
    case exited(Int32)
    case signaled(Int32)
    public var description: String {
        switch self {
        case .exited(let c): return "exit status \(c)"
        case .signaled(let s): return "killed by signal \(s)"
        }
    }
}

/// What to run: the program, its arguments and environment, its standard descriptors and directory.
public struct SpawnRequest {
    public var path: String
    public var arguments: [String]
    public var environment: [String]      // "NAME=value"
    /// `NAME=value` as bytes, used instead of `environment` when set: a CGI's header variables
    /// may hold bytes that are not UTF-8 and must reach the script exactly.
    public var environmentBytes: [[UInt8]]?
    public var stdin: Int32
    public var stdout: Int32
    public var stderr: Int32
    public var workingDirectory: String?
    public var newProcessGroup: Bool

    public init(path: String, arguments: [String], environment: [String], stdin: Int32, stdout: Int32,
                stderr: Int32, workingDirectory: String? = nil, newProcessGroup: Bool = true) {
        self.path = path
        self.arguments = arguments
        self.environment = environment
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.workingDirectory = workingDirectory
        self.newProcessGroup = newProcessGroup
    }

    public init(path: String, arguments: [String], environmentBytes: [[UInt8]], stdin: Int32, stdout: Int32,
                stderr: Int32, workingDirectory: String? = nil, newProcessGroup: Bool = true) {
        self.init(path: path, arguments: arguments, environment: [], stdin: stdin, stdout: stdout, stderr: stderr,
                  workingDirectory: workingDirectory, newProcessGroup: newProcessGroup)
        self.environmentBytes = environmentBytes
    }
}

/// A spawned child watched through a pidfd on the owning loop: no SIGCHLD handler, no `waitpid(-1)`
/// that could steal another component's child, and the child is reaped the moment it exits.
///
/// Spawning goes through `posix_spawn` (vfork semantics: no copy of the server's address space, no
/// Swift code in the child), with every descriptor above 2 closed, an empty signal mask and default
/// signal dispositions, in its own process group so the whole tree can be signalled.
public final class ChildProcess: EventHandler {
    public let pid: pid_t
    public private(set) var status: ExitStatus?
    private var pidfd: Int32 = -1
    /// Strong until the child is reaped (`finish` lets go). A weak reference would give the loop a
    /// side table for good, and every retain and release of the loop (a relayed message makes
    /// several) would take the runtime's slow path: 4 % of a message's instructions on one stream.
    private var loop: EventLoop?
    private var onExit: ((ExitStatus) -> Void)?
    private var killTimer: TimerID?
    public let processGroup: Bool

    private init(pid: pid_t, processGroup: Bool) {
        self.pid = pid
        self.processGroup = processGroup
    }

    public static func spawn(_ request: SpawnRequest, on loop: EventLoop, onExit: @escaping (ExitStatus) -> Void) throws -> ChildProcess {
        let pid = try spawnRaw(request)
        let child = ChildProcess(pid: pid, processGroup: request.newProcessGroup)
        child.loop = loop
        child.onExit = onExit
        let fd = sy_pidfd_open(pid)
        if fd >= 0 {
            child.pidfd = fd
            do {
                try loop.register(fd: fd, events: .input, handler: child)
            } catch {
                // Nobody could reap it: it must not run on.
                Syscall.close(fd)
                child.pidfd = -1
                if child.processGroup { _ = Glibc.kill(-pid, SIGKILL) }
                _ = Glibc.kill(pid, SIGKILL)
                _ = waitpid(pid, nil, 0)
                throw error
            }
        } else {
            child.pollForExit()   // no pidfd (kernel < 5.3): look every 50 ms instead
        }
        return child
    }

    /// The fallback reaper without a pidfd: a timer that asks waitpid(WNOHANG) until the child is gone.
    private func pollForExit() {
        // Strong: like the pidfd registration, the timer keeps the child object until it is reaped.
        loop?.schedule(afterSeconds: 0.05) { [self] in
            guard self.status == nil else { return }
            self.reap(blocking: false)
            if self.status == nil { self.pollForExit() }
        }
    }

    /// posix_spawn without a watcher; the caller reaps.
    public static func spawnRaw(_ request: SpawnRequest) throws -> pid_t {
        var pid: pid_t = 0
        let argv = CStringArray([request.path.isEmpty ? "" : request.arguments.first ?? request.path] + request.arguments.dropFirst())
        let envp = request.environmentBytes.map { CStringArray(bytes: $0) } ?? CStringArray(request.environment)
        let rc: Int32 = request.path.withCString { path in
            if let cwd = request.workingDirectory {
                return cwd.withCString { cwdPtr in
                    sy_spawn(&pid, path, argv.pointers, envp.pointers, request.stdin, request.stdout, request.stderr, cwdPtr, request.newProcessGroup ? 1 : 0)
                }
            }
            return sy_spawn(&pid, path, argv.pointers, envp.pointers, request.stdin, request.stdout, request.stderr, nil, request.newProcessGroup ? 1 : 0)
        }
        if rc != 0 { throw SystemError("posix_spawn", errno: rc, context: request.path) }
        return pid
    }

    public func handleEvent(fd: Int32, events: IOEvents) {
        reap(blocking: false)
    }

    private func reap(blocking: Bool) {
        guard status == nil else { return }
        var exited: Int32 = 0, code: Int32 = 0
        let r = sy_waitpid_status(pid, &exited, &code, blocking ? 0 : 1)
        if r == pid {
            let st: ExitStatus = exited != 0 ? .exited(code) : .signaled(code)
            finish(st)
        } else if r < 0 && errno == ECHILD {
            finish(.exited(0))
        }
    }

    private func finish(_ st: ExitStatus) {
        status = st
        if pidfd >= 0 {
            loop?.unregister(fd: pidfd)
            Syscall.close(pidfd)
            pidfd = -1
        }
        if let t = killTimer { loop?.cancel(t) }
        killTimer = nil
        loop = nil   // nothing more to watch or signal
        let cb = onExit
        onExit = nil
        cb?(st)
    }

    public var isRunning: Bool { status == nil }

    public func signal(_ sig: Int32) {
        guard status == nil else { return }
        if processGroup { _ = Glibc.kill(-pid, sig) }
        _ = Glibc.kill(pid, sig)
    }

    /// SIGTERM now, SIGKILL after `grace` seconds if it is still there (the whole process group).
    public func terminate(grace: Double = 5) {
        guard status == nil, killTimer == nil else { return }
        signal(SIGTERM)
        killTimer = loop?.schedule(afterSeconds: grace) { [weak self] in
            guard let self, self.status == nil else { return }
            self.signal(SIGKILL)
        }
    }

    /// Replaces the exit callback (e.g. when the owner goes away but the child must still be reaped).
    public func setOnExit(_ cb: ((ExitStatus) -> Void)?) { onExit = cb }
}

/// NUL-terminated C string vector for argv/envp, freed on deinit.
final class CStringArray {
    let pointers: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
    let count: Int
    init(_ strings: [String]) {
        count = strings.count
        pointers = .allocate(capacity: strings.count + 1)
        for (i, s) in strings.enumerated() { pointers[i] = strdup(s) }
        pointers[strings.count] = nil
    }
    init(bytes lines: [[UInt8]]) {
        count = lines.count
        pointers = .allocate(capacity: lines.count + 1)
        for (i, line) in lines.enumerated() {
            let p = malloc(line.count + 1)!.assumingMemoryBound(to: CChar.self)   // freed with free(), like strdup
            line.withUnsafeBytes { raw in
                if let base = raw.baseAddress { memcpy(p, base, line.count) }
            }
            p[line.count] = 0
            pointers[i] = p
        }
        pointers[lines.count] = nil
    }
    deinit {
        for i in 0..<count { free(pointers[i]) }
        pointers.deallocate()
    }
}
