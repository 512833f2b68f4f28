import Glibc
import SwitchyardOS

/// Runs programs for `compare`: the load generator and wrk to completion with their output in
/// files, and the servers in the background. posix_spawn through SwitchyardOS (no Foundation).
enum Subprocess {
    struct Output {
        var status: Int32          // exit code; 128 + signal when killed
        var stdout: String
        var stderr: String
        var timedOut: Bool
    }

    static let environment = ["PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "LANG=C"]

    /// Starts `arguments[0]` with stdout/stderr appended to `log` (or /dev/null); returns the pid.
    static func start(_ arguments: [String], log: String?, workingDirectory: String? = nil) throws -> pid_t {
        let out = open(log ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        let devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)
        defer { close(out); close(devnull) }
        // In our process group: Ctrl-C reaches the servers too, and they stop their backends.
        return try ChildProcess.spawnRaw(SpawnRequest(path: arguments[0], arguments: arguments, environment: environment,
                                                      stdin: devnull, stdout: out, stderr: out,
                                                      workingDirectory: workingDirectory, newProcessGroup: false))
    }

    /// Runs to completion (killed after `timeout` seconds) and returns what it printed.
    /// `scratch` is a private directory for the output files; nil discards the output.
    static func run(_ arguments: [String], timeout: Double, scratch: String?) throws -> Output {
        let outPath = scratch.map { $0 + "/run.out" } ?? "/dev/null", errPath = scratch.map { $0 + "/run.err" } ?? "/dev/null"
        let out = open(outPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        let err = open(errPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        let devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)
        let pid: pid_t
        do {
            defer { close(out); close(err); close(devnull) }
            pid = try ChildProcess.spawnRaw(SpawnRequest(path: arguments[0], arguments: arguments, environment: environment,
                                                         stdin: devnull, stdout: out, stderr: err, newProcessGroup: false))
        }
        let deadline = EventLoop.monotonicNanoseconds() + UInt64(timeout * 1e9)
        var timedOut = false
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { break }
            if r < 0 && errno != EINTR { break }
            if !timedOut && EventLoop.monotonicNanoseconds() > deadline {
                timedOut = true
                kill(pid, SIGKILL)
            }
            usleep(20_000)
        }
        let code: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        guard scratch != nil else { return Output(status: code, stdout: "", stderr: "", timedOut: timedOut) }
        return Output(status: code, stdout: ServerProbe.read(outPath) ?? "", stderr: ServerProbe.read(errPath) ?? "", timedOut: timedOut)
    }

    /// Child processes of `pid`, recursively (from /proc/*/stat), so leftovers can be killed.
    static func descendants(of pid: pid_t) -> [pid_t] {
        guard let dir = opendir("/proc") else { return [] }
        defer { closedir(dir) }
        var parent: [pid_t: pid_t] = [:]
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            guard let child = pid_t(name), let stat = ServerProbe.read("/proc/\(name)/stat"),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, let ppid = pid_t(fields[1]) { parent[child] = ppid }
        }
        var result: [pid_t] = []
        var frontier = [pid]
        while let p = frontier.popLast() {
            for (c, pp) in parent where pp == p {
                result.append(c)
                frontier.append(c)
            }
        }
        return result
    }
}
