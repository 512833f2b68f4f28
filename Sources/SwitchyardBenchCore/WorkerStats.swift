/// What one event-loop thread counted. Owned by that loop's thread; merged after the threads end.
public struct WorkerStats {
    /// Round-trip latency (pingpong, pipeline, hold) or whole upgrade cycle time (upgrades), µs.
    public var latency = LatencyHistogram()
    /// Echoes received intact or not, while measuring.
    public var messages: UInt64 = 0
    /// Echoed payload bytes received while measuring.
    public var bytes: UInt64 = 0
    /// Completed cycles while measuring (upgrades and handshakes modes).
    public var upgrades: UInt64 = 0
    /// Cycles whose TLS handshake resumed a saved session, while measuring (handshakes mode).
    public var resumed: UInt64 = 0
    /// Failures over the whole run: connect, handshake, protocol, unexpected close, timeouts.
    public var errors: UInt64 = 0
    /// Echoes that differed from what was sent (content, length or opcode), over the whole run.
    public var mismatches: UInt64 = 0
    /// Connections whose handshake succeeded / failed, over the whole run (warm-up included).
    public var connectionsOK: UInt64 = 0
    public var connectionsFailed: UInt64 = 0
    /// Open (upgraded) connections: now and the most at any one time.
    public var openNow = 0
    public var maxOpen = 0

    public init() {}

    /// Forgets what was measured during the warm-up; error and connection counts are kept.
    public mutating func resetMeasurement() {
        latency.reset()
        messages = 0
        bytes = 0
        upgrades = 0
        resumed = 0
    }

    public mutating func add(_ other: WorkerStats) {
        latency.add(other.latency)
        messages &+= other.messages
        bytes &+= other.bytes
        upgrades &+= other.upgrades
        resumed &+= other.resumed
        errors &+= other.errors
        mismatches &+= other.mismatches
        connectionsOK &+= other.connectionsOK
        connectionsFailed &+= other.connectionsFailed
        openNow += other.openNow
        maxOpen += other.maxOpen   // per-thread peaks summed: an upper bound of the global peak
    }
}
