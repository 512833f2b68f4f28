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
    private var connections: [ObjectIdentifier: AnyObject] = [:]
    public private(set) var shuttingDown = false
    /// Called when the last child is gone during shutdown.
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
        if shuttingDown && children.isEmpty { onIdleAfterShutdown?() }
    }

    func adopt(_ connection: AnyObject) { connections[ObjectIdentifier(connection)] = connection }
    func release(_ connection: AnyObject) { connections[ObjectIdentifier(connection)] = nil }
    public var openConnections: Int { connections.count }

    /// Stops new spawns and sends TERM to every child (KILL after `grace` seconds).
    func beginShutdown(grace: Double) {
        shuttingDown = true
        for child in children.values { child.terminate(grace: grace) }
        if children.isEmpty { onIdleAfterShutdown?() }
    }
}
