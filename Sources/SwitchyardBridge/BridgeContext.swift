import Glibc
import SwitchyardOS

/// Process-wide state shared by every connection of one bridge: the loop, the options, the live
/// CGI children (counted against `--max-children`, and terminated on shutdown) and the open
/// connections (owned here, because the loop only keeps their sockets alive while registered).
public final class BridgeContext {
    public let loop: EventLoop
    public let options: BridgeOptions
    public let log: BridgeLog
    public let proto: BridgeProtocol
    /// PATH handed to a CGI whose request carries none (the bridge's own PATH).
    public let fallbackPath: String

    private var children: [pid_t: ChildProcess] = [:]
    private var connections: [ObjectIdentifier: BridgeConnection] = [:]
    public private(set) var shuttingDown = false
    /// Called during shutdown once the last child is reaped and the last connection closed.
    var onIdleAfterShutdown: (() -> Void)?

    public init(loop: EventLoop, options: BridgeOptions, proto: BridgeProtocol) {
        self.loop = loop
        self.options = options
        self.proto = proto
        self.log = BridgeLog(program: proto.programName)
        if let p = getenv("PATH") { fallbackPath = String(cString: p) } else { fallbackPath = "/usr/local/bin:/usr/bin:/bin" }
    }

    public var liveChildren: Int { children.count }
    /// False once `--max-children` processes are running (or while shutting down).
    public var canSpawn: Bool { !shuttingDown && children.count < options.maxChildren }

    func childStarted(_ child: ChildProcess) { children[child.pid] = child }

    func childExited(_ pid: pid_t) {
        children[pid] = nil
        checkIdle()
    }

    func adopt(_ connection: BridgeConnection) { connections[ObjectIdentifier(connection)] = connection }
    func release(_ connection: BridgeConnection) {
        connections[ObjectIdentifier(connection)] = nil
        checkIdle()
    }

    private func checkIdle() {
        if shuttingDown && children.isEmpty && connections.isEmpty { onIdleAfterShutdown?() }
    }
    public var openConnections: Int { connections.count }

    /// Stops new spawns, sends TERM to every child (KILL after `grace` seconds) and lets idle
    /// connections close; busy ones close when their CGI is done and its output is delivered.
    func beginShutdown(grace: Double) {
        shuttingDown = true
        for child in children.values { child.terminate(grace: grace) }
        for connection in Array(connections.values) { connection.beginShutdown() }
        checkIdle()
    }
}

/// A front-end connection as the context sees it.
protocol BridgeConnection: AnyObject {
    /// The bridge is stopping: close now if no request is in progress.
    func beginShutdown()
}
