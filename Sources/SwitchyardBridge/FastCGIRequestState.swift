import SwitchyardOS
import SwitchyardGatewayCodecs

/// One request on a FastCGI connection: from BEGIN_REQUEST through PARAMS (collected, decoded
/// once when the empty PARAMS record arrives, since pairs may straddle records) to END_REQUEST.
/// The runner exists from BEGIN_REQUEST so STDIN that arrives before the process is up is queued.
/// It forwards its runner's callbacks to the connection, tagged with the request.
final class FastCGIRequestState: CGIProcessRunnerDelegate {
    let requestId: UInt16
    let keepConnection: Bool
    let runner: CGIProcessRunner
    /// Weak: the CGI's callbacks can outlive the FastCGI connection (the gateway closed it while
    /// the process was still exiting); they then find nil instead of a freed connection.
    private(set) weak var connection: FastCGIBridgeConnection?
    var params: [UInt8] = []
    var paramsComplete = false
    /// The empty STDIN record arrived (CGI stdin closed then).
    var stdinComplete = false
    var started = false

    init(requestId: UInt16, keepConnection: Bool, context: BridgeContext, connection: FastCGIBridgeConnection) {
        self.requestId = requestId
        self.keepConnection = keepConnection
        self.connection = connection
        runner = CGIProcessRunner(context: context)
        runner.delegate = self
    }

    func cgiStdout(_ runner: CGIProcessRunner, _ bytes: UnsafeRawBufferPointer) {
        connection?.requestStdout(self, bytes)
    }

    func cgiStdinDrained(_ runner: CGIProcessRunner) {
        connection?.requestStdinDrained(self)
    }

    func cgiStdoutClosed(_ runner: CGIProcessRunner) {}

    func cgiFinished(_ runner: CGIProcessRunner, status: ExitStatus) {
        connection?.requestFinished(self, appStatus: status.appStatus)
    }
}
