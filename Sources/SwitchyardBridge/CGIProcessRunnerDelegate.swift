import SwitchyardOS

/// What a `CGIProcessRunner` reports to the connection that owns the request. All calls happen
/// on the loop thread; the runner tolerates the delegate releasing or aborting it from any of them.
protocol CGIProcessRunnerDelegate: AnyObject {
    /// Bytes the CGI wrote to stdout (valid only during the call: copy them).
    func cgiStdout(_ runner: CGIProcessRunner, _ bytes: UnsafeRawBufferPointer)
    /// The stdin queue fell below its bound again (or stdin was closed): read the front end again.
    func cgiStdinDrained(_ runner: CGIProcessRunner)
    /// stdout reached EOF (the response is complete; the process may still be running).
    func cgiStdoutClosed(_ runner: CGIProcessRunner)
    /// stdout reached EOF and the process has been reaped.
    func cgiFinished(_ runner: CGIProcessRunner, status: ExitStatus)
}

extension ExitStatus {
    /// FastCGI's `appStatus`: the exit code, or 128 + signal number as a shell reports it.
    var appStatus: UInt32 {
        switch self {
        case .exited(let c): return UInt32(bitPattern: c)
        case .signaled(let s): return UInt32(128 + s)
        }
    }
}
