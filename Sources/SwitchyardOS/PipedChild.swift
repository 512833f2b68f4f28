import Glibc

/// A program started with pipes on its standard input and output (and, if asked, standard error):
/// how CGI programs are run, by mod_cgi and by the scgi-cgi / fcgi-cgi bridges alike. The child's
/// ends block (CGI programs such as the seed ws_echo.py give up on EAGAIN); ours are non-blocking
/// and close-on-exec. Either everything is returned or nothing is left open.
public struct PipedChild {
    public let process: ChildProcess
    /// Our end of the child's standard input.
    public let stdinWrite: Int32
    /// Our end of the child's standard output.
    public let stdoutRead: Int32
    /// Our end of the child's standard error; -1 when it was inherited.
    public let stderrRead: Int32

    /// Spawns `path` (in its own process group, see `ChildProcess`). `stderr`: `nil` makes a pipe
    /// for it, a descriptor is inherited as it is. `onExit` may be replaced with `setOnExit` later.
    /// `environment`: "NAME=value" entries as bytes (header values may carry any byte).
    public static func spawn(path: String, arguments: [String], environment: [[UInt8]], workingDirectory: String,
                             pipeSize: Int32, stderr inherited: Int32?, on loop: EventLoop,
                             onExit: @escaping (ExitStatus) -> Void) throws -> PipedChild {
        var opened: [Int32] = []
        func pipe(_ size: Int32) throws -> (read: Int32, write: Int32) {
            let p = try Pipe.make(size: size)
            opened += [p.read, p.write]
            return p
        }
        do {
            let input = try pipe(pipeSize)
            let output = try pipe(pipeSize)
            let errors = inherited == nil ? try pipe(0) : nil
            Socket.setNonBlocking(input.read, false)
            Socket.setNonBlocking(output.write, false)
            if let errors { Socket.setNonBlocking(errors.write, false) }
            let request = SpawnRequest(path: path, arguments: arguments, environmentBytes: environment,
                                       stdin: input.read, stdout: output.write, stderr: errors?.write ?? inherited!,
                                       workingDirectory: workingDirectory)
            let process = try ChildProcess.spawn(request, on: loop, onExit: onExit)
            // The child has its copies now; ours of its ends go.
            Syscall.close(input.read)
            Syscall.close(output.write)
            if let errors { Syscall.close(errors.write) }
            return PipedChild(process: process, stdinWrite: input.write, stdoutRead: output.read, stderrRead: errors?.read ?? -1)
        } catch {
            for fd in opened { Syscall.close(fd) }
            throw error
        }
    }

    /// Closes our three ends (when the caller cannot go on after a successful spawn).
    public func closeDescriptors() {
        Syscall.close(stdinWrite)
        Syscall.close(stdoutRead)
        if stderrRead >= 0 { Syscall.close(stderrRead) }
    }
}
